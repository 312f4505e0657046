"""Probability calibration: temperature scaling, expected calibration error, reliability diagrams, abstention.

Temperature scaling (Guo et al., 2017, "On Calibration of Modern Neural Networks") divides logits by one
scalar ``T`` fitted on held-out (validation) logits by minimising the negative log-likelihood; it changes
confidence, never the arg-max. Fit it on validation data from training speakers only, never on test data.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from avemo.errors import ParameterError

#: Label :func:`apply_abstain` returns for a prediction below the confidence threshold.
UNCERTAIN = "uncertain"


def _as_numpy(a: Any, name: str) -> np.ndarray:
    if hasattr(a, "detach"):  # torch tensor
        a = a.detach().cpu().numpy()
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a numeric array, got {type(a).__name__}") from None


def _check_logits_labels(logits: Any, labels: Any | None, what: str = "logits") -> tuple[np.ndarray, np.ndarray | None]:
    z = _as_numpy(logits, what)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] < 2:
        raise ParameterError(f"{what} must have shape (n_examples, n_classes) with n_classes >= 2, got {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ParameterError(f"{what} contain NaN or infinite values")
    if labels is None:
        return z, None
    y = np.asarray(labels.detach().cpu().numpy() if hasattr(labels, "detach") else labels)
    if y.ndim != 1 or len(y) != len(z):
        raise ParameterError(f"labels must be a vector of {len(z)} class indices, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise ParameterError(f"labels must be integer class indices, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ParameterError(f"labels must lie in [0, {z.shape[1] - 1}], got range [{y.min()}, {y.max()}]")
    return z, y.astype(np.int64)


def negative_log_likelihood(logits: Any, labels: Any, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``.

    Raises:
        ParameterError: for bad shapes, labels or a non-positive temperature.
    """
    z, y = _check_logits_labels(logits, labels)
    if not temperature > 0:
        raise ParameterError(f"temperature must be > 0, got {temperature}")
    return float(-log_softmax(z / temperature, axis=1)[np.arange(len(y)), y].mean())


class TemperatureScaler:
    """Temperature scaling as a scikit-learn-style estimator.

    ``fit(logits, y)`` sets ``temperature_`` (minimising validation NLL over ``log T`` in
    ``[log t_min, log t_max]`` with scipy's bounded Brent search); ``transform(logits)`` returns calibrated
    probabilities. ``nll_before_`` and ``nll_after_`` record the fit's effect.

    Args:
        t_min, t_max: search bounds for the temperature.
    """

    def __init__(self, t_min: float = 0.05, t_max: float = 20.0) -> None:
        self.t_min = t_min
        self.t_max = t_max

    def fit(self, logits: Any, y: Any) -> "TemperatureScaler":
        """Fit the temperature on validation logits ``(n, C)`` and integer labels ``(n,)``.

        Raises:
            ParameterError: for bad shapes, labels or bounds.
        """
        if not 0 < self.t_min < 1 < self.t_max:
            raise ParameterError(f"need 0 < t_min < 1 < t_max, got t_min={self.t_min}, t_max={self.t_max}")
        z, yy = _check_logits_labels(logits, y)
        rows = np.arange(len(yy))

        def nll(log_t: float) -> float:
            return float(-log_softmax(z / np.exp(log_t), axis=1)[rows, yy].mean())

        res = minimize_scalar(nll, bounds=(np.log(self.t_min), np.log(self.t_max)), method="bounded",
                              options={"xatol": 1e-5})
        best = float(res.x)
        if nll(0.0) <= nll(best):  # never worse than leaving the logits alone
            best = 0.0
        self.temperature_ = float(np.exp(best))
        self.nll_before_ = nll(0.0)
        self.nll_after_ = nll(best)
        self.n_classes_ = z.shape[1]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "temperature_"):
            raise ParameterError("TemperatureScaler is not fitted; call fit(val_logits, val_labels) first")

    def transform_logits(self, logits: Any) -> np.ndarray:
        """Logits divided by the fitted temperature."""
        self._check_fitted()
        z, _ = _check_logits_labels(logits, None)
        if z.shape[1] != self.n_classes_:
            raise ParameterError(f"logits have {z.shape[1]} classes, the scaler was fitted on {self.n_classes_}")
        return z / self.temperature_

    def transform(self, logits: Any) -> np.ndarray:
        """Calibrated probabilities ``softmax(logits / temperature_)``, shape ``(n, C)``."""
        return softmax(self.transform_logits(logits), axis=1)

    predict_proba = transform

    def fit_transform(self, logits: Any, y: Any) -> np.ndarray:
        return self.fit(logits, y).transform(logits)

    def __repr__(self) -> str:
        fitted = f", temperature_={self.temperature_:.4g}" if hasattr(self, "temperature_") else ""
        return f"TemperatureScaler(t_min={self.t_min}, t_max={self.t_max}{fitted})"


