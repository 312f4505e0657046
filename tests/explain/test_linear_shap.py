"""SHAP values per feature group of the linear systems: exact (they add up to logit - base), over groups that
partition the features, and computed on the very model the system predicts with."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from avemo.errors import ParameterError
from avemo.explain.linear import action_unit_view, group_shap, linear_speech_view, probe_features, probe_view
from avemo.io.synth import synth_voice
from avemo.systems.base import load_system
from avemo.systems.speech_probe import FEATURE

SR = 16000


def check_groups(view, x, target):
    """The groups partition the columns, and the group SHAP values add up to the target's logit minus base."""
    columns = np.sort(np.concatenate([cols for _, cols in view.groups]))
    assert np.array_equal(columns, np.arange(len(view.mean)))
    out = group_shap(view, x, target)
    c = view.classes.index(target)
    logit = view.logits(x)[c]
    total = sum(g["shap"] for g in out["feature_groups"])
    assert out["method"]["base"] == pytest.approx(float(view.bias[c]), abs=1e-4)  # background: the stored means
    assert total == pytest.approx(logit - out["method"]["base"], abs=1e-3 * max(1.0, abs(logit)))
    assert out["method"]["logit"] == pytest.approx(logit, abs=1e-4)
    assert [abs(g["shap"]) for g in out["feature_groups"]] == sorted((abs(g["shap"]) for g in out["feature_groups"]),
                                                                     reverse=True)
    return out


def test_speech_probe_groups_are_layer_by_statistic():
    system = load_system("speech-multicorpus", kind="speech-probe")
    head = system.heads_["global"]
    rng = np.random.default_rng(0)
    x = head["mean"] + head["std"] * rng.standard_normal(len(head["mean"])).astype(np.float32)
    view = probe_view(system, x=x)  # an MLP head is linearised at x; a linear one is the same everywhere
    block, head_layers = 2 * system.width_, system.heads_["global"]["layers"]
    full = np.zeros(block * len(system.layers), np.float32)  # every layer the system reads (its other heads' too)
    for k, layer in enumerate(head_layers):
        at = system.layers.index(layer) * block
        full[at:at + block] = x[k * block:(k + 1) * block]
    assert np.array_equal(probe_features(system, {FEATURE: [full]}), x)
    probabilities = system.predict_proba(full[None])[0]
    assert np.allclose(softmax(view.logits(x) / view.temperature), probabilities, atol=1e-4)
    target = system.classes[int(np.argmax(probabilities))]
    out = check_groups(view, x, target)
    layers = system.heads_["global"]["layers"]
    assert len(out["feature_groups"]) == 2 * len(layers)
    assert {g["group"] for g in out["feature_groups"]} == {f"Whisper base layer {i} {s}" for i in layers
                                                           for s in ("mean", "std")}
    at_background = group_shap(view, view.mean, target)
    assert all(g["shap"] == pytest.approx(0.0, abs=1e-6) for g in at_background["feature_groups"])


def test_linear_speech_system_and_its_features(tiny_model_dir):
    system = load_system(tiny_model_dir)
    extractors = system.feature_extractors()
    features = {k: [e.process_signal(synth_voice(1.5, 160, SR), SR)] for k, e in extractors.items()}
    view, x = linear_speech_view(system, features)
    probabilities = system.predict_proba(features)[0]
    assert np.allclose(softmax(view.logits(x)), probabilities, atol=1e-4)
    out = check_groups(view, x, system.classes[int(np.argmax(probabilities))])
    assert {g["group"] for g in out["feature_groups"]} == {"logmel mean", "logmel std"}
    with pytest.raises(ParameterError, match="not one of"):
        group_shap(view, x, "bored")
    with pytest.raises(ParameterError, match="dimensions"):
        group_shap(view, x[:-1], "happy")


def test_action_unit_groups():
    system = load_system("av-ravdess-openface", kind="av-late-fusion")
    view = action_unit_view(system)
    rng = np.random.default_rng(1)
    au = np.clip(view.mean + view.std * rng.standard_normal(len(view.mean)), 0, None).astype(np.float32)
    probabilities = system.modality_proba(au=au)["action_units"][0]
    assert np.allclose(softmax(view.logits(au) / view.temperature), probabilities, atol=1e-4)
    out = check_groups(view, au, "happy")
    names = [g["group"] for g in out["feature_groups"]]
    assert len(names) == 18 and "AU12" in names and "AU28" in names
