"""Recording conditions: each does what its name says, keeps the length, and is repeatable."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.errors import ParameterError
from avemo.features.audio.degrade import CONDITIONS, add_noise, degrade, telephone
from avemo.io.synth import synth_voice

SR = 16000


@pytest.fixture(scope="module")
def voice():
    return synth_voice(1.5, 160.0, SR) * 0.3


def _snr(clean, noisy):
    return 10 * np.log10(np.mean(clean ** 2) / np.mean((noisy - clean) ** 2))


@pytest.mark.parametrize("condition", [*CONDITIONS, "random"])
def test_every_condition_keeps_shape_and_range_and_repeats(voice, condition):
    out = degrade(voice, condition)
    assert out.shape == voice.shape and out.dtype == np.float32
    assert np.abs(out).max() <= 1.0 and np.isfinite(out).all()
    np.testing.assert_array_equal(out, degrade(voice, condition))  # seeded by the clip's content
    if condition != "clean":
        assert not np.allclose(out, voice)


@pytest.mark.parametrize("snr", [5.0, 20.0])
def test_noise_at_the_asked_snr(voice, snr):
    assert _snr(voice, add_noise(voice, snr, np.random.default_rng(0))) == pytest.approx(snr, abs=0.01)


def test_telephone_removes_low_and_high_frequencies():
    t = np.arange(SR) / SR
    low, mid, high = (np.sin(2 * np.pi * f * t).astype(np.float32) * 0.3 for f in (100, 1000, 6000))
    for tone, kept in ((low, False), (mid, True), (high, False)):
        ratio = np.std(telephone(tone)[2000:-2000]) / np.std(tone)
        assert (ratio > 0.8) if kept else (ratio < 0.1)


def test_unknown_condition(voice):
    with pytest.raises(ParameterError, match="unknown recording condition"):
        degrade(voice, "underwater")
    from avemo.features.base import create_extractor

    with pytest.raises(ParameterError, match="condition"):
        create_extractor("whisper_stats", condition="underwater")


def test_loudness_normalisation_does_not_depend_on_gain(voice):
    from avemo.features.audio.whisper_layers import normalise_loudness

    quiet = np.concatenate([voice, voice * 0.01])  # speech, then a much quieter part
    for gain in (1.0, 0.1, 0.01):
        out = normalise_loudness(quiet * gain, -23.0)
        np.testing.assert_allclose(out, normalise_loudness(quiet, -23.0), rtol=1e-4, atol=1e-6)
    silent = np.zeros(SR, np.float32)
    assert np.array_equal(normalise_loudness(silent, -23.0), silent)


def _pitch(x):
    """The strongest periodicity of ``x`` in Hz (autocorrelation peak between 60 and 400 Hz)."""
    x = x - x.mean()
    ac = np.correlate(x[:8000], x[:8000], mode="full")[7999:]
    lo, hi = SR // 400, SR // 60
    return SR / (lo + int(np.argmax(ac[lo:hi])))


def test_another_voice_moves_pitch_and_length_by_one_factor_and_repeats(voice):
    from avemo.features.audio.degrade import VOICE_FACTORS, change_voice

    faster = change_voice(voice, 1.1)
    assert abs(len(faster) - len(voice) / 1.1) <= 1 and faster.dtype == np.float32
    assert _pitch(faster) / _pitch(voice) == pytest.approx(1.1, rel=0.03)
    out = degrade(voice, "voice")
    np.testing.assert_array_equal(out, degrade(voice, "voice"))  # seeded by the clip's content
    factor = len(voice) / len(out)
    assert any(lo - 0.01 <= factor <= hi + 0.01 for lo, hi in VOICE_FACTORS)
