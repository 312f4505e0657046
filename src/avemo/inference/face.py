"""Facial expression of every face in an image or a stream of frames (a video's, a camera's).

:class:`FaceClassifier` (stateless: a trained face system over aligned crops) is held by the engine and shared by
threads; :class:`FaceStream` holds one video's or stream's state (its detector in video mode and the face
tracker). The face-only Python API is the engine with the face model alone:

>>> from avemo import InferenceEngine, PredictOptions
>>> faces = InferenceEngine(modalities=("face",))   # the shipped FER2013 model, MediaPipe face front end
>>> faces.predict_file("photo.jpg").faces[0].emotion
>>> result = faces.predict_file("clip.mp4", PredictOptions(fps=5))  # per-face clip results + per-frame timeline
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from avemo.errors import ParameterError
from avemo.features.face.align import align_face
from avemo.features.face.detection import FaceDetection
from avemo.features.face.tracking import FaceTracker
from avemo.inference.detectors import DetectorPool
from avemo.inference.predictor import SystemPredictor
from avemo.inference.results import FaceResult, FrameResult, Modality, ModalityResult, Status
from avemo.io.image import validate_image
from avemo.systems.face import FaceSystem

#: Frames per second analysed in videos unless asked otherwise.
DEFAULT_VIDEO_FPS = 5.0
#: Largest side (pixels) of an image treated as a ready face crop when no face is detected in it.
MAX_CROP_SIDE = 128


def is_face_crop(rgb: np.ndarray) -> bool:
    """True for small, nearly square images (at most ``MAX_CROP_SIDE`` pixels a side) that are taken to be face
    crops already (FER2013's 48x48 images) when the detector finds no face in them."""
    h, w = rgb.shape[:2]
    return max(h, w) <= MAX_CROP_SIDE and 0.8 <= w / h <= 1.25


class FaceClassifier(SystemPredictor):
    """A trained face system applied to the faces a detector found; stateless and safe to share by threads.

    Args:
        system: the face system (its network runs on ONNX Runtime unless it was loaded with ``engine="torch"``).
        tta: test-time augmentation of images (``None``: the system's own setting).
        video_tta: test-time augmentation of video frames (``"none"``: the centre crop only, for speed; the clip
            result pools many frames anyway).
    """

    def __init__(self, system: FaceSystem, tta: bool | str | None = None, video_tta: bool | str | None = "none"):
        super().__init__(system)
        self.tta, self.video_tta = tta, video_tta

    @property
    def classes(self) -> tuple[str, ...]:
        """FER2013's seven classes, whatever the network's (:attr:`FaceSystem.served_classes`)."""
        return self.system.served_classes

    def classify(self, rgb: np.ndarray, faces: list[FaceDetection], video: bool = False) -> list[FaceResult]:
        """One result per detected face, largest first."""
        if not faces:
            return []
        side = self.system.spec.side
        crops = np.stack([align_face(rgb, f, size=side, grayscale=True) for f in faces])
        probs = self.system.served_proba(crops, tta=self.video_tta if video else self.tta)
        out = [FaceResult(tuple(float(v) for v in f.box), self._as_dict(p), f.track_id) for f, p in zip(faces, probs)]
        out.sort(key=lambda r: -r.area)
        return out

    def classify_crop(self, rgb: np.ndarray) -> FaceResult:
        """The whole image as one face (for small square face crops such as FER2013's, where the detector
        cannot see a face that fills the frame)."""
        import cv2

        side = self.system.spec.side
        gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (side, side), interpolation=cv2.INTER_AREA)
        probs = self.system.served_proba(gray[None], tta=self.tta)[0]
        return FaceResult((0.0, 0.0, float(rgb.shape[1]), float(rgb.shape[0])), self._as_dict(probs))

    def _as_dict(self, probs: np.ndarray) -> dict[str, float]:
        return {c: float(p) for c, p in zip(self.classes, probs)}


