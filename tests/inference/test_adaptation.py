"""Speaker adaptation through the engine: a multi-corpus probe on Whisper tiny.en statistics of synthetic voices;
the adapted head takes over once a speaker has enough unlabelled recordings."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from avemo.demo.clip import synth_voice
from avemo.errors import ParameterError
from avemo.features.base import create_extractor
from avemo.inference.engine import InferenceEngine
from avemo.systems.speech_probe import CorpusInputs, SpeechProbeSystem

SR = 16000
PITCHES = (100.0, 120.0, 145.0, 175.0, 210.0, 250.0, 300.0, 360.0)


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory):
    """A probe trained on 4 synthetic 'speakers' of RAVDESS (one pitch per class, a gain per speaker)."""
    extractor = create_extractor("whisper_stats", model="tiny.en", layers=[1, 2, 3])
    xs, ys, speakers = [], [], []
    for speaker in range(4):
        for label, pitch in enumerate(PITCHES):
            signal = synth_voice(0.8, pitch * (1 + 0.04 * speaker), SR, seed=100 * speaker + label)
            xs.append(extractor.process_signal(signal * (0.2 + 0.2 * speaker), SR))
            ys.append(label)
            speakers.append(f"ravdess:{speaker}")
    inputs = CorpusInputs.create(np.stack(xs), ["ravdess"] * len(ys), speakers, (1, 2, 3))
    index = np.array([int(s.split(":")[1]) for s in speakers])
    system = SpeechProbeSystem(model="tiny.en", layer_grid=[(1, 2, 3), (3,)], l2_grid=[1e-3])
    system.fit(inputs, np.array(ys), (np.flatnonzero(index < 3), np.flatnonzero(index == 3)))
    return system.save(tmp_path_factory.mktemp("models") / "probe")


def test_engine_loads_a_probe_and_adapts_to_a_speaker(probe_dir, tmp_path):
    engine = InferenceEngine(probe_dir, modalities=("speech",))
    paths = []
    for label in range(3):
        paths.append(tmp_path / f"s{label}.wav")
        sf.write(paths[-1], synth_voice(0.8, PITCHES[label] * 1.02, SR, seed=900 + label) * 0.5, SR)
    plain = engine.predict_file(paths[0])
    assert plain.status == "ok" and len(plain.probabilities) == 8

    adaptation = engine.speaker_adaptation()
    assert not adaptation.ready
    before = adaptation.predict_file(paths[0])
    assert before.probabilities == pytest.approx(plain.probabilities, abs=1e-6)  # global head until ready
    assert "global" in before.message
    for path in paths:
        adaptation.add_file(path)
    assert adaptation.ready and adaptation.count == 3
    after = adaptation.predict_file(paths[0])
    assert after.message == "speaker-adapted"
    # The adapted head with the speaker's running statistics, as the system computes it directly.
    (extractor,) = engine.speech.extractors.values()
    x = np.stack([extractor.process_file(p) for p in paths])
    mean, std = adaptation.statistics()
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(std, np.maximum(x.std(0), 1e-3), rtol=1e-3, atol=1e-5)
    expected = engine.speech.system.predict_proba_adapted(x[:1], mean, std)[0]
    assert list(after.probabilities.values()) == pytest.approx(expected.tolist(), abs=1e-5)


def test_adaptation_needs_an_adapted_head(tiny_model_dir):
    engine = InferenceEngine(tiny_model_dir, modalities=("speech",))
    with pytest.raises(ParameterError, match="speaker-adapted head"):
        engine.speaker_adaptation()
