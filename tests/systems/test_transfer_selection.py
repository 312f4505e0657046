"""Training losses over corpora whose label sets differ, the nested leave-one-corpus-out choice, the abstention
level, and the speech probe that uses them."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.errors import ParameterError
from avemo.labels import label_set
from avemo.systems.probe_inputs import CorpusInputs
from avemo.systems.probe_stats import corpus_ua, fit_softmax_regression
from avemo.systems.speech_probe import SpeechProbeSystem
from avemo.systems.transfer_selection import LOSSES, abstention_threshold, loco_select, loss_masks
from tests.systems.test_speech_probe import LAYERS, synthetic

CLASSES = label_set("ravdess8")


def test_loss_masks_keep_what_each_loss_says():
    corpus = np.array(["turev", "urdu", "ravdess"])
    masked, partial, full = (loss_masks(corpus, CLASSES, loss) for loss in LOSSES)
    names = {c: i for i, c in enumerate(CLASSES)}
    assert not masked[0, names["disgust"]] and partial[0, names["disgust"]] and full[0, names["disgust"]]
    assert not partial[0, names["neutral"]] and partial[0, names["calm"]]  # TurEV has calm, not neutral
    assert not partial[1, names["calm"]] and partial[1, names["neutral"]]  # URDU the other way round
    assert masked[2].all() and partial[2].all() and full.all()
    with pytest.raises(ParameterError, match="unknown loss"):
        loss_masks(corpus, CLASSES, "focal")


def test_a_class_absent_from_a_corpus_is_pushed_down_where_the_loss_says_so():
    """Corpus B teaches disgust where feature 1 is large; corpus A has no disgust and all its clips sit there too.
    Masked, nothing tells the model that A's clips are not disgusted; the full and partial losses do."""
    rng = np.random.default_rng(0)
    k = {c: i for i, c in enumerate(CLASSES)}
    centres = {("emovo", "angry"): (1, 0), ("emovo", "sad"): (-1, 0), ("emovo", "disgust"): (0, 2),
               ("urdu", "angry"): (1, 3), ("urdu", "sad"): (-1, 3)}
    x, y, corpus = [], [], []
    for (c, emotion), centre in centres.items():
        x.append(np.array(centre) + rng.normal(0, 0.3, (40, 2)))
        y += [k[emotion]] * 40
        corpus += [c] * 40
    x, y, corpus = np.concatenate(x).astype(np.float32), np.array(y), np.array(corpus)
    urdu = corpus == "urdu"
    disgust = {}
    for loss in LOSSES:
        coef, bias = fit_softmax_regression(x, y, loss_masks(corpus, CLASSES, loss), np.ones(len(y)), 1e-3)
        logits = x[urdu] @ coef.T + bias
        p = np.exp(logits - logits.max(1, keepdims=True))
        disgust[loss] = float((p / p.sum(1, keepdims=True))[:, k["disgust"]].mean())
    assert disgust["masked"] > 0.5  # it floats up on the clips of a corpus that never pushed it down
    assert disgust["full"] < 0.2 and disgust["partial"] < 0.2


def test_loco_select_scores_each_corpus_with_a_model_that_never_saw_it():
    inputs, y = synthetic(corpora=("ravdess", "turev", "urdu"))
    seen = []

    def fit(x, yy, mask, w, l2, **kw):
        seen.append(len(yy))
        return fit_softmax_regression(x, yy, mask, w, l2, **kw)

    choice = loco_select(inputs.columns, y, inputs.corpus, CLASSES, [(0,), (1,)], [1e-2, 1.0], ["masked", "full"],
                         lambda c, yy: np.ones(len(yy)), fit, lambda yy, p, c: corpus_ua(yy, p, c, CLASSES))
    assert len(choice.scores) == 2 * 2 * 2 and len(seen) == 2 * 2 * 2 * 3  # each candidate, each held-out corpus
    assert set(seen) == {int((inputs.corpus != c).sum()) for c in ("ravdess", "turev", "urdu")}
    assert choice.score == max(s["loco_ua"] for s in choice.scores)
    assert choice.layers == (1,)  # the class shows in layer 1 only
    assert choice.logits.shape == (len(y), len(CLASSES))
    with pytest.raises(ParameterError, match="two or more"):
        loco_select(inputs.columns, y[:3], np.array(["urdu"] * 3), CLASSES, [(1,)], [1.0], ["full"],
                    lambda c, yy: np.ones(len(yy)), fit, lambda yy, p, c: {})


def test_abstention_threshold_answers_the_coverage():
    p = np.linspace(0.1, 1.0, 10)
    level = abstention_threshold(p, 0.8)
    assert (p >= level).mean() >= 0.8 and (p >= level + 0.01).mean() < 0.8
    assert abstention_threshold(p, 1.0) <= 0.1
    with pytest.raises(ParameterError):
        abstention_threshold(p, 0.0)


def test_a_probe_chosen_by_leave_one_corpus_out_keeps_its_choice_and_abstention_level(tmp_path):
    inputs, y = synthetic(corpora=("ravdess", "turev", "urdu", "emovo"), speakers=3, per_class=3)
    index = np.array([int(s.split(":")[1]) for s in inputs.speaker])
    train, val = np.flatnonzero(index != 0), np.flatnonzero(index == 0)
    system = SpeechProbeSystem(model="tiny.en", layer_grid=[(0,), (1,)], l2_grid=[1e-2, 1.0], losses=LOSSES,
                               selection="loco", abstain_coverage=0.8)
    system.fit(inputs, y, (train, val))
    report = system.fit_report()
    assert report["global"]["loss"] in LOSSES and report["adapted"]["loss"] == report["global"]["loss"]
    assert set(report["global"]["loco_by_loss"]) == set(LOSSES)
    assert 0 < system.abstain_below() < 1 and system.abstain_below(adapt=True) is not None
    assert system.info["selection"]["global"]["rule"].startswith("leave-one-corpus-out")
    back = SpeechProbeSystem.load(system.save(tmp_path / "probe"))
    assert back.fit_report() == report and back.losses == list(LOSSES) and back.selection == "loco"
    rows = CorpusInputs.create(inputs.x[:5], inputs.corpus[:5], inputs.speaker[:5], LAYERS)
    np.testing.assert_allclose(back.predict_proba(rows), system.predict_proba(rows), atol=1e-6)
    with pytest.raises(ParameterError, match="selection"):
        SpeechProbeSystem(selection="test-set")
    with pytest.raises(ParameterError, match="losses"):
        SpeechProbeSystem(losses=["hinge"])


def test_capped_rows_keep_at_most_the_cap_of_every_corpus_and_class():
    from avemo.systems.transfer_selection import capped_rows

    corpus = np.array(["a"] * 10 + ["b"] * 3)
    y = np.array([0] * 8 + [1] * 2 + [0] * 3)
    rows = capped_rows(corpus, y, cap=3)
    assert list(rows) == sorted(rows) and len(rows) == 3 + 2 + 3
    assert (y[rows][corpus[rows] == "a"] == 0).sum() == 3 and list(capped_rows(corpus, y, cap=3)) == list(rows)
