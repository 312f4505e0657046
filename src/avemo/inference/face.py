"""``FaceEmotionRecognizer``: facial expression of every face in an image, a video or a stream of frames.

>>> from avemo.inference.face import FaceEmotionRecognizer
>>> rec = FaceEmotionRecognizer()                   # the shipped FER2013 model, MediaPipe face front end
>>> rec.predict_file("photo.jpg").faces[0].emotion
>>> result = rec.predict_file("clip.mp4", fps=5)    # per-face clip results + per-frame timeline
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from avemo.errors import AssetNotFoundError, ParameterError
from avemo.features.face.align import align_face
from avemo.features.face.detection import FaceDetection, create_face_detector
from avemo.features.face.tracking import FaceTracker
from avemo.inference.results import FaceResult, FrameResult, PredictionResult
from avemo.io.image import load_image, validate_image
from avemo.io.video import VideoInfo, iter_video_frames, probe_video
from avemo.systems.face import FaceSystem, is_face_system

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
DEFAULT_FACE_MODEL = "face-fer2013"
#: Frames per second analysed in videos unless asked otherwise.
DEFAULT_VIDEO_FPS = 5.0
#: Largest side (pixels) of an image treated as a ready face crop when no face is detected in it.
MAX_CROP_SIDE = 128
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


def resolve_face_model(name_or_path: str | os.PathLike | None) -> Path:
    """A shipped face model name (``face-fer2013``) or a folder written by ``avemo train face-…``.

    Raises:
        AssetNotFoundError: when neither exists.
    """
    candidate = Path(name_or_path or DEFAULT_FACE_MODEL)
    for path in (candidate, PRETRAINED_DIR / candidate):
        if is_face_system(path):
            return path
    shipped = sorted(p.name for p in PRETRAINED_DIR.glob("*") if is_face_system(p))
    raise AssetNotFoundError(f"face model {str(candidate)!r} not found; give a folder written by `avemo train "
                             f"face-cnn` or a shipped model: {shipped}")


def is_face_crop(rgb: np.ndarray) -> bool:
    """True for small, nearly square images (at most ``MAX_CROP_SIDE`` pixels a side) that are taken to be face
    crops already (FER2013's 48x48 images) when the detector finds no face in them."""
    h, w = rgb.shape[:2]
    return max(h, w) <= MAX_CROP_SIDE and 0.8 <= w / h <= 1.25


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


class FaceEmotionRecognizer:
    """Face front end (detection, landmarks, alignment, tracking) + a trained face system.

    Args:
        face_model: shipped model name or a folder from ``avemo train`` (default: the shipped FER2013 model).
        detector: ``"auto"`` (MediaPipe, else OpenCV Haar), ``"mediapipe"`` or ``"opencv-haar"``.
        max_faces: most faces analysed per image or frame.
        tta: test-time augmentation of images (default: the model's own setting, e.g. the centre crop zoomed
            in and out, each mirrored).
        video_tta: test-time augmentation of video frames (default ``"none"``: the centre crop only, for live
            speed; the clip result pools many frames anyway; ``"flip"`` adds the mirror image at twice the
            classifier time).

    Raises:
        AssetNotFoundError, CheckpointError: when the model or the face detector cannot be loaded.
    """

    def __init__(self, face_model: str | os.PathLike | None = None, detector: str = "auto", max_faces: int = 4,
                 tta: bool | str | None = None, video_tta: bool | str | None = "none") -> None:
        if max_faces < 1:
            raise ParameterError(f"max_faces must be >= 1, got {max_faces}")
        self.model_path = resolve_face_model(face_model)
        self.system = FaceSystem.load(self.model_path)
        self.detector_name, self.max_faces, self.tta, self.video_tta = detector, max_faces, tta, video_tta
        self._image_detector = None

    @property
    def classes(self) -> tuple[str, ...]:
        return self.system.classes

    def close(self) -> None:
        if self._image_detector is not None:
            self._image_detector.close()
            self._image_detector = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- images ------------------------------------------------------------------------------------------

    def predict_file(self, path: str | os.PathLike, fps: float | None = None) -> PredictionResult:
        """Faces of an image file, or of a video file's frames (sampled at ``fps``, default 5).

        Raises:
            MediaDecodeError: for a missing, empty, corrupt or unsupported file, or a video without frames.
        """
        if is_image_path(path):
            return self.predict_image(load_image(path), path=str(path))
        return self.predict_video(path, fps=fps)

    def predict_image(self, image: np.ndarray, path: str | None = None) -> PredictionResult:
        """Faces of one RGB (or gray / RGBA) image array; no face gives status ``"no_face"``."""
        rgb = validate_image(image, name=path or "image")
        if self._image_detector is None:
            self._image_detector = create_face_detector(self.detector_name, max_faces=self.max_faces)
        analysis = self._image_detector.process_image(rgb)
        faces = self._classify(rgb, analysis.faces)
        if not faces and is_face_crop(rgb):
            faces = [self._classify_crop(rgb)]
        return self._result(path, faces, [], 0.0, analysis.reason)

    # ---- videos and frame streams ------------------------------------------------------------------------

    def predict_video(self, path: str | os.PathLike, fps: float | None = None,
                      info: VideoInfo | None = None) -> PredictionResult:
        """Faces of a video, followed across frames: one pooled result per face plus the per-frame timeline.
        ``info`` is the file's :func:`probe_video` result when the caller has it already.

        Raises:
            MediaDecodeError: for a missing or corrupt file, or a file without a video stream.
        """
        info = info or probe_video(path)
        frames = ((f.time, f.image) for f in iter_video_frames(path, fps=fps or DEFAULT_VIDEO_FPS))
        result = self.predict_frames(frames, path=str(path))
        result.duration = info.duration or result.duration
        return result

    def predict_frames(self, frames: Iterable[tuple[float, np.ndarray]], path: str | None = None) -> PredictionResult:
        """Faces of a sequence of ``(time in seconds, RGB image)`` frames with increasing times."""
        tracker = FaceTracker()
        timeline: list[FrameResult] = []
        last_time = 0.0
        with create_face_detector(self.detector_name, max_faces=self.max_faces, running_mode="video") as detector:
            for time_s, image in frames:
                rgb = validate_image(image, name=path or "frame")
                faces = tracker.update(detector.process_frame(rgb, float(time_s)).faces)
                timeline.append(FrameResult(float(time_s), self._classify(rgb, faces, self.video_tta)))
                last_time = float(time_s)
        tracks: dict[int, list[tuple[float, FaceResult]]] = {}
        for frame in timeline:
            for face in frame.faces:
                tracks.setdefault(face.track_id if face.track_id is not None else -1, []).append((frame.time, face))
        pooled = []
        for track_id, seen in tracks.items():
            probs = np.mean([[f.probabilities[c] for c in self.classes] for _, f in seen], axis=0)
            pooled.append(FaceResult(seen[-1][1].box, self._as_dict(probs), track_id, len(seen), seen[0][0],
                                     seen[-1][0]))
        pooled.sort(key=lambda f: (-f.frames, -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))
        reason = None if pooled else ("no frames decoded" if not timeline else "no face found in any frame")
        return self._result(path, pooled, timeline, last_time, reason)

    # ---- internals ---------------------------------------------------------------------------------------

    def _classify(self, rgb: np.ndarray, faces: list[FaceDetection], tta: bool | str | None = None) -> list[FaceResult]:
        if not faces:
            return []
        side = self.system.spec.side
        crops = np.stack([align_face(rgb, f, size=side, grayscale=True) for f in faces])
        probs = self.system.predict_proba(crops, tta=self.tta if tta is None else tta)
        out = [FaceResult(tuple(float(v) for v in f.box), self._as_dict(p), f.track_id) for f, p in zip(faces, probs)]
        out.sort(key=lambda r: -(r.box[2] - r.box[0]) * (r.box[3] - r.box[1]))
        return out

    def _classify_crop(self, rgb: np.ndarray) -> FaceResult:
        """The whole image as one face (for small square face crops such as FER2013's, where the detector
        cannot see a face that fills the frame)."""
        import cv2

        side = self.system.spec.side
        gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (side, side), interpolation=cv2.INTER_AREA)
        probs = self.system.predict_proba(gray[None], tta=self.tta)[0]
        return FaceResult((0.0, 0.0, float(rgb.shape[1]), float(rgb.shape[0])), self._as_dict(probs))

    def _result(self, path: str | None, faces: list[FaceResult], frames: list[FrameResult], duration: float,
                reason: str | None) -> PredictionResult:
        if not faces:
            return PredictionResult(path, None, {}, duration, status="no_face", message=reason or "no face found",
                                    modality="face", frames=frames)
        main = faces[0]
        return PredictionResult(path, main.emotion, dict(main.probabilities), duration, modality="face",
                                faces=faces, box=main.box, frames=frames)

    def _as_dict(self, probs: np.ndarray) -> dict[str, float]:
        return {c: float(p) for c, p in zip(self.classes, probs)}
