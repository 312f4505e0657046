"""One cross-validation runner for every system: fit a fresh system per fold, apply it to the fold's test rows.

Benchmarks call :func:`cross_validate` with the system class they ship, so their figures come from the same code
users load. With ``workers > 1`` the folds run in worker processes forked from this one: the inputs are shared
through the fork (copy-on-write), never pickled.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from avemo.data.splits import Fold

#: Builds an unfitted system for a fold.
SystemFactory = Callable[[Fold], Any]
#: ``(fitted system, inputs, fold) -> what to keep``; the default: ``system.predict_proba`` of the test rows.
Predictor = Callable[[Any, Any, Fold], Any]


@dataclass
class FoldOutcome:
    """What fitting one system on one fold produced.

    Attributes:
        system: the name the caller gave the job.
        fold: the fold (train / val / test indices and speakers).
        test_probs: the system's class probabilities on the fold's test rows (or whatever ``predict`` returned).
        report: what the fitted system reports about its training (:func:`fit_report`), e.g. training histories.
        seconds: wall-clock seconds of fitting and predicting.
        fitted: the fitted system (only with ``keep_systems=True``).
    """

    system: str
    fold: Fold
    test_probs: Any
    report: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    fitted: Any = None


# Set before the worker processes fork, so the (large) inputs are shared, never pickled.
_SHARED: dict[str, Any] = {}


def take_rows(inputs: Any, index: Sequence[int]) -> Any:
    """The rows ``index`` of a system's input container: a features dict (one array per recording under each
    extractor name), an array, or an object with a ``take(index)`` method."""
    if hasattr(inputs, "take"):
        return inputs.take(index)
    if isinstance(inputs, dict):
        return {name: [arrays[i] for i in index] for name, arrays in inputs.items()}
    return np.asarray(inputs)[np.asarray(index, dtype=np.int64)]


def fit_report(system: Any) -> dict[str, Any]:
    """What a fitted system reports about its training: its ``fit_report()`` when it has one, else ``{}``."""
    report = getattr(system, "fit_report", None)
    return report() if callable(report) else {}


def cross_validate(factory: SystemFactory | dict[str, SystemFactory], inputs: Any, y: Sequence[int] | np.ndarray,
                   folds: Sequence[Fold], *, workers: int = 1, predict: Predictor | None = None,
                   checkpoint_dir: Callable[[str, Fold], Any] | None = None, keep_systems: bool = False,
                   on_done: Callable[[FoldOutcome], None] | None = None,
                   jobs: Sequence[tuple[str, Fold]] | None = None,
                   fit_options: dict[str, Any] | None = None) -> list[FoldOutcome]:
    """Fit a fresh system per fold on the fold's ``(train, val)`` split and apply it to the fold's test rows.

    Args:
        factory: builds an unfitted system for a fold, or ``{name: factory}`` to cross-validate several systems
            over the same inputs in one pool of workers.
        inputs: the systems' input container over every recording (indexed by ``Fold`` indices).
        y: class indices, one per recording.
        folds: the folds to run (every factory runs on every fold, unless ``jobs`` is given).
        workers: processes to run folds in (1 = this process; more fork this one, sharing ``inputs``).
        predict: ``(fitted system, inputs, fold) -> outputs`` kept as :attr:`FoldOutcome.test_probs` (e.g. the
            validation and test probabilities of several variants); default ``system.predict_proba`` of the
            fold's test rows.
        checkpoint_dir: ``(name, fold) -> folder`` where a system may keep its training state (resumable).
        keep_systems: return each fitted system in :attr:`FoldOutcome.fitted` (in this process only).
        on_done: called with each outcome as it completes.
        jobs: explicit ``(name, fold)`` pairs to run instead of every factory on every fold.
        fit_options: more keyword arguments of every ``fit`` (e.g. a face system's ``init_state``).

    Returns:
        One :class:`FoldOutcome` per job, in job order.
    """
    factories = factory if isinstance(factory, dict) else {"system": factory}
    if jobs is None:
        jobs = [(name, fold) for name in factories for fold in folds]
    _SHARED.clear()
    _SHARED.update(factories=factories, inputs=inputs, y=np.asarray(y), predict=predict,
                   checkpoint_dir=checkpoint_dir, fit_options=dict(fit_options or {}),
                   keep=keep_systems and workers <= 1)
    outcomes: list[FoldOutcome] = []
    try:
        if workers <= 1:
            for name, fold in jobs:
                outcomes.append(_run_one(name, fold))
                if on_done:
                    on_done(outcomes[-1])
            return outcomes
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_one_thread) as pool:
            futures = [pool.submit(_run_one, name, fold) for name, fold in jobs]
            for future in futures:
                outcomes.append(future.result())
                if on_done:
                    on_done(outcomes[-1])
        return outcomes
    finally:
        _SHARED.clear()


def _run_one(name: str, fold: Fold) -> FoldOutcome:
    start = time.perf_counter()
    system = _SHARED["factories"][name](fold)
    folder = _SHARED["checkpoint_dir"](name, fold) if _SHARED["checkpoint_dir"] else None
    system.fit(_SHARED["inputs"], _SHARED["y"], (list(fold.train), list(fold.val)), checkpoint_dir=folder,
               **_SHARED["fit_options"])
    if _SHARED["predict"] is not None:
        probs = _SHARED["predict"](system, _SHARED["inputs"], fold)
    else:
        probs = system.predict_proba(take_rows(_SHARED["inputs"], list(fold.test)))
    return FoldOutcome(name, fold, probs, fit_report(system), time.perf_counter() - start,
                       system if _SHARED["keep"] else None)


def _one_thread() -> None:
    import torch

    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
