"""OpenCV Haar-cascade face detector: the fallback when MediaPipe or its model is unavailable.

Same API and result types as :class:`avemo.features.face.detection.FaceLandmarkerDetector`, without landmarks,
blendshapes or head pose.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from avemo.errors import AssetNotFoundError, ParameterError
from avemo.features.face.detection import FaceAnalysis, FaceDetection, _clip_box, _Detector, _prepare_small

#: Eye centres relative to a Haar face box (x, y as fractions of the box width/height), used when the eye
#: cascade does not find both eyes. Measured against MediaPipe's eye centres on the 24 RAVDESS stills.
HAAR_EYE_X = (0.307, 0.693)
HAAR_EYE_Y = 0.405


class HaarFaceDetector(_Detector):
    """OpenCV's Haar cascade (frontal faces) with eye centres from the eye cascade or the box geometry.

    No landmarks, blendshapes or head pose, misses turned faces, and is slower than MediaPipe (640x480, one
    thread, on a busy 2-core machine: ~43 ms searched at 400 px, ~100 ms at full size). A fallback for when
    MediaPipe or its model is unavailable.

    Args:
        min_size: smallest face side in pixels of the input image (never below the cascade's 24-pixel
            window in the image searched).
        max_faces: the most faces reported per image (largest kept).
        detect_side: larger images are searched downscaled to this long side (about 2.3x faster for
            640x480); ``None`` searches at full size.
        scale_factor, min_neighbors: ``cv2.CascadeClassifier.detectMultiScale`` settings.
        running_mode: ``"image"`` or ``"video"`` (same API as :class:`FaceLandmarkerDetector`; frames are
            processed independently).

    Raises:
        ParameterError: for invalid arguments.
        AssetNotFoundError: when OpenCV's cascade files are missing (``opencv-*`` 5.0 ships none).
    """

    name = "opencv-haar"

    def __init__(self, min_size: int = 24, max_faces: int = 4, scale_factor: float = 1.1, min_neighbors: int = 5,
                 detect_side: int | None = 400, running_mode: str = "image") -> None:
        super().__init__(running_mode)
        if not isinstance(min_size, (int, np.integer)) or min_size < 8:
            raise ParameterError(f"min_size must be an integer of at least 8 pixels, got {min_size!r}")
        if not isinstance(max_faces, (int, np.integer)) or isinstance(max_faces, bool) or max_faces < 1:
            raise ParameterError(f"max_faces must be a positive integer, got {max_faces!r}")
        if not scale_factor > 1.0:
            raise ParameterError(f"scale_factor must be above 1.0, got {scale_factor!r}")
        self.min_size, self.max_faces = int(min_size), int(max_faces)
        self.scale_factor, self.min_neighbors = float(scale_factor), int(min_neighbors)
        if detect_side is not None and detect_side < 64:
            raise ParameterError(f"detect_side must be at least 64 pixels or None, got {detect_side!r}")
        self.detect_side = detect_side
        self._faces = _cascade("haarcascade_frontalface_default.xml")
        self._eyes = _cascade("haarcascade_eye.xml")

    def _analyse(self, rgb: np.ndarray, time_s: float | None, clock_ms: int | None) -> FaceAnalysis:
        import cv2

        h, w = rgb.shape[:2]
        work, scale, pad = _prepare_small(rgb)
        if self.detect_side is not None and max(work.shape[:2]) > self.detect_side:
            shrink = self.detect_side / max(work.shape[:2])
            size = (max(1, round(work.shape[1] * shrink)), max(1, round(work.shape[0] * shrink)))
            work = cv2.resize(work, size, interpolation=cv2.INTER_AREA)
            scale = work.shape[1] / (w + 2 * pad)  # search pixels per (padded) input pixel
        gray = cv2.equalizeHist(cv2.cvtColor(work, cv2.COLOR_RGB2GRAY))
        min_px = max(24, int(round(self.min_size * scale)))
        rects, _levels, weights = self._faces.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(min_px, min_px), outputRejectLevels=True)
        order = sorted(range(len(rects)), key=lambda i: -int(rects[i][2]) * int(rects[i][3]))[:self.max_faces]
        faces = []
        for i in order:
            x, y, bw, bh = (int(v) for v in rects[i])
            eyes = self._find_eyes(gray, x, y, bw, bh)
            to_input = lambda px, py: (px / scale - pad, py / scale - pad)  # noqa: E731
            (ex0, ey0), (ex1, ey1) = to_input(*eyes[0]), to_input(*eyes[1])
            x0, y0 = to_input(x, y)
            x1, y1 = to_input(x + bw, y + bh)
            weight = float(np.ravel(weights)[i]) if len(weights) else 0.0
            faces.append(FaceDetection(
                box=_clip_box(x0, y0, x1, y1, w, h), score=float(1.0 / (1.0 + math.exp(-weight))),
                eyes=((ex0, ey0), (ex1, ey1)), detector=self.name))
        return FaceAnalysis(faces=faces, image_size=(w, h), reason=None if faces else "no face found", time=time_s)

    def _find_eyes(self, gray: np.ndarray, x: int, y: int, bw: int, bh: int):
        """Eye centres (image-left first) in ``gray``'s pixels: the eye cascade in the face's upper half,
        else :data:`HAAR_EYE_X` / :data:`HAAR_EYE_Y` of the box."""
        top = gray[y + int(0.15 * bh):y + int(0.6 * bh), x:x + bw]
        found = self._eyes.detectMultiScale(top, scaleFactor=1.1, minNeighbors=4,
                                            minSize=(max(5, bw // 10), max(5, bw // 10)),
                                            maxSize=(bw // 3, bw // 3)) if top.size else ()
        left = [e for e in found if e[0] + e[2] / 2 < 0.5 * bw]
        right = [e for e in found if e[0] + e[2] / 2 >= 0.5 * bw]
        if left and right:
            centre = lambda e: (x + e[0] + e[2] / 2.0, y + int(0.15 * bh) + e[1] + e[3] / 2.0)  # noqa: E731
            a = centre(max(left, key=lambda e: e[2]))
            b = centre(max(right, key=lambda e: e[2]))
            distance = math.hypot(b[0] - a[0], b[1] - a[1])
            # plausible: eyes 25-60 % of the box apart, eye line tilted less than 30 degrees
            if 0.25 * bw <= distance <= 0.6 * bw and abs(b[1] - a[1]) < 0.58 * distance:
                return a, b
        return ((x + HAAR_EYE_X[0] * bw, y + HAAR_EYE_Y * bh), (x + HAAR_EYE_X[1] * bw, y + HAAR_EYE_Y * bh))


def _cascade(filename: str):
    import cv2

    root = Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or "")
    path = root / filename
    classifier = cv2.CascadeClassifier(str(path)) if path.is_file() else None
    if classifier is None or classifier.empty():
        raise AssetNotFoundError(f"OpenCV cascade {filename} not found in {root or 'cv2.data'}; install "
                                 "`opencv-contrib-python<5` (5.0 ships an empty cv2/data)")
    return classifier
