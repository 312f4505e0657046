"""probe_media (the one decision of what a file is), guess_kind / looks_like_media (by name and first bytes), and
read_video (a video's frames and audio track in one pass over one open container)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from media import add_aac_stream, count_av_opens, encode_audio, write_av

from avemo.errors import MediaDecodeError
from avemo.io.audio import load_audio
from avemo.io.media import guess_kind, looks_like_media, open_media, probe_media
from avemo.io.video import iter_video_frames, read_video

SR = 16000


def tone(seconds: float, sr: int = SR, hz: float = 440.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def frames(n: int = 12, w: int = 64, h: int = 48) -> list[np.ndarray]:
    """Flat gray frames of increasing level (so order is checkable)."""
    return [np.full((h, w, 3), 20 + 15 * i, np.uint8) for i in range(n)]


@pytest.fixture(scope="module")
def av_clip(tmp_path_factory) -> Path:
    """1.2 s of video at 10 fps with a 44.1 kHz AAC track (resampled to 16 kHz on reading)."""
    return write_av(tmp_path_factory.mktemp("av") / "clip.mp4", frames(), fps=10, audio=tone(1.2, 44100),
                    sr=44100)


@pytest.fixture
def av_opens(monkeypatch):
    return count_av_opens(monkeypatch)


def write_cover_art_m4a(path: Path) -> Path:
    """An m4a whose video stream is only an attached cover picture."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        audio = add_aac_stream(out, SR)
        cover = out.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 32, 32, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        for packet in cover.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
            out.mux(packet)
        for packet in cover.encode(None):
            out.mux(packet)
        encode_audio(out, audio, tone(0.5), SR)
    return path


def test_kinds(tmp_path, av_clip, av_opens):
    sf.write(tmp_path / "voice.wav", tone(0.5), SR)
    wav = probe_media(tmp_path / "voice.wav")
    assert (wav.kind, wav.has_audio, wav.has_video, wav.sampling_rate) == ("audio", True, False, SR)
    assert wav.duration == pytest.approx(0.5) and not av_opens  # soundfile read its header
    video = probe_media(av_clip)
    assert (video.kind, video.has_audio, video.has_video, video.sampling_rate) == ("video", True, True, 44100)
    assert video.fps == pytest.approx(10) and (video.width, video.height) == (64, 48)
    assert av_opens == {str(av_clip): 1}
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff not decoded here")
    image = probe_media(tmp_path / "photo.jpg")
    assert (image.kind, image.has_audio, image.has_video) == ("image", False, False) and sum(av_opens.values()) == 1
    cover = probe_media(write_cover_art_m4a(tmp_path / "song.m4a"))
    assert (cover.kind, cover.has_audio, cover.has_video) == ("audio", True, False)  # a cover picture is no video


def test_bad_files(tmp_path):
    with pytest.raises(MediaDecodeError, match="not found"):
        probe_media(tmp_path / "missing.mp4")
    with pytest.raises(MediaDecodeError, match="folder, not a media file"):
        probe_media(tmp_path)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(MediaDecodeError, match="empty"):
        probe_media(tmp_path / "empty.wav")
    (tmp_path / "noise.wav").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(MediaDecodeError, match="noise.wav: not a readable audio or video file") as info:
        probe_media(tmp_path / "noise.wav")
    assert "\n" not in str(info.value)


def test_guess_kind_and_looks_like_media(tmp_path):
    assert [guess_kind(n) for n in ("a.WAV", "b.m4a", "c.jpeg", "d.gif", "e.mkv", "f.m4v", "g.txt", "h")] == \
        ["audio", "audio", "image", "image", "video", "video", None, None]
    sf.write(tmp_path / "noextension", tone(0.2), SR, format="WAV")
    (tmp_path / "notes.txt").write_text("not media")
    (tmp_path / "photo.webp").write_bytes(b"anything")
    assert looks_like_media(tmp_path / "noextension")  # by content
    assert looks_like_media(tmp_path / "photo.webp")  # by suffix
    assert not looks_like_media(tmp_path / "notes.txt")
    assert not looks_like_media(tmp_path / "missing")


def test_read_video_gives_what_the_separate_readers_give_from_one_open(av_clip, av_opens):
    expected = list(iter_video_frames(av_clip, fps=5))
    signal = load_audio(av_clip)
    av_opens.clear()
    with open_media(av_clip) as media:
        reading = read_video(media, fps=5, audio=True)
        got = list(reading)
        audio = reading.audio()
    assert av_opens == {str(av_clip): 1}  # probe, frames and audio: one container
    assert [f.time for f in got] == [f.time for f in expected] and len(got) == 6
    assert all(np.array_equal(a.image, b.image) for a, b in zip(got, expected))
    assert audio.dtype == np.float32 and np.array_equal(audio, signal)


def test_read_video_audio_alone_and_without_audio(av_clip, tmp_path, av_opens):
    with open_media(av_clip) as media:
        assert np.array_equal(read_video(media, audio=True).audio(), load_audio(av_clip))  # no frame decoded
    info = probe_media(av_clip)
    av_opens.clear()
    with open_media(av_clip, info) as media:  # a probe's info: the container opens once, for decoding
        assert len(list(read_video(media, fps=5))) == 6
        with pytest.raises(MediaDecodeError, match="no audio stream"):
            read_video(media).audio()
    assert av_opens == {str(av_clip): 1}
    silent = write_av(tmp_path / "silent.mp4", frames())
    with open_media(silent) as media:
        with pytest.raises(MediaDecodeError, match="no audio stream"):
            read_video(media, audio=True).audio()
    sf.write(tmp_path / "voice.wav", tone(0.5), SR)
    with open_media(tmp_path / "voice.wav") as media:
        with pytest.raises(MediaDecodeError, match="has no video stream"):
            read_video(media)
