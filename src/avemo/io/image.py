"""Decode still images to ``(H, W, 3)`` uint8 RGB, and check in-memory images.

Pillow decodes every common format (jpg/png/bmp/webp/tiff/gif ...). Whatever the file holds (grayscale,
alpha, palette, 16-bit, CMYK, an EXIF orientation tag) comes out as upright 8-bit RGB. The image size is
read from the header before any pixel is decoded, so a huge (or maliciously declared) image is refused
instead of exhausting memory. Errors are :class:`~avemo.errors.MediaDecodeError` (files) or
:class:`~avemo.errors.ParameterError` (arrays, arguments) with a one-line message that says what to do.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

from avemo.errors import MediaDecodeError, ParameterError
from avemo.io.files import check_media_file, short_error

log = logging.getLogger(__name__)

#: The smallest image side (pixels) avemo accepts: below it there is no usable face.
MIN_IMAGE_SIDE = 16

_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def load_image(path: str | os.PathLike, max_side: int | None = 4096, max_pixels: int = 50_000_000) -> np.ndarray:
    """Read an image file as upright 8-bit RGB.

    Grayscale and palette images are expanded to RGB; an alpha channel is composited over black; 16-bit
    images are scaled to 8 bits (65535 -> 255); CMYK is converted to RGB; the EXIF orientation tag is
    applied. Images whose long side exceeds ``max_side`` are downscaled (aspect kept); JPEGs are then
    decoded directly at a reduced scale (fast, little memory).

    Args:
        path: an image file (jpg, png, bmp, webp, tiff, gif, ...).
        max_side: longest side of the returned image in pixels, or ``None`` to keep the full size.
        max_pixels: refuse images with more pixels than this (width * height, read from the header before
            decoding).

    Returns:
        Pixels, shape ``(H, W, 3)``, uint8 RGB.

    Raises:
        MediaDecodeError: if the file is missing, a folder, empty, not an image, truncated or corrupt, larger
            than ``max_pixels``, or smaller than :data:`MIN_IMAGE_SIDE` pixels on a side.
        ParameterError: for a ``max_side`` below :data:`MIN_IMAGE_SIDE` or a non-positive ``max_pixels``.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if max_side is not None and max_side < MIN_IMAGE_SIDE:
        raise ParameterError(f"max_side must be at least {MIN_IMAGE_SIDE} pixels (or None), got {max_side}")
    if max_pixels <= 0:
        raise ParameterError(f"max_pixels must be positive, got {max_pixels}")
    path = Path(path)
    check_media_file(path, "image")
    with warnings.catch_warnings():
        # We enforce our own pixel limit from the header; Pillow's warning would only repeat it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise MediaDecodeError(f"{path}: image is too large to decode safely ({short_error(exc)}); "
                                   "downscale it before loading") from None
        except UnidentifiedImageError:
            hint = " (it looks like a video; read frames with avemo.io.video.iter_video_frames)" \
                if path.suffix.lower() in _video_extensions() else ""
            raise MediaDecodeError(f"{path}: not an image or an unsupported image format{hint}; "
                                   "give a jpg/png/bmp/webp/tiff file") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise MediaDecodeError(f"{path}: cannot read the image header ({short_error(exc)}); "
                                   "the file is corrupt, re-export or re-download it") from None
        with img:
            width, height = img.size
            if width * height > max_pixels:
                raise MediaDecodeError(f"{path}: image is {width}x{height} = {width * height:,} pixels, more than "
                                       f"max_pixels={max_pixels:,}; downscale it first or raise max_pixels")
            if min(width, height) < MIN_IMAGE_SIDE:
                raise MediaDecodeError(f"{path}: image is {width}x{height} pixels; a face needs at least "
                                       f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}, give a larger image")
            if max_side is not None and max(width, height) > max_side and img.format == "JPEG":
                scale = max_side / max(width, height)
                # draft() picks the smallest DCT scale (1/2, 1/4, 1/8) still at least this size.
                img.draft(None, (max(1, int(width * scale)), max(1, int(height * scale))))
            try:
                img.load()
            except Image.DecompressionBombError as exc:
                raise MediaDecodeError(f"{path}: image is too large to decode safely ({short_error(exc)}); "
                                       "downscale it before loading") from None
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise MediaDecodeError(f"{path}: image data is truncated or corrupt ({short_error(exc)}); "
                                       "re-export or re-download it") from None
            try:
                upright = ImageOps.exif_transpose(img)
            except Exception as exc:  # a malformed EXIF block must not make a readable image unreadable
                log.warning("%s: ignoring unreadable EXIF orientation (%s)", path, short_error(exc))
                upright = img
            rgb = _to_rgb_array(upright, str(path))
    if max_side is not None and max(rgb.shape[:2]) > max_side:
        rgb = _downscale(rgb, max_side)
    return rgb


