"""The recipe rule's score of every nested-rule system in a cross-corpus summary: its global head refitted without
each training corpus, the same way whatever its kind (:func:`~avemo.systems.probe_inner.inner_refit_ua`), added to
each leave-one-corpus-out fold's choices as ``refit_ua``."""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from avemo.systems.probe_inner import inner_refit_ua
from avemo.systems.probe_inputs import CorpusInputs
from avemo.systems.probe_stats import balance_weights

log = logging.getLogger(__name__)
#: The rows a system's fold was fitted on: ``(system, fold name) -> (fitted rows, validation rows)``, ``None`` when
#: they are not among the rows at hand (a variant on features of its own).
FoldRows = Callable[[str, str], "tuple[np.ndarray, np.ndarray] | None"]


def score_inner(summary: dict[str, Any], fold_rows: FoldRows, inputs: CorpusInputs, y: np.ndarray,
                classes: Sequence[str]) -> None:
    """Add ``refit_ua`` to the global choices of every leave-one-corpus-out fold of the nested-rule systems in
    ``summary`` (those whose choices have ``loco_by_loss``) that lacks it, on the rows ``fold_rows`` gives (of
    ``inputs`` with labels ``y``); a fold whose rows are not at hand is left without (the report says so)."""
    def weights(corpus: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return balance_weights(corpus, labels, None)  # every recipe the rule compares weighs the corpora alike

    for name, entry in summary["loco"]["systems"].items():
        if "[" in name or "@" in name:  # an adapted head's or a condition's rows
            continue
        for fold in entry["folds"]:
            choice = fold.get("choices", {})
            if "loco_by_loss" not in choice or "refit_ua" in choice:
                continue
            rows = fold_rows(name, fold["fold"])
            if rows is None:
                continue
            choice["refit_ua"] = inner_refit_ua(choice, inputs, y, rows[0], rows[1], classes, weights)
            log.info("%s %s: inner refit UA %.3f", name, fold["fold"], choice["refit_ua"]["ua"])


def refit_scores(loco: Mapping[str, Any]) -> dict[str, list[float]]:
    """``{system: refit UA of each fold}`` of the systems of ``loco`` (the summary's leave-one-corpus-out systems)
    every fold of which has one."""
    return {name: [f["choices"]["refit_ua"]["ua"] for f in e["folds"]] for name, e in loco.items()
            if e["folds"] and all("refit_ua" in f.get("choices", {}) for f in e["folds"])}
