"""Fits of a speech probe kept in a checkpoint folder: the fitted system saved with the key of what it was fitted
on (:func:`fit_key`), and loaded back instead of fitting again when a fit asks for the same key, so that a
benchmark of many fits that stops part-way resumes. An unreadable or stale folder is fitted again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np
import torch

from avemo.errors import CheckpointError
from avemo.systems.probe_inputs import CorpusInputs

#: In a fit's checkpoint folder: the key of the fit saved there, written last.
FIT_KEY_FILE = "fit_key.json"
System = TypeVar("System")


def fit_key(settings: Sequence[Any], inputs: CorpusInputs, y: np.ndarray, tr: np.ndarray, va: np.ndarray,
            frames: bool = False) -> str:
    """SHA-256 of what a fit depends on: ``settings`` (JSON-able; with the fitting code's version, e.g.
    :meth:`~avemo.systems.probe_fitting.HeadFitting.fit_settings`), the numpy and torch versions, the rows'
    features (``frames``: their frames too), corpora, speakers and labels ``y``, and the split ``(tr, va)``."""
    digest = hashlib.sha256(json.dumps([*settings, np.__version__, torch.__version__]).encode())
    for part in (np.ascontiguousarray(inputs.x), np.asarray(y, np.int64), np.asarray(tr, np.int64),
                 np.asarray(va, np.int64)):
        digest.update(part.tobytes())
    digest.update("\n".join(f"{c}\t{s}" for c, s in zip(inputs.corpus, inputs.speaker)).encode())
    if frames:
        for f in inputs.frames if inputs.frames is not None else []:
            digest.update(b"-" if f is None else str(f.shape).encode() + np.ascontiguousarray(f, np.float32).tobytes())
    return digest.hexdigest()


def load_fit(folder: str | Path, key: str, load: Callable[[Path], System]) -> System | None:
    """The system saved in ``folder`` (read by ``load``) when it was fitted with ``key``; ``None`` when there is
    none, it is stale or it cannot be read."""
    folder = Path(folder)
    try:
        if json.loads((folder / FIT_KEY_FILE).read_text()).get("fit_key") != key:
            return None
        return load(folder)
    except (OSError, ValueError, AttributeError, CheckpointError):
        return None


def save_fit(folder: str | Path, key: str, system: Any) -> None:
    """Save the fitted ``system`` in ``folder`` with its ``key`` (the key last: a save cut short is stale)."""
    folder = Path(folder)
    (folder / FIT_KEY_FILE).unlink(missing_ok=True)
    system.save(folder)
    (folder / FIT_KEY_FILE).write_text(json.dumps({"fit_key": key}))