def face_result(path: str | None, faces: list[FaceResult], frames: list[FrameResult], duration: float,
                reason: str | None) -> ModalityResult:
    """The face modality's result from its faces (main face first); none gives status ``no_face``."""
    if not faces:
        return ModalityResult(path, {}, duration, Status.NO_FACE, reason or "no face found", modality=Modality.FACE,
                              frames=frames)
    main = faces[0]
    return ModalityResult(path, dict(main.probabilities), duration, modality=Modality.FACE, faces=faces,
                          box=main.box, frames=frames)


def analyse_image(image: np.ndarray, pool: DetectorPool, classifier: FaceClassifier,
                  path: str | None = None) -> ModalityResult:
    """Faces of one RGB (or gray / RGBA) image array; no face gives status ``no_face``."""
    rgb = validate_image(image, name=path or "image")
    with pool.borrow() as detector:
        analysis = detector.process_image(rgb)
    faces = classifier.classify(rgb, analysis.faces)
    if not faces and is_face_crop(rgb):
        faces = [classifier.classify_crop(rgb)]
    return face_result(path, faces, [], 0.0, analysis.reason)


def pool_frames(frames: list[FrameResult], classes: tuple[str, ...], path: str | None = None,
                duration: float | None = None) -> ModalityResult:
    """The face result of several frames: one result per tracked face (the mean over the frames it was seen in),
    the longest-seen (then largest) face first; ``duration`` defaults to the last frame's time."""
    tracks: dict[int, list[tuple[float, FaceResult]]] = {}
    for frame in frames:
        for face in frame.faces:
            tracks.setdefault(face.track_id if face.track_id is not None else -1, []).append((frame.time, face))
    pooled = []
    for track_id, seen in tracks.items():
        probs = np.mean([[f.probabilities[c] for c in classes] for _, f in seen], axis=0)
        pooled.append(FaceResult(seen[-1][1].box, {c: float(p) for c, p in zip(classes, probs)}, track_id,
                                 len(seen), seen[0][0], seen[-1][0]))
    pooled.sort(key=lambda f: (-f.frames, -f.area))
    reason = None if pooled else ("no frames decoded" if not frames else "no face found in any frame")
    last_time = frames[-1].time if frames else 0.0
    return face_result(path, pooled, list(frames), last_time if duration is None else duration, reason)


class FaceStream:
    """The faces of one video or live stream, frame by frame: a video-mode detector borrowed from ``pool`` for
    the stream's life, a tracker giving faces stable ids, and the per-frame results so far.

    Use as a context manager (or call :meth:`close`) so the detector goes back to its pool.
    """

    def __init__(self, pool: DetectorPool, classifier: FaceClassifier, name: str = "frame") -> None:
        if pool.running_mode != "video":
            raise ParameterError("a FaceStream needs a detector pool in video mode")
        self.classifier, self.name = classifier, name
        self._borrowed = pool.borrow()
        self._detector = self._borrowed.__enter__()
        self.tracker = FaceTracker()
        self.frames: list[FrameResult] = []

    def add_frame(self, time_s: float, image: np.ndarray) -> FrameResult:
        """Detect, track and classify the faces of one frame at ``time_s`` seconds (times must increase)."""
        rgb = validate_image(image, name=self.name)
        faces = self.tracker.update(self._detector.process_frame(rgb, float(time_s)).faces)
        frame = FrameResult(float(time_s), self.classifier.classify(rgb, faces, video=True))
        self.frames.append(frame)
        return frame

    def result(self, path: str | None = None, duration: float | None = None) -> ModalityResult:
        """One pooled result per tracked face (mean over the frames it was seen in) plus the frames."""
        return pool_frames(self.frames, self.classifier.classes, path, duration)

    def close(self) -> None:
        if self._borrowed is not None:
            self._borrowed.__exit__(None, None, None)
            self._borrowed = None

    def __enter__(self) -> "FaceStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def analyse_frames(frames: Iterable[tuple[float, np.ndarray]], pool: DetectorPool, classifier: FaceClassifier,
                   path: str | None = None, duration: float | None = None) -> ModalityResult:
    """Faces of a sequence of ``(time in seconds, RGB image)`` frames with increasing times."""
    with FaceStream(pool, classifier, name=path or "frame") as stream:
        for time_s, image in frames:
            stream.add_frame(time_s, image)
        return stream.result(path, duration)
