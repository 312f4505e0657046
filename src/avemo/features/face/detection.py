"""Face detection with landmarks, blendshapes and head pose (MediaPipe); the OpenCV Haar fallback is in
:mod:`avemo.features.face.haar`.

Both detectors share one API, after MediaPipe's running modes: ``process_image(rgb)`` for unrelated
images, ``process_frame(rgb, time_s)`` for the frames of one video (increasing timestamps). Both return a
:class:`FaceAnalysis`; "no face" is an empty result with a ``reason``, never an exception. All coordinates
are pixels of the image passed in, ``x`` to the right and ``y`` down.

Small images (face crops such as FER2013's 48x48) are padded with a black border of half their short side
and upscaled before detection, because MediaPipe's detector misses faces that fill the whole frame
(FER2013 training sample of 200: 83% found as is, 95% padded); results are mapped back to input pixels.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import math
import numbers
import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.errors import AssetNotFoundError, NoFaceError, ParameterError
from avemo.io.image import MIN_IMAGE_SIDE, validate_image
from avemo.io.native_logs import native_logs_quieted

log = logging.getLogger(__name__)

#: Images whose short side is below this (pixels) are padded and upscaled before detection.
SMALL_IMAGE_SIDE = 192
#: Black border added around small images, as a fraction of their short side (measured best on FER2013).
SMALL_IMAGE_PAD = 0.5

#: MediaPipe face-mesh contour of the person's right eye (on the image's left for an upright, unmirrored face).
RIGHT_EYE_CONTOUR = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
#: MediaPipe face-mesh contour of the person's left eye.
LEFT_EYE_CONTOUR = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)
#: Number of MediaPipe face-mesh landmarks (468 mesh points + 2 x 5 iris points).
N_LANDMARKS = 478


DETECTORS = ("mediapipe", "opencv-haar", "auto")


@dataclass
class FaceDetection:
    """One face found in an image.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in pixels of the input image, clipped to it. For MediaPipe the extent of
            the landmarks (brow to chin, ear to ear), for Haar the detector's square.
        score: detection confidence in [0, 1]. MediaPipe's FaceLandmarker reports none, so its faces carry
            1.0 (they passed ``min_confidence``); Haar's is a squashed cascade weight, not a probability.
        landmarks: ``(478, 3)`` float32 face-mesh points in pixels (``z`` is depth relative to the head
            centre, scaled like ``x``, smaller = closer to the camera), or ``None`` (Haar).
        eyes: ``((x, y) of the person's right eye, (x, y) of the person's left eye)`` in pixels; for an
            upright, unmirrored face the first is on the image's left.
        blendshapes: MediaPipe's 52 blendshape scores in [0, 1] by name (``_neutral``, ``browDownLeft``...),
            or ``None`` (Haar).
        head_pose: ``{"yaw", "pitch", "roll"}`` in degrees from MediaPipe's facial transformation matrix, or
            ``None`` (Haar). ``roll`` > 0: head tilted counter-clockwise in the image; ``yaw`` > 0: face
            turned towards the image's right; ``pitch`` > 0: looking up.
        track_id: stable id across video frames (set by :class:`~avemo.features.face.tracking.FaceTracker`).
        detector: ``"mediapipe"`` or ``"opencv-haar"``.
    """

    box: tuple[float, float, float, float]
    score: float
    eyes: tuple[tuple[float, float], tuple[float, float]]
    landmarks: np.ndarray | None = None
    blendshapes: dict[str, float] | None = None
    head_pose: dict[str, float] | None = None
    track_id: int | None = None
    detector: str = "mediapipe"

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]

    @property
    def eye_distance(self) -> float:
        """Distance between the eye centres in pixels."""
        (lx, ly), (rx, ry) = self.eyes
        return math.hypot(rx - lx, ry - ly)

    @property
    def eye_angle(self) -> float:
        """Angle of the eye line in degrees (0 = level; > 0 = the second eye lower in the image)."""
        (lx, ly), (rx, ry) = self.eyes
        return math.degrees(math.atan2(ry - ly, rx - lx))

    def to_dict(self, landmarks: bool = False) -> dict:
        """JSON-able summary: box/eyes rounded to 0.01 px, scores to 4 digits; landmarks only on request."""
        out = {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "eyes": [[round(float(v), 2) for v in eye] for eye in self.eyes],
            "blendshapes": None if self.blendshapes is None else
            {k: round(float(v), 4) for k, v in self.blendshapes.items()},
            "head_pose": None if self.head_pose is None else
            {k: round(float(v), 2) for k, v in self.head_pose.items()},
            "track_id": self.track_id,
            "detector": self.detector,
        }
        if landmarks and self.landmarks is not None:
            out["landmarks"] = np.round(self.landmarks, 2).tolist()
        return out


@dataclass
class FaceAnalysis:
    """Every face found in one image or frame.

    Attributes:
        faces: the faces, largest first.
        image_size: ``(width, height)`` of the input image in pixels.
        reason: why ``faces`` is empty (``"no face found"``), else ``None``.
        time: the frame's time in seconds (video mode), else ``None``.
    """

    faces: list[FaceDetection]
    image_size: tuple[int, int]
    reason: str | None = None
    time: float | None = None

    def __bool__(self) -> bool:
        return bool(self.faces)

    def largest_face(self) -> FaceDetection:
        """The face with the largest box.

        Raises:
            NoFaceError: when no face was found.
        """
        if not self.faces:
            w, h = self.image_size
            raise NoFaceError(f"no face found in the {w}x{h} image; give an image with a visible, roughly frontal "
                              f"face at least {MIN_IMAGE_SIDE} px tall")
        return max(self.faces, key=lambda f: f.width * f.height)

    def to_dict(self, landmarks: bool = False) -> dict:
        """JSON-able form (see :meth:`FaceDetection.to_dict`)."""
        return {"faces": [f.to_dict(landmarks=landmarks) for f in self.faces], "image_size": list(self.image_size),
                "reason": self.reason, "time": self.time}


class _Detector:
    """Shared running-mode handling, small-image preparation and context-manager plumbing."""

    name = ""

    def __init__(self, running_mode: str) -> None:
        if running_mode not in ("image", "video"):
            raise ParameterError(f"running_mode must be 'image' or 'video', got {running_mode!r}")
        self.running_mode = running_mode
        self._last_ms: int | None = None
        self._offset_ms = 0
        self._lock = threading.Lock()

    def new_stream(self) -> None:
        """Start a new video or stream in video mode: its frame times may start again from 0 (the detector's
        own clock continues past the previous stream, as MediaPipe requires)."""
        with self._lock:
            if self._last_ms is not None:
                self._offset_ms = self._last_ms + 1000
                self._last_ms = None

    def process_image(self, image: np.ndarray) -> FaceAnalysis:
        """Find the faces in one image (``running_mode="image"``).

        Args:
            image: ``(H, W, 3)`` RGB (or anything :func:`avemo.io.image.validate_image` accepts).

        Raises:
            ParameterError: for a detector in video mode, or an invalid image.
        """
        if self.running_mode != "image":
            raise ParameterError(f"{type(self).__name__} was created with running_mode='video'; call "
                                 "process_frame(image, time_s) or create it with running_mode='image'")
        rgb = validate_image(image, min_side=MIN_IMAGE_SIDE)
        with self._lock:
            return self._analyse(rgb, None, None)

    def process_frame(self, image: np.ndarray, time_s: float) -> FaceAnalysis:
        """Find the faces in one video frame (``running_mode="video"``); faces are followed between frames.

        Args:
            image: ``(H, W, 3)`` RGB frame.
            time_s: the frame's time in seconds; must increase (by at least 1 ms) from call to call.

        Raises:
            ParameterError: for a detector in image mode, a time that does not increase, or an invalid image.
        """
        if self.running_mode != "video":
            raise ParameterError(f"{type(self).__name__} was created with running_mode='image'; call "
                                 "process_image(image) or create it with running_mode='video'")
        if not isinstance(time_s, numbers.Real) or isinstance(time_s, bool) or not math.isfinite(time_s):
            raise ParameterError(f"time_s must be a finite number of seconds, got {time_s!r}")
        rgb = validate_image(image, min_side=MIN_IMAGE_SIDE)
        with self._lock:
            ms = int(round(float(time_s) * 1000)) + self._offset_ms
            if self._last_ms is not None and ms <= self._last_ms:
                raise ParameterError(f"frame time {time_s:.3f} s is not after the previous frame's "
                                     f"{(self._last_ms - self._offset_ms) / 1000:.3f} s; times must increase by at "
                                     "least 1 ms (call new_stream() before the frames of a new video)")
            self._last_ms = ms
            return self._analyse(rgb, float(time_s), ms)

    def _analyse(self, rgb: np.ndarray, time_s: float | None, clock_ms: int | None) -> FaceAnalysis:
        """The faces of ``rgb``; ``time_s`` is the frame's time (video mode) and ``clock_ms`` the detector's own
        monotonic clock in milliseconds for it."""
        raise NotImplementedError

    def close(self) -> None:
        """Free the detector's resources (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(running_mode={self.running_mode!r})"


