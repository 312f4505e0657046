"""Late fusion of calibrated per-modality probabilities from any models: the one place where per-modality
probabilities are combined (a weighted arithmetic mean, or a weighted mean of log-probabilities).

Use it when each modality has its own trained (and, ideally, temperature-scaled) model: map every model's
probabilities to a common label set (:func:`avemo.labels.to_common_label_set`), then fuse. The weights can be
chosen on validation data with :func:`avemo.train.late_fusion.fit_late_fusion_weights`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from avemo.errors import ParameterError

_EPS = 1e-12


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
