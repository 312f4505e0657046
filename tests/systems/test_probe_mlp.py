"""The speech probe's MLP global head: its fit, its choice by the nested rule where a linear head cannot separate
the classes (and not where it can), save / load, and its local linearisation for explanations."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.data.recipes import corpus_class_mask
from avemo.errors import CheckpointError, ParameterError
from avemo.explain.linear import group_shap, probe_view
from avemo.labels import label_set
from avemo.systems.probe_inputs import CorpusInputs
from avemo.systems.probe_mlp import (PARAMETERS, fit_head, fit_mlp, head_logits, held_out_corpus_logits,
                                    local_linearisation, mlp_logits)
from avemo.systems.probe_stats import corpus_ua, fit_softmax_regression
from avemo.systems.speech_probe import SpeechProbeSystem
from avemo.systems.transfer_selection import loco_select
from tests.systems.test_speech_probe import LAYERS, WIDTH, synthetic

CLASSES = label_set("ravdess8")
CORPORA = ("ravdess", "turev", "urdu", "emovo")


def two_sided(corpora=CORPORA, speakers=3, per_class=12, seed=0):
    """Rows whose class shows in layer 1's block as +centre or -centre at random: every class has the same mean,
    so no linear head can tell them apart, while their distance from the origin's directions can."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(CLASSES), 2 * WIDTH)) * 3.0
    xs, ys, cs, ss = [], [], [], []
    for corpus in corpora:
        for s in range(speakers):
            for k in np.flatnonzero(corpus_class_mask(corpus)):
                for i in range(per_class):
                    x = rng.normal(size=2 * WIDTH * len(LAYERS)) * 0.5
                    x[2 * WIDTH: 4 * WIDTH] += centres[k] * (1 if i % 2 else -1)
                    xs.append(x)
                    ys.append(k)
                    cs.append(corpus)
                    ss.append(f"{corpus}:{s}")
    return CorpusInputs.create(np.array(xs), cs, ss, LAYERS), np.array(ys)


def score(yy, p, c):
    return corpus_ua(yy, p, c, CLASSES)


def test_fit_mlp_learns_what_a_linear_head_cannot_and_is_deterministic():
    inputs, y = two_sided(corpora=("ravdess",))
    x = inputs.columns((1,))
    mask = np.ones((len(y), len(CLASSES)), bool)
    w = np.ones(len(y))
    params = fit_mlp(x, y, mask, w)
    assert set(params) == {"w1", "b1", "coef", "bias"}
    mlp_acc = (mlp_logits(x, params).argmax(1) == y).mean()
    coef, bias = fit_softmax_regression(x, y, mask, w, 1e-3)
    linear_acc = ((x @ coef.T + bias).argmax(1) == y).mean()
    assert mlp_acc > 0.9 and linear_acc < 0.5
    again = fit_mlp(x, y, mask, w)
    assert all(np.array_equal(params[k], again[k]) for k in params)
    with pytest.raises(ParameterError, match="outside the classes"):
        fit_mlp(x, y, np.zeros_like(mask), w)
    with pytest.raises(ParameterError, match="no training rows"):
        fit_mlp(x[:0], y[:0], mask[:0], w[:0])


def test_a_class_its_corpus_lacks_is_not_pushed_down_under_the_masked_loss():
    inputs, y = two_sided(corpora=("ravdess",))
    x = inputs.columns((1,))
    mask = np.ones((len(y), len(CLASSES)), bool)
    calm = CLASSES.index("calm")
    keep = y != calm
    masked = mask[keep].copy()
    masked[:, calm] = False  # as a corpus without calm
    full = fit_mlp(x[keep], y[keep], mask[keep], np.ones(keep.sum()))
    free = fit_mlp(x[keep], y[keep], masked, np.ones(keep.sum()))
    # taught "nothing is calm" only under the full mask: its logit sits lower there
    assert mlp_logits(x, full)[:, calm].mean() < mlp_logits(x, free)[:, calm].mean()


def test_the_nested_rule_scores_an_mlp_per_loss_and_layers_and_takes_it_only_where_it_wins():
    inputs, y = two_sided()
    args = (CLASSES, [(0,), (1,)], [1e-2, 1.0], ["masked", "full"], lambda c, yy: np.ones(len(yy)),
            fit_softmax_regression, score)
    choice = loco_select(inputs.columns, y, inputs.corpus, *args, heads=("linear", "mlp"))
    assert len(choice.scores) == 2 * 2 * (2 + 1)  # layers x losses x (L2 strengths + one MLP)
    assert sum(s["head"] == "mlp" for s in choice.scores) == 4
    assert choice.head == "mlp" and choice.layers == (1,)
    assert choice.score == max(s["loco_ua"] for s in choice.scores)
    linear_data, ly = synthetic(corpora=CORPORA, speakers=3, per_class=3)  # linearly separable: linear wins ties
    assert loco_select(linear_data.columns, ly, linear_data.corpus, *args, heads=("linear",)).head == "linear"
    with pytest.raises(ParameterError, match="head kinds"):
        loco_select(inputs.columns, y, inputs.corpus, *args, heads=("forest",))


