"""The recipe rule's refit score (avemo.systems.probe_inner, avemo.benchmark.cross_corpus_inner): a global head
refitted without each training corpus, the same way whatever its kind, on the nested rule's inner rows; and the
recipe table that picks by it."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.benchmark.cross_corpus_inner import refit_scores, score_inner
from avemo.benchmark.cross_corpus_tables import recipe_table
from avemo.labels import label_set
from avemo.systems.probe_inner import inner_refit_ua
from avemo.systems.probe_stats import balance_weights
from tests.systems.test_speech_probe import synthetic

CLASSES = label_set("ravdess8")


def weights(corpus, y):
    return balance_weights(corpus, y, None)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_a_head_whose_class_carries_across_corpora_scores_high_and_one_that_cannot_scores_at_chance(kind):
    inputs, y = synthetic(per_class=6, shift=0.3, seed=1)  # small speaker offsets: no adaptation needed
    rows = np.arange(len(y))
    va = rows[::7]
    choice = {"layers": [1], "l2": 0.01, "loss": "masked", **({"kind": kind} if kind != "linear" else {})}
    good = inner_refit_ua(choice, inputs, y, rows, va, CLASSES, weights)
    assert good["ua"] > 0.8 and set(good["ua_by_corpus"]) == set(inputs.corpus) and good["n_rows"] == len(rows)
    # layer 0 carries no class: the refit score falls to about chance (1 / 4 to 1 / 6 classes per corpus)
    blind = inner_refit_ua({**choice, "layers": [0]}, inputs, y, rows, va, CLASSES, weights)
    assert blind["ua"] < 0.5


def test_the_inner_rows_are_capped_per_corpus_and_class_with_every_validation_row():
    from avemo.systems.transfer_selection import CELL_CAP

    inputs, y = synthetic(corpora=("ravdess", "turev"), speakers=3, per_class=CELL_CAP // 2 + 10, seed=2)
    rows = np.arange(len(y))
    va = np.flatnonzero(np.array([s.endswith(":0") for s in inputs.speaker]))
    out = inner_refit_ua({"layers": [1], "l2": 0.1, "loss": "full"}, inputs, y, rows, va, CLASSES, weights)
    cells = len({(c, k) for c, k in zip(inputs.corpus, y)})
    assert len(va) < out["n_rows"] <= cells * CELL_CAP + len(va) < len(rows)


def test_an_attentive_head_keeps_the_score_its_fit_computed():
    inputs, y = synthetic()
    out = inner_refit_ua({"kind": "attentive", "layers": [], "l2": 0.0, "loss": "masked", "val_ua": 0.42},
                         inputs, y, np.arange(len(y)), np.arange(3), CLASSES, weights)
    assert out["ua"] == 0.42


def summary_with(systems):
    """A leave-one-corpus-out summary: ``{name: (proxy scores, refit scores or None, test UAs)}``."""
    loco = {}
    for name, (proxy, refit, test) in systems.items():
        folds = []
        for k, (p, t) in enumerate(zip(proxy, test)):
            choices = {"loco_by_loss": {"masked": p}, "val_ua": p, "layers": [1], "l2": 0.01, "loss": "masked"}
            if refit is not None:
                choices["refit_ua"] = {"ua": refit[k]}
            folds.append({"fold": f"loco-{k}", "ua": t, "choices": choices})
        loco[name] = {"folds": folds}
    return loco


def test_the_recipe_table_picks_by_the_refit_score_and_lists_a_system_without_one():
    loco = summary_with({"proxy-high": ([0.6, 0.6], [0.40, 0.40], [0.3, 0.3]),
                         "refit-high": ([0.5, 0.5], [0.45, 0.47], [0.3, 0.3]),
                         "clean": ([0.4, 0.4], [0.50, 0.50], [0.3, 0.3]),
                         "unscored": ([0.7, 0.7], None, [0.3, 0.3])})
    assert refit_scores(loco) == {"proxy-high": [0.40, 0.40], "refit-high": [0.45, 0.47], "clean": [0.50, 0.50]}
    text = "\n".join(recipe_table(loco, ("[speaker-adapted]",), clean_only={"clean"}))
    assert "By this rule the recipe to ship is `refit-high`." in text
    assert "| unscored | yes | — | 70.0 |" in text and "| clean | no: clean clips only | 50.0 | 40.0 |" in text
    # a report written before the refit score: the proxy decides, as the rule did then
    old = summary_with({"a": ([0.6], None, [0.3]), "b": ([0.5], None, [0.4])})
    assert "the recipe to ship is `a`" in "\n".join(recipe_table(old, ()))


def test_score_inner_fills_what_is_missing_and_leaves_the_rest():
    inputs, y = synthetic(per_class=5, shift=0.3, seed=3)
    loco = summary_with({"sys": ([0.5, 0.5], None, [0.3, 0.3]), "kept": ([0.5], [0.9], [0.3]),
                         "sys[speaker-adapted]": ([0.5], None, [0.3]), "elsewhere": ([0.5], None, [0.3])})
    asked = []

    def fold_rows(name, fold):
        asked.append((name, fold))
        return None if name == "elsewhere" else (np.arange(len(y)), np.arange(0, len(y), 5))

    summary = {"loco": {"systems": loco}}
    score_inner(summary, fold_rows, inputs, y, CLASSES)
    assert sorted(asked) == [("elsewhere", "loco-0"), ("sys", "loco-0"), ("sys", "loco-1")]
    assert all(f["choices"]["refit_ua"]["ua"] > 0.5 for f in loco["sys"]["folds"])
    assert loco["kept"]["folds"][0]["choices"]["refit_ua"] == {"ua": 0.9}
    assert "refit_ua" not in loco["elsewhere"]["folds"][0]["choices"]
    assert "refit_ua" not in loco["sys[speaker-adapted]"]["folds"][0]["choices"]


def test_score_inner_refits_a_head_shared_by_two_systems_once_skips_what_it_is_told_and_forks_alike(monkeypatch):
    import avemo.benchmark.cross_corpus_inner as module

    inputs, y = synthetic(per_class=5, shift=0.3, seed=4)
    rows = (np.arange(len(y)), np.arange(0, len(y), 5))

    def fresh():
        return {"loco": {"systems": summary_with({"a": ([0.5, 0.5], None, [0.3, 0.3]),
                                                   "twin": ([0.5, 0.5], None, [0.3, 0.3]),
                                                   "skipped": ([0.5], None, [0.3])})}}

    calls = []
    real = module.inner_refit_ua
    monkeypatch.setattr(module, "inner_refit_ua", lambda *a, **k: calls.append(1) or real(*a, **k))
    one = fresh()
    score_inner(one, lambda name, fold: rows, inputs, y, CLASSES, skip={"skipped"})
    assert len(calls) == 1  # a and twin: the same head on the same rows in both folds
    systems = one["loco"]["systems"]
    assert systems["a"]["folds"][0]["choices"]["refit_ua"] == systems["twin"]["folds"][1]["choices"]["refit_ua"]
    assert "refit_ua" not in systems["skipped"]["folds"][0]["choices"]
    monkeypatch.setattr(module, "inner_refit_ua", real)
    two = fresh()
    two["loco"]["systems"]["twin"]["folds"][1]["choices"]["l2"] = 1.0  # another head: refitted apart
    score_inner(two, lambda name, fold: rows, inputs, y, CLASSES, workers=2)
    assert two["loco"]["systems"]["a"]["folds"][0]["choices"]["refit_ua"] == \
        systems["a"]["folds"][0]["choices"]["refit_ua"]
    assert "refit_ua" in two["loco"]["systems"]["skipped"]["folds"][0]["choices"]
