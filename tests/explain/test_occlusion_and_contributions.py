"""Occlusion of speech spans and modality contributions, on fake predictors with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.errors import ParameterError
from avemo.explain import ExplainOptions
from avemo.explain.contributions import modality_contributions
from avemo.explain.occlusion import importance_curve, occlude, occlusion_spans
from avemo.inference.engine import fuse_distributions
from avemo.inference.sliding import window_bounds

SR = 16000
LABELS = ("angry", "happy", "sad", "neutral")


def energy_in_second_two(signals):
    """A fake system: the probability of its class grows with the energy between 1 s and 2 s, and nothing else."""
    out = []
    for s in signals:
        rms = float(np.sqrt(np.mean(s[SR:2 * SR] ** 2)))
        out.append(rms / (rms + 0.05))
    return np.array(out)


def test_the_span_that_matters_ranks_first():
    signal = (0.1 * np.random.default_rng(0).standard_normal(4 * SR)).astype(np.float32)
    calls = []
    base, spans = occlusion_spans(signal, SR, lambda s: calls.append(len(s)) or energy_in_second_two(s), 0.5, 0.25)
    assert base == pytest.approx(energy_in_second_two([signal])[0])
    assert [(s.start, s.end) for s in spans] == window_bounds(4.0, 0.5, 0.25)
    ranked = sorted(spans, key=lambda s: -s.importance)
    assert 1.0 <= ranked[0].start and ranked[0].end <= 2.0  # a span inside the second that matters
    inside = [s for s in spans if s.start >= 1.0 and s.end <= 2.0]
    outside = [s for s in spans if s.end <= 1.0 or s.start >= 2.0]
    assert min(s.importance for s in inside) > 0.05
    assert max(abs(s.importance) for s in outside) < 1e-9
    assert calls == [1, len(spans)]  # the whole signal once, then every occluded copy in one call
    times, curve = importance_curve(spans, 4.0)
    assert curve[np.argmin(abs(times - 1.5))] > 0.05 and curve[np.argmin(abs(times - 3.0))] == pytest.approx(0.0)


def test_silent_spans_are_not_predicted_again():
    signal = np.zeros(3 * SR, np.float32)
    signal[SR:2 * SR] = 0.2 * np.sin(2 * np.pi * 200 * np.arange(SR) / SR)
    seen = []
    _, spans = occlusion_spans(signal, SR, lambda s: seen.extend(s) or energy_in_second_two(s), 0.5, 0.5, base=0.8)
    assert [s.silent for s in spans] == [True, True, False, False, True, True]
    assert len(seen) == 2 and all(s.importance == 0.0 for s in spans if s.silent)


def test_occlude_fills_with_silence_or_noise():
    signal = np.ones(SR, np.float32)
    assert not occlude(signal, 100, 200)[100:200].any() and occlude(signal, 100, 200)[99] == 1.0
    noisy = occlude(signal, 0, SR, fill_db=-40.0)
    assert 20 * np.log10(np.sqrt(np.mean(noisy ** 2))) == pytest.approx(-40.0, abs=0.5)
    with pytest.raises(ParameterError):
        occlusion_spans(np.zeros((10, 2)), SR, energy_in_second_two, 0.5, 0.25)


def test_options_cap_the_number_of_spans():
    options = ExplainOptions(max_spans=16)
    assert options.windows(4.0) == (0.5, 0.25)
    for duration in (4.1, 10.0, 60.0, 600.0):
        window, hop = options.windows(duration)
        assert hop == pytest.approx(window / 2) and len(window_bounds(duration, window, hop)) <= 17
    for bad in ({"span": 0}, {"hop": 1.0}, {"max_spans": 0}, {"fill_db": 3.0}, {"predict": "face"}):
        with pytest.raises(ParameterError):
            ExplainOptions(**bad)


def fuse(parts):
    return fuse_distributions(parts, {"speech": 0.5, "face": 0.5}, {"speech": 1.5, "face": 1.0}, LABELS)


def test_two_modalities_shares_sum_to_one_and_follow_the_evidence():
    speech = {"angry": 0.1, "happy": 0.7, "sad": 0.1, "neutral": 0.1}
    face = {"angry": 0.2, "happy": 0.4, "sad": 0.2, "neutral": 0.2}
    fused = fuse({"speech": speech, "face": face})
    rows = {c["modality"]: c for c in modality_contributions({"speech": speech, "face": face}, fuse, "happy", LABELS)}
    assert sum(c["share"] for c in rows.values()) == pytest.approx(1.0, abs=1e-3)
    assert all(0.0 <= c["share"] <= 1.0 for c in rows.values())
    assert rows["speech"]["share"] > rows["face"]["share"] > 0  # speech is the surer of "happy"
    # efficiency: the Shapley values add up to the fused probability minus chance
    assert sum(c["shapley"] for c in rows.values()) == pytest.approx(fused["happy"] - 1 / len(LABELS), abs=1e-4)
    assert rows["speech"]["probability_without"] == pytest.approx(fuse({"face": face})["happy"], abs=1e-4)
    assert rows["speech"]["drop_when_removed"] == pytest.approx(fused["happy"] - fuse({"face": face})["happy"],
                                                                abs=1e-4)


def test_a_modality_against_the_class_gets_no_share_and_one_modality_gets_all():
    speech = {"angry": 0.05, "happy": 0.85, "sad": 0.05, "neutral": 0.05}
    face = {"angry": 0.6, "happy": 0.1, "sad": 0.2, "neutral": 0.1}
    rows = {c["modality"]: c for c in modality_contributions({"speech": speech, "face": face}, fuse, "happy", LABELS)}
    assert rows["face"]["share"] == 0.0 and rows["speech"]["share"] == 1.0 and rows["face"]["shapley"] < 0
    alone = modality_contributions({"face": face}, fuse, "angry", LABELS)
    assert len(alone) == 1 and alone[0]["share"] == 1.0 and alone[0]["probability_without"] is None
    with pytest.raises(ParameterError):
        modality_contributions({}, fuse, "happy", LABELS)
    with pytest.raises(ParameterError):
        modality_contributions({"face": face}, fuse, "calm", LABELS)