def test_a_probe_with_an_mlp_head_predicts_round_trips_and_explains(tmp_path):
    inputs, y = two_sided()
    index = np.array([int(s.split(":")[1]) for s in inputs.speaker])
    train, val = np.flatnonzero(index != 0), np.flatnonzero(index == 0)
    system = SpeechProbeSystem(model="tiny.en", layer_grid=[(1,), (0, 1, 2)], l2_grid=[1e-2], losses=["masked"],
                               selection="loco", abstain_coverage=0.8, global_heads=["linear", "mlp"])
    system.fit(inputs, y, (train, val))
    head = system.heads_["global"]
    assert head["kind"] == "mlp" and system.fit_report()["global"]["kind"] == "mlp"
    assert "kind" not in system.heads_["adapted"]  # the adapted heads stay linear
    assert system.describe()["description"].startswith("MLP probe")
    probs = system.predict_proba(inputs)
    assert (probs.argmax(1) == y).mean() > 0.8
    back = SpeechProbeSystem.load(system.save(tmp_path / "probe"))
    assert back.global_heads == ["linear", "mlp"] and back.fit_report() == system.fit_report()
    np.testing.assert_allclose(back.predict_proba(inputs), probs, atol=1e-6)
    np.testing.assert_allclose(back.predict_proba(inputs, adapt=True), system.predict_proba(inputs, adapt=True),
                               atol=1e-6)
    # the explanation's linear model is the MLP's tangent at the recording: it gives the head's logits there
    x = inputs.columns(head["layers"])[0]
    view = probe_view(system, x=x)
    z = (x - head["mean"]) / head["std"]
    exact = mlp_logits(z[None].astype(np.float32) @ head["basis"], head)[0]
    np.testing.assert_allclose(view.logits(x), exact, atol=1e-4)
    coef, _ = local_linearisation(z, head)
    step = np.zeros_like(z)
    step[3] = 1e-3
    moved = mlp_logits((z + step)[None].astype(np.float32) @ head["basis"], head)[0]
    np.testing.assert_allclose((moved - exact) / 1e-3, coef[:, 3], atol=2e-2)
    assert "gradient x input" in group_shap(view, x, CLASSES[int(y[0])])["method"]["note"]
    with pytest.raises(ParameterError, match="MLP"):
        probe_view(system)
    # a corrupt MLP head is refused on load
    import safetensors.numpy

    folder = tmp_path / "probe"
    tensors = safetensors.numpy.load_file(str(folder / "weights.safetensors"))
    assert {f"global.{k}" for k in PARAMETERS} <= set(tensors)
    tensors["global.w1"] = tensors["global.w1"][:, :2].copy()
    safetensors.numpy.save_file(tensors, str(folder / "weights.safetensors"))
    with pytest.raises(CheckpointError, match="global head"):
        SpeechProbeSystem.load(folder)


def test_an_mlp_head_needs_the_nested_rule_and_known_kinds():
    with pytest.raises(ParameterError, match="selection='loco'"):
        SpeechProbeSystem(global_heads=["linear", "mlp"])
    with pytest.raises(ParameterError, match="global_heads"):
        SpeechProbeSystem(selection="loco", global_heads=["forest"])
    inputs, _ = two_sided(corpora=("ravdess",), speakers=1, per_class=1)
    plain = SpeechProbeSystem(selection="loco").fit_settings(inputs)
    assert SpeechProbeSystem(selection="loco", global_heads=["linear", "mlp"]).fit_settings(inputs) != plain


