"""load_audio / validate_signal / resample on synthetic files with known answers, and every kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from avemo.errors import AudioTooShortError, MediaDecodeError, ParameterError
from avemo.io.audio import load_audio, resample, validate_signal
from avemo.io.synth import synth_voice

SR = 16000


def tone(freq: float, seconds: float, sr: int, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_aac(path, signal: np.ndarray, sr: int = 44100, channels: int = 2) -> None:
    """An AAC audio track in an mp4/m4a container, written with PyAV."""
    import av

    layout = "stereo" if channels == 2 else "mono"
    planar = np.ascontiguousarray(np.tile(signal[None, :], (channels, 1)).astype(np.float32))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=sr)
        stream.layout = layout
        for i in range(0, planar.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, i:i + 1024]), format="fltp",
                                               layout=layout)
            frame.sample_rate = sr
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def write_video_only(path, frames: int = 6) -> None:
    """An mp4 with one mpeg4 video stream and no audio."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = np.full((48, 64, 3), 30 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def dominant_frequency(x: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spectrum)])


# ---- decoding good files -------------------------------------------------------------------------------------

def test_stereo_44k_wav_becomes_mono_16k_mean_of_channels(tmp_path):
    sr = 44100
    left, right = tone(440, 2.0, sr, 0.4), tone(440, 2.0, sr, 0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), sr, subtype="FLOAT")
    x = load_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 2 * SR) <= 0.01 * 2 * SR
    # The mean of the channels is a 0.3-amplitude 440 Hz tone.
    assert dominant_frequency(x) == pytest.approx(440, abs=2)
    core = x[SR // 2: 3 * SR // 2]
    assert np.abs(core).max() == pytest.approx(0.3, abs=0.01)
    np.testing.assert_allclose(core, tone(440, 2.0, SR, 0.3)[SR // 2: 3 * SR // 2], atol=0.01)


def test_16k_mono_wav_is_returned_unchanged(tmp_path):
    x0 = synth_voice(1.0, 150)
    sf.write(tmp_path / "v.wav", x0, SR, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(tmp_path / "v.wav"), x0)


@pytest.mark.parametrize("ext,subtype", [("flac", "PCM_16"), ("ogg", "VORBIS")])
def test_flac_and_ogg_decode(tmp_path, ext, subtype):
    x0 = tone(300, 1.5, 22050)
    path = tmp_path / f"t.{ext}"
    sf.write(path, x0, 22050, subtype=subtype)
    x = load_audio(path)
    assert abs(len(x) - 1.5 * SR) <= 0.01 * 1.5 * SR
    assert dominant_frequency(x) == pytest.approx(300, abs=2)
    assert np.abs(x).max() == pytest.approx(0.3, abs=0.03)


@pytest.mark.parametrize("ext", ["mp4", "m4a"])
def test_aac_audio_track_of_mp4_and_m4a_decodes(tmp_path, ext):
    path = tmp_path / f"clip.{ext}"
    write_aac(path, tone(500, 2.0, 44100))
    x = load_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1
    # AAC adds ~1024 priming samples at 44.1 kHz (23 ms); allow 5 %.
    assert abs(len(x) - 2 * SR) <= 0.05 * 2 * SR
    assert dominant_frequency(x[SR // 2: 3 * SR // 2]) == pytest.approx(500, abs=3)
    assert 0.2 < np.abs(x).max() < 0.45


def test_segment_start_end(tmp_path):
    x0 = np.linspace(-0.5, 0.5, 3 * SR, dtype=np.float32)
    sf.write(tmp_path / "ramp.wav", x0, SR, subtype="FLOAT")
    seg = load_audio(tmp_path / "ramp.wav", start=0.5, end=1.25)
    assert len(seg) == int(0.75 * SR)
    np.testing.assert_array_equal(seg, x0[SR // 2: SR // 2 + int(0.75 * SR)])
    assert len(load_audio(tmp_path / "ramp.wav", start=2.0)) == SR
    assert len(load_audio(tmp_path / "ramp.wav", end=1.0)) == SR
    with pytest.raises(ParameterError):
        load_audio(tmp_path / "ramp.wav", start=2.0, end=1.0)
    with pytest.raises(MediaDecodeError):  # a segment past the end holds no samples
        load_audio(tmp_path / "ramp.wav", start=5.0, end=6.0)


def test_custom_sampling_rate(tmp_path):
    sf.write(tmp_path / "t.wav", tone(440, 1.0, SR), SR)
    assert len(load_audio(tmp_path / "t.wav", sampling_rate=8000)) == 8000


# ---- bad inputs ------------------------------------------------------------------------------------------------

def _bad_files(tmp_path):
    good = tone(440, 1.0, SR)
    sf.write(tmp_path / "real.wav", good, SR)
    sf.write(tmp_path / "real.flac", good, SR)
    files = {
        "missing": tmp_path / "does_not_exist.wav",
        "folder": tmp_path / "a_folder.wav",
        "empty": tmp_path / "empty.wav",
        "random_bytes": tmp_path / "noise.wav",
        "truncated_wav": tmp_path / "truncated.wav",
        "truncated_flac": tmp_path / "truncated.flac",
        "text": tmp_path / "notes.mp4",
    }
    files["folder"].mkdir()
    files["empty"].write_bytes(b"")
    files["random_bytes"].write_bytes(np.random.default_rng(0).bytes(4096))
    files["truncated_wav"].write_bytes((tmp_path / "real.wav").read_bytes()[:100])
    files["truncated_flac"].write_bytes((tmp_path / "real.flac").read_bytes()[:100])
    files["text"].write_text("this is not a video\n" * 20)
    return files


BAD = ["missing", "folder", "empty", "random_bytes", "truncated_wav", "truncated_flac", "text"]


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_raises_one_line_media_decode_error_naming_the_path(tmp_path, kind):
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(MediaDecodeError) as info:
        load_audio(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    assert len(message) < 400


def test_video_without_audio_stream(tmp_path):
    path = tmp_path / "video_only.mp4"
    write_video_only(path)
    with pytest.raises(MediaDecodeError, match="no audio stream") as info:
        load_audio(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# ---- validate_signal / resample --------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_validate_signal_rejects_non_finite(bad):
    x = np.zeros(SR, np.float32)
    x[100] = bad
    with pytest.raises(MediaDecodeError, match="NaN or infinite"):
        validate_signal(x, SR)


def test_validate_signal_channels_first_or_last():
    a, b = np.full(1000, 0.2, np.float32), np.full(1000, 0.6, np.float32)
    last = validate_signal(np.stack([a, b], axis=1), SR)
    first = validate_signal(np.stack([a, b], axis=0), SR)
    assert last.shape == first.shape == (1000,)
    np.testing.assert_allclose(last, 0.4, atol=1e-6)
    np.testing.assert_allclose(first, 0.4, atol=1e-6)


def test_validate_signal_int16_matches_soundfile_float_scaling(tmp_path):
    x = np.array([0, 16384, 32767, -32768, -16384], np.int16)
    out = validate_signal(x, SR)
    assert out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
    np.testing.assert_allclose(out, [0.0, 0.5, 32767 / 32768, -1.0, -0.5], atol=1e-6)
    # Same scaling as soundfile's int16 -> float conversion.
    sf.write(tmp_path / "i.wav", np.tile(x, 100), SR, subtype="PCM_16")
    as_int, _ = sf.read(tmp_path / "i.wav", dtype="int16")
    as_float, _ = sf.read(tmp_path / "i.wav", dtype="float32")
    np.testing.assert_allclose(validate_signal(as_int, SR), as_float, atol=1e-7)


def test_validate_signal_uint8_is_offset_binary():
    out = validate_signal(np.array([128, 255, 0, 192], np.uint8), SR)
    np.testing.assert_allclose(out, [0.0, 127 / 128, -1.0, 0.5], atol=1e-6)


@pytest.mark.parametrize("rate", [0, -16000, 16000.0, "16000", None])
def test_validate_signal_bad_sampling_rate(rate):
    with pytest.raises(ParameterError, match="sampling_rate"):
        validate_signal(np.zeros(SR, np.float32), rate)


def test_validate_signal_bad_shape_and_dtype():
    with pytest.raises(ParameterError):
        validate_signal(np.zeros((2, 3, 100), np.float32), SR)
    with pytest.raises(ParameterError):
        validate_signal(np.array(["a", "b"]), SR)


def test_validate_signal_too_short():
    with pytest.raises(AudioTooShortError, match="0.100 s") as info:
        validate_signal(np.zeros(1600, np.float32), SR, min_duration=0.5, name="clip.wav")
    assert "clip.wav" in str(info.value)
    assert isinstance(info.value, MediaDecodeError)
    assert validate_signal(np.zeros(8000, np.float32), SR, min_duration=0.5).shape == (8000,)


def test_resample_length_and_frequency():
    y = resample(tone(1000, 1.0, 48000), 48000, SR)
    assert len(y) == SR and y.dtype == np.float32
    assert dominant_frequency(y) == pytest.approx(1000, abs=2)
    x = tone(200, 0.5, SR)
    assert resample(x, SR, SR) is x or np.array_equal(resample(x, SR, SR), x)
    with pytest.raises(ParameterError):
        resample(x, 0, SR)