def validate_image(array: np.ndarray, name: str = "image", min_side: int = 1) -> np.ndarray:
    """Check an in-memory image and return it as ``(H, W, 3)`` uint8 RGB.

    Accepted shapes: ``(H, W)`` and ``(H, W, 1)`` (grayscale), ``(H, W, 3)`` (RGB: channel order is not
    changed, so convert OpenCV's BGR first), ``(H, W, 4)`` (RGBA, composited over black). Accepted values:

    * uint8 as is; bool as 0/255; uint16 (and other integers above 255) scaled 65535 -> 255;
    * float: if the maximum is <= 1 the range is taken as [0, 1], otherwise [0, 255] (so a float image
      in [0, 255] that is entirely darker than 1 is read as [0, 1]). Values a hair outside the range are
      clipped.

    Args:
        array: the image.
        name: what to call it in error messages.
        min_side: the smallest accepted height/width in pixels.

    Returns:
        A contiguous ``(H, W, 3)`` uint8 array (the input itself when it already is one).

    Raises:
        ParameterError: for another shape, a side below ``min_side``, a non-numeric dtype, NaN/inf, or values
            outside the ranges above.
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] not in (1, 3, 4):
        raise ParameterError(f"{name}: shape {array.shape} looks channel-first; pass (H, W, C), e.g. "
                             "array.transpose(1, 2, 0)")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ParameterError(f"{name}: expected shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {array.shape}")
    if min(array.shape[:2]) < max(1, min_side):
        raise ParameterError(f"{name}: image is {array.shape[1]}x{array.shape[0]} pixels; at least "
                             f"{max(1, min_side)} pixels per side are needed")
    array = _to_uint8(array, name)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        array = _composite_over_black(array)
    return np.ascontiguousarray(array)


def _to_rgb_array(img, where: str) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8 RGB."""
    mode = img.mode
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode in _SIXTEEN_BIT_MODES:
        return _sixteen_to_rgb(np.asarray(img))
    if mode == "F":
        return validate_image(np.asarray(img, dtype=np.float32), name=where)
    if mode in _ALPHA_MODES:
        return _composite_over_black(np.asarray(img.convert("RGBA")))
    if mode != "RGB":
        img = img.convert("RGB")  # 1, L, P, CMYK, YCbCr, LAB, HSV ...
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _sixteen_to_rgb(values: np.ndarray) -> np.ndarray:
    """A 16-bit (or 32-bit integer) grayscale array -> 8-bit RGB: 0..65535 maps to 0..255."""
    values = values.astype(np.int64)
    lo, hi = int(values.min()), int(values.max())
    if lo >= 0 and hi <= 65535:
        gray = (values * 255 + 32767) // 65535
    else:  # not a 16-bit range: stretch what is there
        gray = (values - lo) * 255 // max(1, hi - lo)
    gray = gray.astype(np.uint8)
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.uint8) * 255
    if kind in "iu":
        if array.dtype == np.uint8:
            return array
        lo, hi = int(array.min()), int(array.max())
        if lo < 0 or hi > 65535:
            raise ParameterError(f"{name}: integer pixel values must lie in [0, 255] (8-bit) or [0, 65535] "
                                 f"(16-bit), got [{lo}, {hi}]")
        if array.dtype.itemsize >= 2 and (array.dtype == np.uint16 or hi > 255):
            return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        return array.astype(np.uint8)
    if kind == "f":
        if not np.all(np.isfinite(array)):
            raise ParameterError(f"{name}: contains NaN or infinite pixel values; clean the image first")
        lo, hi = float(array.min()), float(array.max())
        scale = 255.0 if hi <= 1.0 else 1.0
        if lo < -1e-3 * (1.0 if scale == 255.0 else 255.0) or hi > 255.0 * (1 + 1e-3):
            raise ParameterError(f"{name}: float pixel values must lie in [0, 1] or [0, 255], got "
                                 f"[{lo:.4g}, {hi:.4g}]; rescale the image first")
        return np.clip(np.rint(array.astype(np.float32) * scale), 0, 255).astype(np.uint8)
    raise ParameterError(f"{name}: pixels must be numeric, got dtype {array.dtype}")


def _composite_over_black(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    rgb = (rgba[:, :, :3].astype(np.uint16) * alpha + 127) // 255
    return np.ascontiguousarray(rgb.astype(np.uint8))


def _downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def _video_extensions() -> set[str]:
    from avemo.io.files import VIDEO_EXTENSIONS

    return VIDEO_EXTENSIONS