def _prepare_small(rgb: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Pad and upscale an image with a short side below :data:`SMALL_IMAGE_SIDE`.

    Returns:
        The image to detect on, its scale (detection pixels per input pixel) and the padding (input pixels
        added on each side): ``x_input = x_detect / scale - pad``.
    """
    import cv2

    h, w = rgb.shape[:2]
    if min(h, w) >= SMALL_IMAGE_SIDE:
        return rgb, 1.0, 0
    pad = int(round(SMALL_IMAGE_PAD * min(h, w)))
    padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    scale = max(1.0, SMALL_IMAGE_SIDE / min(padded.shape[:2]))
    if scale > 1.0:
        size = (int(round(padded.shape[1] * scale)), int(round(padded.shape[0] * scale)))
        padded = cv2.resize(padded, size, interpolation=cv2.INTER_CUBIC)
        scale = padded.shape[1] / (w + 2 * pad)
    return np.ascontiguousarray(padded), scale, pad


def _clip_box(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> tuple[float, float, float, float]:
    return (float(min(max(x0, 0.0), w)), float(min(max(y0, 0.0), h)),
            float(min(max(x1, 0.0), w)), float(min(max(y1, 0.0), h)))


def head_pose_from_matrix(matrix: np.ndarray) -> dict[str, float]:
    """Yaw, pitch, roll in degrees from MediaPipe's 4x4 facial transformation matrix.

    The rotation is decomposed as ``R = Rz(roll) Ry(yaw) Rx(pitch)`` in MediaPipe's metric camera frame, with
    signs such that roll > 0 is a counter-clockwise tilt in the image (rotating a RAVDESS still by +15 deg
    changes roll by +15.0), yaw > 0 a face turned towards the image's right (the person's left in an
    unmirrored image), and pitch > 0 looking up. Checked on 189 FER2013 faces: yaw correlates +0.67 with
    the nose tip's rightward offset from the eye midpoint, pitch -0.63 with its downward offset.
    """
    r = np.asarray(matrix, dtype=np.float64)[:3, :3]
    pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    yaw = math.degrees(math.asin(float(np.clip(-r[2, 0], -1.0, 1.0))))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return {"yaw": yaw * _YAW_SIGN, "pitch": pitch * _PITCH_SIGN, "roll": roll}


# Signs turning the raw Euler angles into the documented convention (see head_pose_from_matrix).
_YAW_SIGN = 1.0
_PITCH_SIGN = -1.0


def _close_quietly(landmarker) -> None:
    """Close a MediaPipe landmarker, ignoring errors of a closing interpreter."""
    try:
        landmarker.close()
    except Exception:
        pass


#: Landmarkers of detectors the garbage collector freed, closed at the next safe point (:func:`close_dropped`).
_DROPPED: list = []
_DROPPED_LOCK = threading.Lock()
_EXITING = False


def _drop(landmarker) -> None:
    """``weakref.finalize`` callback of a freed detector: queue its landmarker for :func:`close_dropped`.

    It must not close it here: the garbage collector can run inside a MediaPipe call (e.g. while another
    landmarker is created), and a close from there waits forever for MediaPipe's one-thread dispatcher, busy with
    that very call. Appending to a list is safe anywhere. At exit (no MediaPipe call is running) it closes at once."""
    if _EXITING:
        _close_quietly(landmarker)
    else:
        _DROPPED.append(landmarker)


def close_dropped() -> int:
    """Close the landmarkers of freed detectors (:func:`_drop`); returns how many. Runs when a detector is created
    or closed, and at exit."""
    with _DROPPED_LOCK:
        pending = _DROPPED[:]
        del _DROPPED[:len(pending)]
    for landmarker in pending:
        _close_quietly(landmarker)
    return len(pending)


def _close_at_exit() -> None:
    """At exit: close what is queued, and from now on close freed detectors at once (weakref's exit hook, which
    finalizes the detectors still alive, may run before or after this one). MediaPipe's ``__del__`` raises during
    interpreter teardown unless ``close()`` ran before it."""
    global _EXITING
    _EXITING = True
    close_dropped()


atexit.register(_close_at_exit)


class FaceLandmarkerDetector(_Detector):
    """MediaPipe FaceLandmarker: boxes, 478 landmarks, 52 blendshapes and head pose (~10 ms per frame).

    Args:
        max_faces: the most faces reported per image.
        min_confidence: minimum face detection / presence confidence in [0, 1].
        running_mode: ``"image"`` (independent images, :meth:`process_image`) or ``"video"`` (frames of one
            video with increasing times, :meth:`process_frame`; faces are tracked between frames, faster).
        model_path: a ``face_landmarker.task`` file; ``None`` finds the official one with
            :func:`~avemo.features.face.assets.resolve_face_landmarker`.

    Raises:
        ParameterError: for invalid arguments.
        AssetNotFoundError: when mediapipe cannot be imported or the model cannot be found or loaded.
    """

    name = "mediapipe"

    def __init__(self, max_faces: int = 4, min_confidence: float = 0.5, running_mode: str = "image",
                 model_path: str | os.PathLike | None = None) -> None:
        super().__init__(running_mode)
        if not isinstance(max_faces, (int, np.integer)) or isinstance(max_faces, bool) or max_faces < 1:
            raise ParameterError(f"max_faces must be a positive integer, got {max_faces!r}")
        if not isinstance(min_confidence, numbers.Real) or not 0.0 <= float(min_confidence) <= 1.0:
            raise ParameterError(f"min_confidence must lie in [0, 1], got {min_confidence!r}")
        self.max_faces = int(max_faces)
        self.min_confidence = float(min_confidence)
        if model_path is None:
            from avemo.features.face.assets import resolve_face_landmarker

            model_path = resolve_face_landmarker()
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise AssetNotFoundError(f"{self.model_path}: face landmarker model not found; give the path of a "
                                     "face_landmarker.task file or leave model_path=None")
        close_dropped()
        with native_logs_quieted():  # MediaPipe's C++ logs a few lines to stderr while the model loads
            self._landmarker = self._create_landmarker(running_mode)
        # Runs once: when the detector is freed or at exit (the landmarker is then queued for close_dropped), or
        # through close().
        self._closer = weakref.finalize(self, _drop, self._landmarker)

    def _create_landmarker(self, running_mode: str):
        """MediaPipe's FaceLandmarker with this detector's settings, for ``running_mode`` ``"image"`` or ``"video"``."""
        mp, vision, base_options = _import_mediapipe()
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=base_options(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO if running_mode == "video" else vision.RunningMode.IMAGE,
            num_faces=self.max_faces,
            min_face_detection_confidence=self.min_confidence,
            min_face_presence_confidence=self.min_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True)
        try:
            return vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError, OSError) as exc:
            raise AssetNotFoundError(f"{self.model_path}: MediaPipe could not load the face landmarker "
                                     f"({str(exc)[:160]}); the file is corrupt or not a face_landmarker.task") from None

    def _analyse(self, rgb: np.ndarray, time_s: float | None, clock_ms: int | None) -> FaceAnalysis:
        if self._landmarker is None:
            raise ParameterError("this FaceLandmarkerDetector was closed; create a new one")
        h, w = rgb.shape[:2]
        work, _scale, pad = _prepare_small(rgb)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=work)
        if time_s is None:
            result = self._landmarker.detect(image)
        else:
            result = self._landmarker.detect_for_video(image, clock_ms)
        padded_w, padded_h = w + 2 * pad, h + 2 * pad
        faces = []
        for i, points in enumerate(result.face_landmarks):
            xyz = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32)
            xyz[:, 0] = xyz[:, 0] * padded_w - pad
            xyz[:, 1] = xyz[:, 1] * padded_h - pad
            xyz[:, 2] = xyz[:, 2] * padded_w
            x0, y0 = xyz[:, :2].min(axis=0)
            x1, y1 = xyz[:, :2].max(axis=0)
            right = xyz[list(RIGHT_EYE_CONTOUR), :2].mean(axis=0)
            left = xyz[list(LEFT_EYE_CONTOUR), :2].mean(axis=0)
            blendshapes = None
            if result.face_blendshapes and i < len(result.face_blendshapes):
                blendshapes = {c.category_name: float(c.score) for c in result.face_blendshapes[i]}
            pose = None
            if result.facial_transformation_matrixes and i < len(result.facial_transformation_matrixes):
                pose = head_pose_from_matrix(np.asarray(result.facial_transformation_matrixes[i]))
            faces.append(FaceDetection(
                box=_clip_box(x0, y0, x1, y1, w, h), score=1.0,
                eyes=((float(right[0]), float(right[1])), (float(left[0]), float(left[1]))),
                landmarks=xyz, blendshapes=blendshapes, head_pose=pose, detector=self.name))
        faces.sort(key=lambda f: -f.width * f.height)
        return FaceAnalysis(faces=faces, image_size=(w, h), reason=None if faces else "no face found", time=time_s)

    def close(self) -> None:
        landmarker, self._landmarker = self._landmarker, None
        if self._closer.detach() is not None and landmarker is not None:
            landmarker.close()
        close_dropped()

    def __repr__(self) -> str:
        return (f"FaceLandmarkerDetector(max_faces={self.max_faces}, min_confidence={self.min_confidence}, "
                f"running_mode={self.running_mode!r}, model_path={str(self.model_path)!r})")


def create_face_detector(name: str = "auto", **kwargs) -> _Detector:
    """Build a face detector by name.

    Args:
        name: ``"mediapipe"`` (:class:`FaceLandmarkerDetector`), ``"opencv-haar"`` (:class:`HaarFaceDetector`)
            or ``"auto"`` (MediaPipe, falling back to Haar with a warning when mediapipe or its model is
            unavailable).
        **kwargs: passed to the detector (for the Haar fallback, only those it accepts).

    Raises:
        ParameterError: for an unknown name or invalid arguments.
        AssetNotFoundError: ``"mediapipe"`` only: when mediapipe or its model is unavailable.
    """
    if name == "mediapipe":
        return FaceLandmarkerDetector(**kwargs)
    from avemo.features.face.haar import HaarFaceDetector

    if name == "opencv-haar":
        return HaarFaceDetector(**kwargs)
    if name != "auto":
        raise ParameterError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}")
    try:
        return FaceLandmarkerDetector(**kwargs)
    except AssetNotFoundError as exc:
        log.warning("MediaPipe face landmarker unavailable (%s); falling back to OpenCV Haar cascades", exc)
    accepted = set(inspect.signature(HaarFaceDetector).parameters)
    return HaarFaceDetector(**{k: v for k, v in kwargs.items() if k in accepted})


def _import_mediapipe():
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
    except Exception as exc:  # ImportError, or a broken binary wheel
        raise AssetNotFoundError(f"mediapipe could not be imported ({str(exc)[:120]}); install it with "
                                 "`pip install 'mediapipe>=1.2,<2'` or use detector='opencv-haar'") from None
    return mp, vision, BaseOptions
