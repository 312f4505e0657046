"""probe_media / iter_video_frames on tiny videos written with PyAV, and every kind of bad file."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from media import add_aac_stream, encode_audio

from avemo.errors import MediaDecodeError, ParameterError
from avemo.io.media import probe_media
from avemo.io.video import VideoFrame, iter_video_frames

FPS, N_FRAMES, W, H = 16, 32, 64, 48


def write_video(path: Path, n: int = N_FRAMES, fps: int = FPS, width: int = W, height: int = H,
                faststart: bool = False, codec: str = "mpeg4") -> Path:
    """A video whose frame ``i`` is a flat gray of level ``20 + 6 * i`` (so order is checkable)."""
    import av

    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 2_000_000
        stream.options = {"g": "4"}  # keyframes every 4 frames: a cut file still has decodable frames
        for i in range(n):
            img = np.full((height, width, 3), 20 + 6 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def write_audio_only(path: Path, seconds: float = 0.5, sr: int = 16000) -> Path:
    import av

    t = np.arange(int(seconds * sr)) / sr
    samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
    with av.open(str(path), "w") as out:
        encode_audio(out, add_aac_stream(out, sr), samples[0], sr)
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4")


def test_probe(video):
    info = probe_media(video)
    assert info.kind == "video" and info.has_video and not info.has_audio and info.audio_duration is None
    assert (info.width, info.height) == (W, H)
    assert info.fps == pytest.approx(FPS)
    assert info.n_frames == N_FRAMES
    assert info.duration == pytest.approx(N_FRAMES / FPS, abs=0.1)


def test_all_frames_in_order_with_timestamps(video):
    frames = list(iter_video_frames(video))
    assert len(frames) == N_FRAMES
    assert all(isinstance(f, VideoFrame) for f in frames)
    assert [f.index for f in frames] == list(range(N_FRAMES))
    np.testing.assert_allclose([f.time for f in frames], np.arange(N_FRAMES) / FPS, atol=1e-6)
    assert frames[0].image.shape == (H, W, 3) and frames[0].image.dtype == np.uint8
    levels = [float(f.image.mean()) for f in frames]
    assert np.all(np.diff(levels) > 2)  # frame order kept
    np.testing.assert_allclose(levels, 20 + 6 * np.arange(N_FRAMES), atol=4)


def test_sampling_at_divisor_rate(video):
    frames = list(iter_video_frames(video, fps=4))
    assert [f.index for f in frames] == list(range(0, N_FRAMES, 4))
    np.testing.assert_allclose([f.time for f in frames], np.arange(0, N_FRAMES, 4) / FPS, atol=1e-6)


def test_sampling_picks_first_frame_at_or_after_each_instant(video):
    frames = list(iter_video_frames(video, fps=5))
    times = np.arange(N_FRAMES) / FPS
    instants = np.arange(0, N_FRAMES / FPS, 1 / 5)
    expected = sorted({int(np.searchsorted(times, t - 1e-9)) for t in instants if t <= times[-1]})
    assert [f.index for f in frames] == expected  # 0, 4, 7, 10, 13, 16, 20, 23, 26, 29
    assert len(frames) == 10


def test_sampling_faster_than_video_gives_every_frame_once(video):
    assert [f.index for f in iter_video_frames(video, fps=100)] == list(range(N_FRAMES))


def test_segment(video):
    frames = list(iter_video_frames(video, start=0.5, end=1.0))
    assert [round(f.time * FPS) for f in frames] == list(range(8, 16))
    assert [f.index for f in frames] == list(range(8, 16))
    assert list(iter_video_frames(video, start=5.0)) == []  # after the last frame: empty, no error
    sampled = list(iter_video_frames(video, fps=2, start=0.5))
    np.testing.assert_allclose([f.time for f in sampled], [0.5, 1.0, 1.5], atol=1e-6)


def test_downscale_keeps_aspect(tmp_path):
    path = write_video(tmp_path / "big.mp4", n=4, width=128, height=96)
    first = next(iter_video_frames(path, max_side=64))
    assert first.image.shape == (48, 64, 3)
    assert next(iter_video_frames(path, max_side=None)).image.shape == (96, 128, 3)


@pytest.mark.parametrize("kwargs", [dict(fps=0), dict(fps=-2), dict(fps=float("nan")), dict(fps="fast"),
                                    dict(start=1.0, end=0.5), dict(start=-1), dict(max_side=0)])
def test_bad_arguments(video, kwargs):
    with pytest.raises(ParameterError):
        iter_video_frames(video, **kwargs)


def test_audio_only_file(tmp_path):
    path = write_audio_only(tmp_path / "voice.m4a")
    with pytest.raises(MediaDecodeError, match="no video stream.*load_audio"):
        iter_video_frames(path)
    info = probe_media(path)
    assert info.kind == "audio" and not info.has_video and info.has_audio and info.sampling_rate == 16000
    assert info.audio_duration == pytest.approx(0.5, abs=0.1)
    assert info.fps is None and info.width is None


def test_missing_empty_corrupt(tmp_path):
    with pytest.raises(MediaDecodeError, match="not found"):
        iter_video_frames(tmp_path / "nope.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(MediaDecodeError, match="empty"):
        iter_video_frames(tmp_path / "empty.mp4")
    with pytest.raises(MediaDecodeError, match="folder"):
        probe_media(tmp_path)
    (tmp_path / "junk.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(MediaDecodeError, match="junk.mp4: not a readable video file"):
        iter_video_frames(tmp_path / "junk.mp4")


def test_truncated_file_yields_what_decodes(tmp_path, caplog):
    path = write_video(tmp_path / "cut.mp4", faststart=True)  # index first, so a cut file still opens
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="avemo.io.video"):
        frames = list(iter_video_frames(path))
    assert 0 < len(frames) < N_FRAMES
    assert [f.index for f in frames] == list(range(len(frames)))
    assert "could be decoded; the file is probably truncated" in caplog.text


def test_truncated_file_without_index_is_an_error(tmp_path):
    path = write_video(tmp_path / "cut.mp4")  # mp4 index (moov) at the end: lost when cut
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(MediaDecodeError, match="no audio or video streams; the file is corrupt or truncated"):
        iter_video_frames(path)
    with pytest.raises(MediaDecodeError, match="no audio or video streams"):
        probe_media(path)


def test_no_frame_decodes_is_an_error(tmp_path):
    path = write_video(tmp_path / "zeroed.mp4", faststart=True)
    data = bytearray(path.read_bytes())
    mdat = data.find(b"mdat") + 4
    data[mdat:] = bytes(len(data) - mdat)  # keep the index, wipe every coded frame
    path.write_bytes(bytes(data))
    with pytest.raises(MediaDecodeError, match="video stream could not be decoded.*corrupt or truncated"):
        list(iter_video_frames(path))


def test_a_still_image_is_an_image_whatever_its_name(tmp_path, video):
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "still.png")
    (tmp_path / "still.png").rename(tmp_path / "still.bin")  # no image extension: judged by content
    info = probe_media(tmp_path / "still.bin")
    assert info.kind == "image" and not info.has_video and not info.has_audio


def test_committed_talking_face_clip(talking_face):
    """The committed CREMA-D fixture (160x120 H.264 + AAC): probed, decoded at 5 fps, its audio track read."""
    from avemo.io.audio import load_audio

    info = probe_media(talking_face)
    assert (info.width, info.height) == (160, 120) and info.has_audio and info.n_frames == 57
    assert info.kind == "video" and info.sampling_rate == 16000
    assert info.fps == pytest.approx(29.97, abs=0.01) and 1.8 < info.duration < 2.1
    frames = list(iter_video_frames(talking_face, fps=5))
    assert abs(len(frames) - 1.9 * 5) <= 2 and frames[0].image.shape == (120, 160, 3)
    assert all(b.time - a.time == pytest.approx(0.2, abs=1 / 29.97 + 1e-6) for a, b in zip(frames, frames[1:]))
    x = load_audio(talking_face)
    assert 1.8 < len(x) / 16000 < 2.1 and x.dtype.name == "float32" and 0.01 < abs(x).max() <= 1.0


@pytest.mark.corpus
def test_real_cremad_clip(require_data):
    clips = sorted(require_data("cremad_sample", "CREMA-D sample clips").glob("*.mp4"))
    assert clips, "cremad_sample holds no mp4"
    info = probe_media(clips[0])
    assert (info.width, info.height) == (320, 240) and info.has_audio
    assert info.fps == pytest.approx(29.97, abs=0.01)
    frames = list(iter_video_frames(clips[0], fps=5))
    assert abs(len(frames) - info.duration * 5) <= 2
    assert all(b.time - a.time == pytest.approx(0.2, abs=1 / 29.97 + 1e-6) for a, b in zip(frames, frames[1:]))
