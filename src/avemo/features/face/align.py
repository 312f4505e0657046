"""Rotate, crop and resize a detected face to a FER2013-like crop (48x48 gray, eyes level, brow to chin).

The crop is defined by the eye centres only (not the detector's box), so it is stable from frame to frame:
the image is rotated about the eye midpoint until the eye line is level, scaled so the eyes are a fixed
fraction of the crop width apart, and cropped with the eye midpoint at a fixed position.

Calibration (MediaPipe on 200 random FER2013 training images, 189 detected; fractions of the 48-px side,
medians, frontal faces = |yaw| < 15 deg, n = 148):

* eye distance 0.380 (all faces 0.372, p10-p90 0.29-0.43); 3-D eye distance 0.383 for |yaw| < 10 deg;
* eye midpoint x 0.495, y 0.396 (p10-p90 0.31-0.45);
* landmark box centre (0.501, 0.542), size 0.83 x 0.91, top 0.088 (upper forehead landmark 10 at 0.110),
  bottom 0.993 (chin landmark 152 at 0.989);
* eye-line angle median -1.2 deg (p10-p90 -12.7..12.0: FER2013 faces are not roll-aligned).

Hence the defaults: eyes 0.38 of the width apart (``margin`` = (1 - 0.38) / 2 = 0.31 of the width outside
each eye centre), centred horizontally, eye line at 0.40 of the height. With landmarks the eye distance is
measured in 3-D (landmark ``z`` is scaled like ``x``), which keeps the scale steady when the head turns
(FER2013, |yaw| > 30 deg: 2-D distance 0.26, 3-D 0.32 of the width, against 0.38 frontal).
"""

from __future__ import annotations

import math

import numpy as np

from avemo.errors import ParameterError
from avemo.features.face.detection import LEFT_EYE_CONTOUR, RIGHT_EYE_CONTOUR, FaceDetection
from avemo.io.image import validate_image

#: Horizontal space between each eye centre and the crop's edge, as a fraction of the crop width.
DEFAULT_MARGIN = 0.31
#: Height of the eye line in the crop, as a fraction of the crop height (0 = top).
DEFAULT_EYE_Y = 0.40
#: FER2013's crop size in pixels.
FER_SIZE = 48


def face_scale(face: FaceDetection) -> float:
    """Eye distance in pixels used to size the crop: 3-D from the landmarks when present, else 2-D."""
    if face.landmarks is not None and face.landmarks.shape[0] > max(max(RIGHT_EYE_CONTOUR), max(LEFT_EYE_CONTOUR)):
        right = face.landmarks[list(RIGHT_EYE_CONTOUR)].mean(axis=0)
        left = face.landmarks[list(LEFT_EYE_CONTOUR)].mean(axis=0)
        distance = float(np.linalg.norm(right - left))
        if math.isfinite(distance) and distance > 0:
            return distance
    return face.eye_distance


def alignment_matrix(face: FaceDetection, size: int = FER_SIZE, margin: float = DEFAULT_MARGIN,
                     eye_y: float = DEFAULT_EYE_Y) -> np.ndarray:
    """The ``(2, 3)`` affine matrix mapping input pixels to pixels of the ``size`` x ``size`` aligned crop.

    Map points with ``crop_xy = M[:, :2] @ xy + M[:, 2]`` (e.g. landmarks into the crop).

    Raises:
        ParameterError: for arguments out of range, or a face whose eye centres (nearly) coincide.
    """
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ParameterError(f"size must be an integer of at least 8 pixels, got {size!r}")
    if not 0.0 <= margin < 0.5:
        raise ParameterError(f"margin must lie in [0, 0.5) (fraction of the crop width outside each eye), "
                             f"got {margin!r}")
    if not 0.0 < eye_y < 1.0:
        raise ParameterError(f"eye_y must lie in (0, 1) (eye-line height as a fraction of the crop), got {eye_y!r}")
    (lx, ly), (rx, ry) = face.eyes
    distance = face_scale(face)
    if not distance >= 1.0:
        raise ParameterError(f"the face's eye centres are {distance:.2f} px apart; cannot align a face this small "
                             "or with missing eyes")
    angle = math.atan2(ry - ly, rx - lx)
    side = distance / (1.0 - 2.0 * margin)  # crop side in input pixels
    scale = size / side
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    mx, my = (lx + rx) / 2.0, (ly + ry) / 2.0
    # q = scale * Rot(-angle) @ (p - m) + (size / 2, eye_y * size)
    return np.array([[cos, sin, size / 2.0 - cos * mx - sin * my],
                     [-sin, cos, eye_y * size + sin * mx - cos * my]], dtype=np.float64)


def align_face(image_rgb: np.ndarray, face: FaceDetection, size: int = FER_SIZE, margin: float = DEFAULT_MARGIN,
               eye_y: float = DEFAULT_EYE_Y, grayscale: bool = True) -> np.ndarray:
    """Cut out an upright, FER2013-like crop of ``face``.

    Args:
        image_rgb: the image the face was detected in, ``(H, W, 3)`` RGB (anything
            :func:`~avemo.io.image.validate_image` accepts).
        face: a detection in that image (only its eye centres and landmarks are used).
        size: side of the square crop in pixels.
        margin: horizontal space between each eye centre and the crop edge, as a fraction of the crop
            width (calibrated on FER2013: 0.31; larger = more context, smaller face).
        eye_y: height of the eye line as a fraction of the crop height (FER2013: 0.40).
        grayscale: return one gray channel (like FER2013) instead of RGB.

    Returns:
        ``(size, size)`` uint8 gray, or ``(size, size, 3)`` uint8 RGB when ``grayscale`` is False. Parts of
        the crop outside the image repeat the image's border pixels.

    Raises:
        ParameterError: for an invalid image or arguments (see :func:`alignment_matrix`).
    """
    import cv2

    rgb = validate_image(image_rgb, name="image_rgb")
    matrix = alignment_matrix(face, size, margin, eye_y)
    scale = math.hypot(matrix[0, 0], matrix[0, 1])
    if scale < 1.0:
        # Downscaling: area-average the region the crop covers first (no aliasing), then rotate at ~1:1.
        rgb, matrix = _shrink_region(rgb, matrix, size, scale)
    crop = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if grayscale:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(crop)


def _shrink_region(rgb: np.ndarray, matrix: np.ndarray, size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``rgb`` under the crop, area-resized by ``scale``, and the matrix adjusted to it.

    The region is clipped to the image, so the warp's replicated border is still the image's border.
    """
    import cv2

    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    h, w = rgb.shape[:2]
    x0, y0 = (int(max(0, min(math.floor(v) - 2, n - 1))) for v, n in zip(points.min(axis=0), (w, h)))
    x1, y1 = (int(max(1, min(math.ceil(v) + 2, n))) for v, n in zip(points.max(axis=0), (w, h)))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    region = rgb[y0:y1, x0:x1]
    new_w, new_h = max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale))
    small = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA)
    fx, fy = new_w / region.shape[1], new_h / region.shape[0]
    # p = (p_small / f) + offset  =>  q = A diag(1/fx, 1/fy) p_small + (A offset + t)
    linear = matrix[:, :2] @ np.diag([1.0 / fx, 1.0 / fy])
    shift = matrix[:, :2] @ np.array([x0, y0], dtype=np.float64) + matrix[:, 2]
    return small, np.hstack([linear, shift[:, None]])