def test_held_out_corpus_logits_come_from_networks_that_never_saw_the_corpus():
    """Two corpora whose features map to the labels in opposite ways: each corpus's held-out logits come from the
    network fitted on the other, so they are wrong on it (a network fitted on the corpus itself is right)."""
    rng = np.random.default_rng(0)
    n = 400
    z = rng.normal(size=(n, 4)).astype(np.float32)
    corpus = np.array(["ravdess"] * (n // 2) + ["turev"] * (n // 2), dtype=object)
    sign = np.where(corpus == "ravdess", 1.0, -1.0)
    y = (z[:, 0] * sign > 0).astype(np.int64)
    mask = np.zeros((n, len(CLASSES)), bool)
    mask[:, :2] = True
    weights = lambda c, yy: np.ones(len(yy))  # noqa: E731
    held_out = held_out_corpus_logits(z, y, mask, corpus, weights)
    assert held_out.shape == (n, len(CLASSES))
    assert (held_out[:, :2].argmax(1) == y).mean() < 0.2
    r = corpus == "ravdess"
    own = mlp_logits(z[r], fit_mlp(z[r], y[r], mask[r], np.ones(r.sum())))
    assert (own[:, :2].argmax(1) == y[r]).mean() > 0.9
    some = held_out_corpus_logits(z, y, mask, corpus, weights, train=np.flatnonzero(np.arange(n) % 2 == 0))
    assert (some[:, :2].argmax(1) == y).mean() < 0.2
    with pytest.raises(ParameterError, match="two or more training corpora"):
        held_out_corpus_logits(z, y, mask, corpus, weights, train=np.flatnonzero(corpus == "turev"))


def test_a_held_out_corpus_takes_no_part_in_the_standardisation_or_components_of_its_logits():
    """Each corpus's held-out logits are exactly those of the recipe (standardisation, principal components,
    network) fitted on the other corpora alone: a corpus with directions of its own, which a projection shared with
    it would keep, gets nothing from them."""
    rng = np.random.default_rng(1)
    n, d = 300, 6
    corpus = np.array(["ravdess", "turev", "urdu"] * (n // 3), dtype=object)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x[corpus == "urdu", 5] += rng.normal(size=n // 3) * 40.0  # urdu alone varies along column 5
    y = (x[:, 0] > 0).astype(np.int64)
    mask = np.zeros((n, len(CLASSES)), bool)
    mask[:, :2] = True
    weights = lambda c, yy: np.ones(len(yy))  # noqa: E731
    held_out = held_out_corpus_logits(x, y, mask, corpus, weights)
    for name in ("ravdess", "urdu"):
        own, rest = corpus == name, corpus != name
        z = x[rest]
        mean, std = z.mean(0), np.maximum(z.std(0), 1e-6)
        head = fit_head((z - mean) / std, y[rest], mask[rest], np.ones(rest.sum()))
        np.testing.assert_allclose(held_out[own], head_logits((x[own] - mean) / std, head), rtol=1e-5, atol=1e-5)
    # the previous way, a standardisation and components shared with the held-out corpus, says something else
    urdu, rest = corpus == "urdu", corpus != "urdu"
    shared = (x - x.mean(0)) / np.maximum(x.std(0), 1e-6)
    head = fit_head(shared, y, mask, np.ones(n))
    head.update(fit_mlp(shared[rest] @ head["basis"], y[rest], mask[rest], np.ones(rest.sum())))
    assert np.abs(held_out[urdu] - head_logits(shared[urdu], head)).max() > 0.1


def test_an_mlp_head_is_calibrated_on_its_own_recipe_refitted_without_each_corpus(monkeypatch):
    """The temperature and abstention level of a chosen MLP come from the shipped recipe's held-out-corpus logits
    of every fitted row (not from the inner loop's smaller proxies)."""
    from avemo.systems import probe_mlp
    from avemo.systems.transfer_selection import abstention_threshold, softmax
    from avemo.train.calibration import TemperatureScaler

    seen = []

    def spy(x, y, mask, corpus, weights, train=None):
        out = held_out_corpus_logits(x, y, mask, corpus, weights, train)
        seen.append((np.asarray(y), np.asarray(corpus), train, out))
        return out

    monkeypatch.setattr(probe_mlp, "held_out_corpus_logits", spy)
    inputs, y = two_sided()
    index = np.array([int(s.split(":")[1]) for s in inputs.speaker])
    train, val = np.flatnonzero(index != 0), np.flatnonzero(index == 0)
    system = SpeechProbeSystem(model="tiny.en", layer_grid=[(1,)], l2_grid=[1e-2], losses=["masked"],
                               selection="loco", abstain_coverage=0.8, global_heads=["linear", "mlp"])
    system.fit(inputs, y, (train, val))
    head = system.heads_["global"]
    assert head["kind"] == "mlp" and len(seen) == 1
    yy, corpus, fitted, logits = seen[0]
    assert len(yy) == len(y) and len(fitted) == len(y) and set(corpus) == set(CORPORA)  # refit: every row
    mask = np.stack([corpus_class_mask(c) for c in corpus])
    temperature = TemperatureScaler().fit(np.where(mask, logits, -1e4), yy).temperature_
    assert head["temperature"] == pytest.approx(temperature)
    assert head["abstain_below"] == abstention_threshold(softmax(logits / temperature).max(1), 0.8)
