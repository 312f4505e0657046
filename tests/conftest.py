"""Shared fixtures: a tiny trained speech system (linear on pooled log-mel) for the recognizer and CLI tests."""

from __future__ import annotations

import numpy as np
import pytest

SR = 16000
#: One pitch per ravdess8 class, so that the classes are learnable from log-mel statistics.
CLASS_PITCHES = (90.0, 110.0, 135.0, 160.0, 190.0, 225.0, 265.0, 310.0)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A saved linear system (``logmel:meanstd``, ravdess8) trained on 16 synthetic voices (2 per class)."""
    from avemo.demo.clip import synth_voice
    from avemo.features.base import create_extractor
    from avemo.systems import SpeechSystem, SystemSpec

    extractor = create_extractor("logmel")
    signals, y = [], []
    for label, pitch in enumerate(CLASS_PITCHES):
        for k in range(2):
            signals.append(synth_voice(1.5, pitch * (1 + 0.03 * k), SR, seed=10 * label + k))
            y.append(label)
    features = {"logmel": [extractor.process_signal(s, SR) for s in signals]}
    spec = SystemSpec(name="tiny-linear", kind="linear", vectors=["logmel:meanstd"], label_set="ravdess8",
                      linear={"C": 1.0})
    system = SpeechSystem(spec).fit(features, np.array(y), [(list(range(len(y))), [])])
    return system.save(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_model_pitches():
    """The voice pitch (Hz) of each ravdess8 class in ``tiny_model_dir``'s training data."""
    return CLASS_PITCHES