def _check_probs(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    p, y = _check_logits_labels(probs, labels, what="probs")
    if p.min() < -1e-6 or p.max() > 1 + 1e-6 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ParameterError("probs must be probabilities (each row in [0, 1] summing to 1); "
                             "apply softmax to logits first")
    return p, y


@dataclasses.dataclass
class ReliabilityDiagram:
    """Per-bin data of a reliability diagram (top-label confidence vs accuracy).

    Bins are equal-width on ``[0, 1]``; bin ``i`` holds confidences in ``(edges[i], edges[i+1]]`` (the first
    bin also holds 0). Empty bins have ``count == 0`` and NaN confidence/accuracy.
    """

    bin_edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray
    ece: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (NaN becomes None)."""
        def clean(a: np.ndarray) -> list:
            return [None if isinstance(v, float) and np.isnan(v) else v for v in a.tolist()]
        return {"bin_edges": self.bin_edges.tolist(), "confidence": clean(self.confidence),
                "accuracy": clean(self.accuracy), "count": self.count.tolist(), "ece": self.ece}


def reliability_diagram(probs: Any, labels: Any, n_bins: int = 15) -> ReliabilityDiagram:
    """Reliability-diagram data and the top-label ECE of predicted probabilities.

    Raises:
        ParameterError: for bad shapes, labels, non-probabilities or ``n_bins < 1``.
    """
    if int(n_bins) != n_bins or n_bins < 1:
        raise ParameterError(f"n_bins must be a positive integer, got {n_bins}")
    p, y = _check_probs(probs, labels)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, int(n_bins) - 1)
    count = np.bincount(idx, minlength=int(n_bins))
    sum_conf = np.bincount(idx, weights=conf, minlength=int(n_bins))
    sum_acc = np.bincount(idx, weights=correct, minlength=int(n_bins))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, sum_conf / count, np.nan)
        mean_acc = np.where(count > 0, sum_acc / count, np.nan)
    ece = float(np.sum(np.abs(sum_acc - sum_conf)) / len(y))
    return ReliabilityDiagram(edges, mean_conf, mean_acc, count, ece)


def expected_calibration_error(probs: Any, labels: Any, n_bins: int = 15) -> float:
    """Top-label expected calibration error (Naeini et al. 2015; Guo et al. 2017).

    ``ECE = sum_b |B_b|/n * |acc(B_b) - conf(B_b)|`` over ``n_bins`` equal-width confidence bins, where the
    confidence is the largest predicted probability. 0 is perfect; the value is in ``[0, 1]``.

    Raises:
        ParameterError: for bad shapes, labels, non-probabilities or ``n_bins < 1``.
    """
    return reliability_diagram(probs, labels, n_bins).ece


def apply_abstain(probs: Any, threshold: float, label_names: Sequence[str] | None = None,
                  uncertain_label: str = UNCERTAIN) -> list[str]:
    """The predicted label of each example, or ``uncertain_label`` where the top probability is below ``threshold``.

    Args:
        probs: ``(n, C)`` (or one ``(C,)``) calibrated probabilities.
        threshold: minimal top probability to commit to a label, in ``[0, 1]``.
        label_names: names of the ``C`` classes; default: ``"0"``, ``"1"``, …

    Raises:
        ParameterError: for bad shapes, a threshold outside ``[0, 1]`` or a wrong number of names.
    """
    p = _as_numpy(probs, "probs")
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] < 2:
        raise ParameterError(f"probs must have shape (n_examples, n_classes), got {p.shape}")
    if not 0.0 <= threshold <= 1.0:
        raise ParameterError(f"threshold must be in [0, 1], got {threshold}")
    names = [str(i) for i in range(p.shape[1])] if label_names is None else [str(n) for n in label_names]
    if len(names) != p.shape[1]:
        raise ParameterError(f"got {len(names)} label names for {p.shape[1]} classes")
    top = p.argmax(axis=1)
    conf = p[np.arange(len(p)), top]
    return [names[k] if c >= threshold else uncertain_label for k, c in zip(top, conf)]
