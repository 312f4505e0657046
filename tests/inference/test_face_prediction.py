"""Face and audio-visual prediction: images (one face, several, none), videos with and without audio or faces,
the fusion rule, the fallbacks, and the command line. A tiny untrained face model stands in for the shipped one
(these tests check the pipeline, not accuracy); the real face and talking-face clip are the committed CREMA-D
fixtures (tests/fixtures), so every test here runs on a fresh clone; the shipped models run on them too."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from media import write_av

from avemo.cli import main
from avemo.errors import MediaDecodeError, ParameterError
from avemo.inference.results import PREDICTED
from avemo.labels import label_set

FER7 = set(label_set("fer7"))


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("AVEMO_OFFLINE", "1")


@pytest.fixture(scope="module")
def face_model(tmp_path_factory):
    import torch

    from avemo.models import create_model
    from avemo.systems.face import FaceSystem, FaceSystemSpec

    torch.manual_seed(0)
    spec = FaceSystemSpec(name="tiny-face", model_config={"channels": [8, 16], "convs_per_block": 1},
                          augment={"tta": "flip"})
    system = FaceSystem(spec)
    system.model_ = create_model("face_cnn", 1, 7, config=spec.model_config).eval()
    system.info = {"temperature": 1.5}
    return system.save(tmp_path_factory.mktemp("models") / "tiny-face")


@pytest.fixture(scope="module")
def frame(face_frame, face_landmarker) -> np.ndarray:
    """The committed CREMA-D frame (240x180, one face); needs the MediaPipe landmarker (a missing one fails)."""
    from avemo.io.image import load_image

    return load_image(face_frame)


def voice(seconds: float = 2.0) -> np.ndarray:
    from avemo.io.synth import synth_voice

    return synth_voice(seconds, 160.0, 16000, seed=1)


# ---- fusion rule ----------------------------------------------------------------------------------------------

def test_fuse_probabilities_is_a_weighted_geometric_mean():
    from avemo.inference.engine import fuse_distributions

    labels = ("a", "b")
    p = fuse_distributions({"speech": {"a": 0.8, "b": 0.2}, "face": {"a": 0.2, "b": 0.8}},
                           {"speech": 0.5, "face": 0.5}, {}, labels)
    assert p["a"] == pytest.approx(0.5)
    p = fuse_distributions({"speech": {"a": 0.8, "b": 0.2}, "face": {"a": 0.2, "b": 0.8}},
                           {"speech": 0.75, "face": 0.25}, {}, labels)
    assert p["a"] > 0.6
    # a missing modality leaves the other one (after its temperature)
    only = fuse_distributions({"speech": {"a": 0.8, "b": 0.2}, "face": {}}, {"speech": 0.5, "face": 0.5},
                              {"speech": 2.0}, labels)
    assert 0.5 < only["a"] < 0.8
    with pytest.raises(ParameterError):
        fuse_distributions({"speech": {}}, {}, {}, labels)


# ---- images --------------------------------------------------------------------------------------------------

def test_image_with_one_face(face_model, frame):
    from avemo.inference import FaceEmotionRecognizer

    img = frame
    result = FaceEmotionRecognizer(face_model).predict_image(img, path="still.png")
    assert result.status == "ok" and len(result.faces) == 1
    x0, y0, x1, y1 = result.box
    assert 0 <= x0 < x1 <= img.shape[1] and 0 <= y0 < y1 <= img.shape[0]
    d = result.to_dict()
    assert set(d["probabilities"]) == FER7 and abs(sum(d["probabilities"].values()) - 1) < 1e-3
    assert d["modality"] == "face" and len(d["box"]) == 4 and d["valence"] is not None


def test_image_with_two_faces_lists_both_largest_first(face_model, frame):
    import cv2

    from avemo.inference import FaceEmotionRecognizer

    big = cv2.resize(frame, (360, 270), interpolation=cv2.INTER_CUBIC)  # the face ~75 px wide
    a = np.ascontiguousarray(big[:, 90:270])  # the middle half: the face
    b = np.ascontiguousarray(a[:, ::-1])  # and its mirror image, scaled down below
    b = cv2.resize(b, (b.shape[1] * 3 // 4, b.shape[0] * 3 // 4))
    canvas = np.zeros((a.shape[0], a.shape[1] + b.shape[1], 3), np.uint8)
    canvas[:, : a.shape[1]] = a
    canvas[: b.shape[0], a.shape[1]:] = b
    result = FaceEmotionRecognizer(face_model).predict_image(canvas)
    assert len(result.faces) == 2
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in result.faces]
    assert areas[0] > areas[1] and result.box == result.faces[0].box


def test_image_without_a_face(face_model):
    from avemo.inference import FaceEmotionRecognizer

    result = FaceEmotionRecognizer(face_model).predict_image(np.full((120, 160, 3), 128, np.uint8))
    assert result.status == "no_face" and result.emotion is None and result.faces == []
    assert result.to_dict()["faces"] == []


# ---- videos ----------------------------------------------------------------------------------------------------

def test_video_faces_are_tracked_and_pooled(face_model, talking_face, face_landmarker):
    from avemo.inference import FaceEmotionRecognizer

    result = FaceEmotionRecognizer(face_model).predict_video(talking_face, fps=5)
    assert result.status == "ok" and len(result.faces) == 1
    face = result.faces[0]
    assert face.track_id is not None and face.frames == len(result.frames) >= 4
    assert all(fr.faces and fr.faces[0].track_id == face.track_id for fr in result.frames)
    times = [fr.time for fr in result.frames]
    assert times == sorted(times) and times[1] - times[0] == pytest.approx(0.2, abs=0.05)


def test_video_with_audio_is_fused(face_model, tiny_model_dir, talking_face, face_landmarker):
    from avemo.inference import MultimodalRecognizer

    result = MultimodalRecognizer(tiny_model_dir, face_model).predict_file(talking_face)
    assert result.modality == "audio-visual" and result.status == "ok"
    assert set(result.probabilities) == FER7
    assert set(result.modalities) == {"speech", "face"}
    # the speech model may answer with its best guess below its abstention level: a prediction either way
    assert result.modalities["speech"].status in PREDICTED and result.modalities["face"].status == "ok"
    assert result.fusion["used"] == ["face", "speech"] and "note" not in result.fusion
    assert result.fusion["temperatures"]["face"] == 1.5
    assert result.timeline and all(set(s.probabilities) == FER7 for s in result.timeline)
    d = result.to_dict()
    assert set(d["modalities"]["speech"]["probabilities"]) == set(label_set("ravdess8"))


def test_video_without_a_face_falls_back_to_speech(face_model, tiny_model_dir, tmp_path):
    from avemo.inference import MultimodalRecognizer

    blank = [np.full((96, 128, 3), 100, np.uint8)] * 10
    path = write_av(tmp_path / "noface.mp4", blank, fps=10, audio=voice(1.5))
    result = MultimodalRecognizer(tiny_model_dir, face_model).predict_file(path)
    assert result.status == "ok" and result.fusion["used"] == ["speech"]
    assert "speech only" in result.fusion["note"]
    assert result.modalities["face"].status == "no_face"


def test_video_without_audio_falls_back_to_the_face(face_model, tiny_model_dir, tmp_path):
    from avemo.inference import MultimodalRecognizer

    blank = [np.full((96, 128, 3), 100, np.uint8)] * 10
    path = write_av(tmp_path / "silent.mp4", blank, fps=10)
    result = MultimodalRecognizer(tiny_model_dir, face_model).predict_file(path)
    # neither a face nor audio: a result that says so, not an exception
    assert result.status == "no_signal" and "no audio stream" in result.fusion["note"]


def test_audio_file_with_face_modality_is_an_error(face_model, tiny_model_dir, tmp_path):
    import soundfile as sf

    from avemo.inference import MultimodalRecognizer

    sf.write(tmp_path / "a.wav", voice(1.0), 16000)
    with pytest.raises(MediaDecodeError, match="no video stream"):
        MultimodalRecognizer(tiny_model_dir, face_model, modality="face").predict_file(tmp_path / "a.wav")


# ---- command line --------------------------------------------------------------------------------------------

def test_cli_images_json_and_bad_files(face_model, tiny_model_dir, tmp_path, capsys, face_frame, face_landmarker):
    from PIL import Image

    good = tmp_path / "face.jpg"
    shutil.copyfile(face_frame, good)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tiny)
    code = main(["predict", "--format", "json", "--model", str(tiny_model_dir), "--face-model", str(face_model),
                 str(good), str(bad), str(tiny), str(tmp_path / "missing.png")])
    assert code == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["path"] for line in lines] == [str(good), str(bad), str(tiny), str(tmp_path / "missing.png")]
    assert lines[0]["status"] == "ok" and len(lines[0]["box"]) == 4 and set(lines[0]["probabilities"]) == FER7
    assert all("error" in line and "\n" not in line["error"] for line in lines[1:])


def test_small_square_crop_without_detection_is_classified_whole(face_model):
    """FER2013-style crops (48x48) where the detector sees no face are classified as one face."""
    from avemo.inference import FaceEmotionRecognizer

    crop = np.full((48, 48, 3), 128, np.uint8)
    result = FaceEmotionRecognizer(face_model).predict_image(crop)
    assert result.status == "ok" and result.box == (0.0, 0.0, 48.0, 48.0)
    assert set(result.probabilities) == FER7


# ---- the shipped models on the committed fixtures ----------------------------------------------------------------

def test_shipped_face_model_on_the_fixture_frame(face_frame, face_landmarker):
    from avemo.inference import FaceEmotionRecognizer

    with FaceEmotionRecognizer() as recognizer:
        result = recognizer.predict_file(face_frame)
    assert result.status == "ok" and result.modality == "face" and len(result.faces) == 1
    x0, y0, x1, y1 = result.box
    assert 0 <= x0 < x1 <= 240 and 0 <= y0 < y1 <= 180
    assert set(result.probabilities) == FER7 and abs(sum(result.probabilities.values()) - 1) < 1e-3


def test_shipped_face_model_on_the_fixture_clip(talking_face, face_landmarker):
    from avemo.inference import FaceEmotionRecognizer

    result = FaceEmotionRecognizer().predict_file(talking_face)
    assert result.status == "ok" and len(result.faces) == 1 and result.faces[0].frames >= 5
    x0, y0, x1, y1 = result.box
    assert 0 <= x0 < x1 <= 160 and 0 <= y0 < y1 <= 120
    assert result.duration == pytest.approx(1.95, abs=0.1)


def test_shipped_models_on_the_talking_face_clip(talking_face, face_landmarker):
    """A video with audio: speech on the audio track, the face model on the frames, fused over FER's 7 classes."""
    from avemo.inference import MultimodalRecognizer

    result = MultimodalRecognizer().predict_file(str(talking_face))
    assert result.modality == "audio-visual" and result.status == "ok"
    assert set(result.modalities) == {"speech", "face"}
    # the speech model may answer with its best guess below its abstention level: a prediction either way
    assert result.modalities["speech"].status in PREDICTED and result.modalities["face"].status == "ok"
    assert result.fusion["used"] == ["face", "speech"] and set(result.probabilities) == FER7
    assert abs(sum(result.probabilities.values()) - 1) < 1e-3 and result.box


def test_cli_predicts_the_talking_face_clip_as_json(talking_face, face_landmarker, capsys):
    assert main(["predict", str(talking_face), "--format", "json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["path"] == str(talking_face) and line["status"] == "ok" and line["modality"] == "audio-visual"
    assert set(line["probabilities"]) == FER7 and set(line["modalities"]) == {"speech", "face"}
    assert line["modalities"]["speech"]["status"] in PREDICTED and line["modalities"]["face"]["status"] == "ok"
    assert len(line["box"]) == 4 and line["modalities"]["speech"]["probabilities"]
