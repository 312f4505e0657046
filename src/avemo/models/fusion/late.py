"""Late fusion of calibrated per-modality probabilities from any models, with weights chosen on validation data.

Use it when each modality has its own trained (and, ideally, temperature-scaled) model: map every model's
probabilities to a common label set (:func:`avemo.labels.to_common_label_set`), then fuse.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Mapping, Sequence

import numpy as np

from avemo.errors import ParameterError

_EPS = 1e-12


def unweighted_accuracy(y_true: Any, y_pred: Any, num_classes: int | None = None) -> float:
    """UA: mean per-class recall over the classes present in ``y_true`` (balanced accuracy)."""
    y_true = np.asarray(y_true).astype(np.int64)
    y_pred = np.asarray(y_pred).astype(np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ParameterError(f"y_true and y_pred must be equal-length non-empty vectors, got {y_true.shape} "
                             f"and {y_pred.shape}")
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def _stack(prob_list: Sequence[Any] | Mapping[str, Any]) -> tuple[np.ndarray, list[str] | None]:
    names = None
    if isinstance(prob_list, Mapping):
        names = list(prob_list)
        prob_list = [prob_list[n] for n in names]
    arrays = []
    for i, p in enumerate(prob_list):
        a = np.asarray(p.detach().cpu().numpy() if hasattr(p, "detach") else p, dtype=np.float64)
        if a.ndim != 2:
            raise ParameterError(f"probabilities of modality {i} must be (n_examples, n_classes), got {a.shape}")
        arrays.append(a)
    if not arrays:
        raise ParameterError("late fusion needs at least one modality's probabilities")
    if any(a.shape != arrays[0].shape for a in arrays):
        raise ParameterError(f"all modalities need the same (n_examples, n_classes); got "
                             f"{[a.shape for a in arrays]} (map them to a common label set first)")
    probs = np.stack(arrays, axis=1)  # (N, M, C)
    if probs.min() < -1e-6 or not np.allclose(probs.sum(axis=2), 1.0, atol=1e-3):
        raise ParameterError("late fusion expects probabilities (rows summing to 1), not logits")
    return np.clip(probs, 0.0, 1.0), names


def _present_matrix(present: Any, n: int, m: int, names: list[str] | None) -> np.ndarray:
    if present is None:
        return np.ones((n, m), dtype=bool)
    if isinstance(present, Mapping):
        if names is None:
            raise ParameterError("present given as a dict needs prob_list given as a dict with the same keys")
        present = [present.get(k, np.ones(n, dtype=bool)) for k in names]
    if isinstance(present, (list, tuple)):
        present = np.stack([np.asarray(p.detach().cpu().numpy() if hasattr(p, "detach") else p).astype(bool)
                            for p in present], axis=1)
    mask = np.asarray(present.detach().cpu().numpy() if hasattr(present, "detach") else present).astype(bool)
    if mask.shape != (n, m):
        raise ParameterError(f"present must be ({n}, {m}) (examples x modalities), got {mask.shape}")
    if not mask.any(axis=1).all():
        raise ParameterError(f"example {int(np.flatnonzero(~mask.any(axis=1))[0])} has no modality present")
    return mask


def weighted_late_fusion(prob_list: Sequence[Any] | Mapping[str, Any], weights: Sequence[float] | Mapping[str, float],
                         present: Any = None, method: str = "mean") -> np.ndarray:
    """Fuse per-modality class probabilities with modality weights, renormalised over present modalities.

    Args:
        prob_list: per-modality ``(N, C)`` probabilities (a list, or a dict by modality name).
        weights: one non-negative weight per modality (a sequence, or a dict when ``prob_list`` is one).
        present: which modality each example has: ``(N, M)`` bool, a list of ``(N,)`` masks, or a dict;
            ``None`` means all present. An absent modality's probabilities are ignored.
        method: ``"mean"`` (weighted arithmetic mean, the linear opinion pool) or ``"log"`` (weighted mean of
            log-probabilities, renormalised: the log-linear pool / product of experts).

    Returns:
        ``(N, C)`` fused probabilities.

    Raises:
        ParameterError: for mismatched shapes, negative or all-zero weights, an example with no usable
            modality, or an unknown method.
    """
    probs, names = _stack(prob_list)
    n, m, _ = probs.shape
    if isinstance(weights, Mapping):
        if names is None:
            raise ParameterError("weights given as a dict need prob_list given as a dict")
        missing = [k for k in names if k not in weights]
        if missing:
            raise ParameterError(f"no weight for modality {missing}")
        weights = [weights[k] for k in names]
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (m,) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ParameterError(f"weights must be {m} finite non-negative numbers, got {weights!r}")
    mask = _present_matrix(present, n, m, names)
    wn = w[None, :] * mask
    total = wn.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ParameterError(f"example {int(np.flatnonzero(total[:, 0] <= 0)[0])} has zero total weight over "
                             f"its present modalities")
    wn = wn / total
    if method == "mean":
        return np.einsum("nm,nmc->nc", wn, probs)
    if method == "log":
        logp = np.einsum("nm,nmc->nc", wn, np.log(probs + _EPS))
        logp -= logp.max(axis=1, keepdims=True)
        out = np.exp(logp)
        return out / out.sum(axis=1, keepdims=True)
    raise ParameterError(f"unknown late-fusion method {method!r}; use 'mean' or 'log'")


def simplex_grid(n_modalities: int, step: float = 0.05) -> np.ndarray:
    """All weight vectors with ``n_modalities`` non-negative entries, multiples of ``step``, summing to 1."""
    if n_modalities < 1:
        raise ParameterError("simplex_grid needs at least one modality")
    k = int(round(1.0 / step))
    if k < 1 or abs(k * step - 1.0) > 1e-9:
        raise ParameterError(f"step must divide 1 evenly (e.g. 0.05, 0.1, 0.25), got {step}")
    if n_modalities == 1:
        return np.ones((1, 1))
    rows = []
    # stars and bars: choose n-1 bar positions among k + n - 1 slots
    for bars in combinations(range(k + n_modalities - 1), n_modalities - 1):
        edges = (-1,) + bars + (k + n_modalities - 1,)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(n_modalities)])
    return np.asarray(rows, dtype=np.float64) / k


def fit_late_fusion_weights(val_probs_per_modality: Sequence[Any] | Mapping[str, Any], y: Any,
                            present: Any = None, criterion: str = "ua", step: float = 0.05,
                            method: str = "mean") -> np.ndarray | dict[str, float]:
    """Choose late-fusion weights on validation data by a grid search over the weight simplex.

    Args:
        val_probs_per_modality: per-modality validation probabilities (list or dict), as for
            :func:`weighted_late_fusion`.
        y: validation labels ``(N,)``.
        present: availability masks, as for :func:`weighted_late_fusion`.
        criterion: ``"ua"`` (maximise unweighted accuracy; ties broken by lower NLL, then by closeness to equal
            weights) or ``"nll"`` (minimise negative log-likelihood).
        step: grid resolution (must divide 1).
        method: fusion rule, ``"mean"`` or ``"log"``.

    Returns:
        The weights (sum 1): an array in modality order, or a dict when the input was a dict.

    Raises:
        ParameterError: for bad shapes or labels, or an unknown criterion.
    """
    if criterion not in ("ua", "nll"):
        raise ParameterError(f"criterion must be 'ua' or 'nll', got {criterion!r}")
    probs, names = _stack(val_probs_per_modality)
    n, m, c = probs.shape
    yy = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
    if yy.shape != (n,) or yy.min() < 0 or yy.max() >= c:
        raise ParameterError(f"y must be {n} class indices in [0, {c - 1}]")
    yy = yy.astype(np.int64)
    mask = _present_matrix(present, n, m, names)
    rows = np.arange(n)
    equal = np.full(m, 1.0 / m)
    best_key, best_w = None, None
    for w in simplex_grid(m, step):
        wn = w[None, :] * mask
        total = wn.sum(axis=1)
        if np.any(total <= 0):  # an example whose only present modality has weight 0: not allowed
            continue
        fused = weighted_late_fusion(list(probs.transpose(1, 0, 2)), w, mask, method=method)
        nll = float(-np.log(fused[rows, yy] + _EPS).mean())
        dist = float(np.abs(w - equal).sum())
        if criterion == "ua":
            key = (-unweighted_accuracy(yy, fused.argmax(axis=1)), round(nll, 9), dist)
        else:
            key = (round(nll, 9), dist)
        if best_key is None or key < best_key:
            best_key, best_w = key, w
    if best_w is None:
        raise ParameterError("no weight vector on the grid gives every example a positive weight")
    return {k: float(v) for k, v in zip(names, best_w)} if names is not None else best_w
