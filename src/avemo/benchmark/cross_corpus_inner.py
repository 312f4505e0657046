"""The recipe rule's score of every nested-rule system in a cross-corpus summary: its global head refitted without
each training corpus, the same way whatever its kind (:func:`~avemo.systems.probe_inner.inner_refit_ua`), added to
each leave-one-corpus-out fold's choices as ``refit_ua``."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

from avemo.systems.probe_inner import inner_refit_ua
from avemo.systems.probe_inputs import CorpusInputs
from avemo.systems.probe_stats import balance_weights

log = logging.getLogger(__name__)
#: The rows a system's fold was fitted on: ``(system, fold name) -> (fitted rows, validation rows)``, ``None`` when
#: they are not among the rows at hand (a variant on features of its own).
FoldRows = Callable[[str, str], "tuple[np.ndarray, np.ndarray] | None"]


def score_inner(summary: dict[str, Any], fold_rows: FoldRows, inputs: CorpusInputs, y: np.ndarray,
                classes: Sequence[str], skip: Collection[str] = (), workers: int = 1) -> None:
    """Add ``refit_ua`` to the global choices of every leave-one-corpus-out fold of the nested-rule systems in
    ``summary`` (those whose choices have ``loco_by_loss``) that lacks it, on the rows ``fold_rows`` gives (of
    ``inputs`` with labels ``y``). A fold whose rows are not at hand, and the systems in ``skip`` (those the rule
    does not compare), are left without (the report shows a dash). Two systems with the same head on the same rows
    (the same choice, as two recipes that differ in their adapted heads) are refitted once. ``workers``: processes
    (forked; one thread each)."""
    tasks: dict[str, tuple[Mapping[str, Any], np.ndarray, np.ndarray]] = {}
    wanted: list[tuple[dict[str, Any], str]] = []
    for name, entry in summary["loco"]["systems"].items():
        if "[" in name or "@" in name or name in skip:  # an adapted head's or a condition's rows
            continue
        for fold in entry["folds"]:
            choice = fold.get("choices", {})
            if "loco_by_loss" not in choice or "refit_ua" in choice:
                continue
            rows = fold_rows(name, fold["fold"])
            if rows is None:
                continue
            head = {k: choice.get(k) for k in ("kind", "layers", "l2", "loss", "val_ua")}
            key = hashlib.sha256(json.dumps(head, sort_keys=True).encode() + rows[0].tobytes()
                                 + rows[1].tobytes()).hexdigest()
            tasks[key] = (choice, *rows)
            wanted.append((choice, key))
    _SHARED.update(inputs=inputs, y=y, classes=classes, tasks=tasks)
    try:
        if workers <= 1 or len(tasks) <= 1:
            scores = {key: _score(key) for key in tasks}
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            from avemo.systems.cross_validation import _one_thread

            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_one_thread) as pool:
                scores = dict(zip(tasks, pool.map(_score, list(tasks))))
    finally:
        _SHARED.clear()
    for choice, key in wanted:
        choice["refit_ua"] = scores[key]


#: What the worker processes of :func:`score_inner` read (set before they fork).
_SHARED: dict[str, Any] = {}


def _score(key: str) -> dict[str, Any]:
    choice, rows, va = _SHARED["tasks"][key]
    t0 = time.perf_counter()
    out = inner_refit_ua(choice, _SHARED["inputs"], _SHARED["y"], rows, va, _SHARED["classes"], _balanced)
    log.info("inner refit of %s: %.0f s", choice.get("kind", "linear"), time.perf_counter() - t0)
    return out


def _balanced(corpus: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Training row weights: every recipe the rule compares weighs the corpora alike."""
    return balance_weights(corpus, labels, None)


def refit_scores(loco: Mapping[str, Any]) -> dict[str, list[float]]:
    """``{system: refit UA of each fold}`` of the systems of ``loco`` (the summary's leave-one-corpus-out systems)
    every fold of which has one."""
    return {name: [f["choices"]["refit_ua"]["ua"] for f in e["folds"]] for name, e in loco.items()
            if e["folds"] and all("refit_ua" in f.get("choices", {}) for f in e["folds"])}
