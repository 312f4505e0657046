"""Run systems over folds, in parallel worker processes that share the extracted features (fork)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from avemo.data.splits import Fold

# Set by ``run_jobs`` before the worker processes fork, so the (large) features are shared, never pickled.
_SHARED: dict[str, Any] = {}


@dataclass
class FoldOutcome:
    """What one (system, fold) run produced."""

    system: str
    fold: Fold
    test_probs: np.ndarray
    history: list[dict[str, list[float]]]
    seconds: float


def run_jobs(jobs: Sequence[tuple[str, Fold]], fit_predict: Callable[[str, Fold], tuple[np.ndarray, list]],
             shared: dict[str, Any], workers: int = 1, on_done: Callable[[FoldOutcome], None] | None = None
             ) -> list[FoldOutcome]:
    """Run ``fit_predict(system, fold)`` for every job, in ``workers`` processes (1 = in this process)."""
    _SHARED.clear()
    _SHARED.update(shared, _fit_predict=fit_predict)
    outcomes = []
    if workers <= 1:
        for system, fold in jobs:
            outcomes.append(_run_one(system, fold))
            if on_done:
                on_done(outcomes[-1])
        return outcomes
    import multiprocessing as mp

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_one_thread) as pool:
        futures = [pool.submit(_run_one, system, fold) for system, fold in jobs]
        for fut in futures:
            outcomes.append(fut.result())
            if on_done:
                on_done(outcomes[-1])
    return outcomes


def shared() -> dict[str, Any]:
    """The data ``run_jobs`` shares with its workers."""
    return _SHARED


def _run_one(system: str, fold: Fold) -> FoldOutcome:
    start = time.perf_counter()
    probs, history = _SHARED["_fit_predict"](system, fold)
    return FoldOutcome(system, fold, probs, history, time.perf_counter() - start)


def _one_thread() -> None:
    import torch

    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
