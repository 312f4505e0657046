"""Choose late-fusion weights on validation data: a grid search over the weight simplex, scored by UA or NLL of
:func:`avemo.models.fusion.late.weighted_late_fusion`."""

from __future__ import annotations

from itertools import combinations
from typing import Any, Mapping, Sequence

import numpy as np

from avemo.errors import ParameterError
from avemo.models.fusion.late import _EPS, _present_matrix, _stack, weighted_late_fusion
from avemo.train.metrics import unweighted_accuracy


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
