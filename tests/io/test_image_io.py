"""load_image / validate_image on images generated here (every Pillow mode, EXIF, huge headers, broken files)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avemo.errors import MediaDecodeError, ParameterError
from avemo.io.image import MIN_IMAGE_SIDE, load_image, validate_image


def noise(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (h, w, channels) if channels > 1 else (h, w)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def png_with_header_size(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (its pixel data is a few bytes)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_rgb_png_round_trip(tmp_path):
    pixels = noise(40, 60)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    out = load_image(tmp_path / "rgb.png")
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, pixels)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = noise(32, 48, channels=1)
    Image.fromarray(gray, mode="L").save(tmp_path / "gray.png")
    out = load_image(tmp_path / "gray.png")
    assert out.shape == (32, 48, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], gray)


def test_alpha_is_composited_over_black(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[:, :10] = (200, 100, 50, 255)  # opaque
    rgba[:, 10:] = (200, 100, 50, 0)  # fully transparent
    rgba[:5, :10, 3] = 128  # half transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    out = load_image(tmp_path / "rgba.png")
    assert tuple(out[10, 5]) == (200, 100, 50)
    assert tuple(out[10, 15]) == (0, 0, 0)
    np.testing.assert_allclose(out[2, 5], (100, 50, 25), atol=1)
    la = np.stack([np.full((20, 20), 180, np.uint8), np.full((20, 20), 255, np.uint8)], axis=2)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    assert np.all(load_image(tmp_path / "la.png") == 180)


def test_palette_images(tmp_path):
    rgb = Image.fromarray(noise(24, 24))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.save(tmp_path / "p.png")
    np.testing.assert_array_equal(load_image(tmp_path / "p.png"), np.asarray(palette.convert("RGB")))
    palette.info["transparency"] = 0
    palette.save(tmp_path / "pt.png", transparency=0)
    out = load_image(tmp_path / "pt.png")
    assert np.all(out[np.asarray(palette) == 0] == 0)  # transparent index -> black


def test_sixteen_bit_is_scaled_to_eight(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], np.uint16).repeat(16, axis=0).repeat(4, axis=1)
    Image.fromarray(values).save(tmp_path / "16.png")
    assert Image.open(tmp_path / "16.png").mode.startswith("I")
    out = load_image(tmp_path / "16.png")
    assert out.shape == (16, 16, 3)
    assert [int(v) for v in out[0, ::4, 0]] == [0, 1, 128, 255]


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")  # pure red in CMYK
    out = load_image(tmp_path / "cmyk.jpg")
    assert out.shape == (32, 32, 3)
    r, g, b = out[16, 16].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red, right half blue
    pixels[:, 20:] = (0, 0, 255)
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    img.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "rotated.jpg")
    assert out.shape == (40, 20, 3)  # upright: taller than wide
    assert out[5, 10, 0] > 200 and out[35, 10, 2] > 200  # the left half is now on top


def test_large_images_are_downscaled(tmp_path):
    Image.fromarray(noise(200, 300)).save(tmp_path / "big.png")
    assert load_image(tmp_path / "big.png", max_side=150).shape == (100, 150, 3)
    assert load_image(tmp_path / "big.png", max_side=None).shape == (200, 300, 3)
    Image.fromarray(np.full((1000, 2000, 3), 90, np.uint8)).save(tmp_path / "big.jpg")
    out = load_image(tmp_path / "big.jpg", max_side=250)  # decoded at 1/4 (draft), then resized
    assert out.shape == (125, 250, 3)
    np.testing.assert_allclose(out.mean(), 90, atol=2)


def test_huge_header_is_refused_before_decoding(tmp_path):
    path = png_with_header_size(tmp_path / "claims-64mpx.png", 8000, 8000)
    with pytest.raises(MediaDecodeError, match="8000x8000 = 64,000,000 pixels, more than max_pixels"):
        load_image(path)
    bomb = png_with_header_size(tmp_path / "claims-400mpx.png", 20000, 20000)  # beyond Pillow's own limit
    with pytest.raises(MediaDecodeError, match="too large"):
        load_image(bomb)
    with pytest.raises(MediaDecodeError, match="more than max_pixels=1,000"):
        load_image(png_with_header_size(tmp_path / "small.png", 100, 100), max_pixels=1000)


def test_tiny_image(tmp_path):
    Image.fromarray(noise(10, 10)).save(tmp_path / "tiny.png")
    with pytest.raises(MediaDecodeError, match="image is 10x10 pixels; a face needs at least 16x16"):
        load_image(tmp_path / "tiny.png")
    Image.fromarray(noise(MIN_IMAGE_SIDE, MIN_IMAGE_SIDE)).save(tmp_path / "smallest.png")
    assert load_image(tmp_path / "smallest.png").shape == (16, 16, 3)


def test_missing_folder_empty(tmp_path):
    with pytest.raises(MediaDecodeError, match="file not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(MediaDecodeError, match="is a folder"):
        load_image(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(MediaDecodeError, match="empty \\(0 bytes\\)"):
        load_image(tmp_path / "empty.png")


def test_not_an_image(tmp_path):
    (tmp_path / "junk.png").write_bytes(noise(64, 64).tobytes())
    with pytest.raises(MediaDecodeError, match="not an image or an unsupported image format"):
        load_image(tmp_path / "junk.png")
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    with pytest.raises(MediaDecodeError, match="iter_video_frames"):
        load_image(tmp_path / "clip.mp4")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file(tmp_path, fmt):
    path = tmp_path / f"cut.{fmt.lower()}"
    Image.fromarray(noise(200, 200)).save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(MediaDecodeError, match="image data is truncated or corrupt"):
        load_image(path)


def test_bad_arguments(tmp_path):
    Image.fromarray(noise(20, 20)).save(tmp_path / "ok.png")
    with pytest.raises(ParameterError, match="max_side"):
        load_image(tmp_path / "ok.png", max_side=8)
    with pytest.raises(ParameterError, match="max_pixels"):
        load_image(tmp_path / "ok.png", max_pixels=0)


# ---- validate_image -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(20, 30), (20, 30, 1), (20, 30, 3), (20, 30, 4)])
def test_validate_shapes(shape):
    out = validate_image(np.full(shape, 100, np.uint8))
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    assert np.all(out == (39 if shape[-1] == 4 else 100))  # RGBA: 100 * alpha 100/255 over black


def test_validate_value_ranges():
    np.testing.assert_array_equal(validate_image(np.array([[0.0, 0.5, 1.0]] * 4))[0, :, 0], [0, 128, 255])
    np.testing.assert_array_equal(validate_image(np.array([[0.0, 127.6, 255.0]] * 4))[0, :, 0], [0, 128, 255])
    np.testing.assert_array_equal(validate_image(np.array([[0, 32768, 65535]] * 4, np.uint16))[0, :, 0],
                                  [0, 128, 255])
    np.testing.assert_array_equal(validate_image(np.array([[False, True]] * 4))[0, :, 0], [0, 255])
    np.testing.assert_array_equal(validate_image(np.array([[3, 200]] * 4, np.int64))[0, :, 0], [3, 200])
    pixels = noise(8, 8)
    assert validate_image(pixels) is pixels  # already fine: no copy


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 20, 30)), "channel-first"),
    (np.zeros((20, 30, 2)), "expected shape"),
    (np.zeros((2, 20, 30, 3)), "expected shape"),
    (np.zeros((0, 30)), "0 pixels|30x0"),
    (np.array([[np.nan, 0.5]] * 3), "NaN"),
    (np.array([[-5.0, 0.5]] * 3), "must lie in \\[0, 1\\] or \\[0, 255\\]"),
    (np.array([[0.0, 300.0]] * 3), "must lie in \\[0, 1\\] or \\[0, 255\\]"),
    (np.array([[-1, 3]] * 3), "integer pixel values"),
    (np.array([["a", "b"]]), "numeric"),
])
def test_validate_rejects(bad, message):
    with pytest.raises(ParameterError, match=message):
        validate_image(bad)


def test_validate_min_side():
    with pytest.raises(ParameterError, match="at least 16 pixels"):
        validate_image(np.zeros((10, 40), np.uint8), min_side=16)


def test_committed_face_frame(face_frame):
    image = load_image(face_frame)
    assert image.shape == (180, 240, 3) and image.dtype == np.uint8 and image.std() > 20


@pytest.mark.corpus
def test_real_images(require_data):
    still = require_data("ravdess/stills/Actor_01.png", "RAVDESS stills")
    fer = sorted(require_data("fer2013/test/happy", "FER2013").glob("*.jpg"))
    assert fer, "fer2013/test/happy holds no jpg"
    assert load_image(still).shape == (224, 398, 3)
    face = load_image(fer[0])
    assert face.shape == (48, 48, 3)
    assert np.all(face[:, :, 0] == face[:, :, 1])
