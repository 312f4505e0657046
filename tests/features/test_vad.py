"""Silero VAD trimming (ONNX model from the silero-vad wheel) on the committed talking-face clip's speech."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.errors import AssetNotFoundError
from avemo.features.audio import vad
from avemo.io.audio import load_audio

SR = 16000


def test_trims_silence_around_speech(talking_face):
    speech = load_audio(talking_face, SR)
    padded = np.concatenate([np.zeros(SR * 2, np.float32), speech, np.zeros(SR * 2, np.float32)])
    probs = vad.speech_probabilities(padded)
    assert probs.shape == (-(-len(padded) // vad.CHUNK),)
    assert probs[:40].max() < 0.5 and probs.max() > 0.5  # silence first, then speech
    trimmed = vad.trim_to_speech(padded)
    assert 0.25 * SR <= len(trimmed) <= len(speech) + 0.3 * SR


def test_no_speech_keeps_the_signal():
    noise = np.random.default_rng(0).normal(0, 1e-4, SR).astype(np.float32)
    assert np.array_equal(vad.trim_to_speech(noise), noise)


def test_missing_model_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(vad.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AssetNotFoundError, match="pip install --no-deps silero-vad"):
        vad.silero_model_path()


def test_whisper_stats_with_vad_ignores_surrounding_silence(talking_face):
    from avemo.features.base import create_extractor

    speech = load_audio(talking_face, SR)
    padded = np.concatenate([np.zeros(SR * 3, np.float32), speech, np.zeros(SR * 3, np.float32)])
    extractor = create_extractor("whisper_stats", model="tiny.en", layers=[2], vad=True)
    plain = create_extractor("whisper_stats", model="tiny.en", layers=[2])
    a, b = extractor.process_signal(padded, SR), extractor.process_signal(speech, SR)
    c = plain.process_signal(padded, SR)
    # With trimming the padded clip's statistics stay near the speech's own; without, silence dominates them.
    assert np.linalg.norm(a - b) < np.linalg.norm(c - b)
