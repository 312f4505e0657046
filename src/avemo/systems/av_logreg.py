"""One modality's logistic regression in the speech + action-unit late-fusion system
(:class:`~avemo.systems.av_fusion.AVLateFusionSystem`): fitted class-balanced with every class of the label set
kept, and its floored log-probabilities."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import log_softmax

#: Log-probabilities are floored here (as in the benchmark), so a class absent from training stays finite.
LOG_FLOOR = -30.0


def fit_logreg(x: np.ndarray, y: np.ndarray, num_classes: int, C: float, max_iter: int,
               tol: float) -> tuple[np.ndarray, np.ndarray]:
    """``(num_classes, D)`` coefficients and ``(num_classes,)`` intercepts of a class-balanced logistic regression
    of ``y`` on ``x`` ``(n, D)``; a class absent from training gets a very low intercept."""
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at the capped iterations
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter, tol=tol).fit(x, y)
    coef = np.zeros((num_classes, model.coef_.shape[1]), np.float32)
    intercept = np.full(num_classes, -1e4, np.float32)
    if len(model.classes_) == 2:  # binary: sklearn keeps one row, for the second class
        coef[model.classes_[1]], intercept[model.classes_[1]] = model.coef_[0] / 2, model.intercept_[0] / 2
        coef[model.classes_[0]], intercept[model.classes_[0]] = -model.coef_[0] / 2, -model.intercept_[0] / 2
    else:
        coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
    return coef, intercept


def log_probs(x: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Log-probabilities ``(n, C)`` of rows ``x`` ``(n, D)`` under weights of :func:`fit_logreg`, floored at
    :data:`LOG_FLOOR`."""
    return np.maximum(log_softmax(x.astype(np.float64) @ coef.T.astype(np.float64) + intercept, axis=1), LOG_FLOOR)
