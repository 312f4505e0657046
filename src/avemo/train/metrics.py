"""The field's usual metrics: UA (mean per-class recall), WA (accuracy), macro-F1, confusion, ROC AUC."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, recall_score,
                             roc_auc_score)


def classification_metrics(y_true: Sequence[int], y_prob: np.ndarray, num_classes: int) -> dict:
    """UA, WA, macro-F1 and counts for integer labels and ``(n, classes)`` probabilities.

    Returns:
        ``{"ua", "wa", "macro_f1", "n_test", "per_class_recall", "confusion", "roc_auc_ovr"}``; the
        percentages are fractions in [0, 1].
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_prob).argmax(axis=1)
    labels = list(range(num_classes))
    out = {
        "ua": unweighted_accuracy(y_true, y_pred),
        "wa": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "n_test": int(len(y_true)),
        "per_class_recall": recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0).tolist(),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    try:
        out["roc_auc_ovr"] = float(roc_auc_score(y_true, y_prob, multi_class="ovr", labels=labels))
    except ValueError:  # a class absent from y_true
        out["roc_auc_ovr"] = float("nan")
    return out


def unweighted_accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """UA (unweighted accuracy): the mean recall over the classes present in ``y_true``, in [0, 1]. The one
    function that computes UA in avemo."""
    return float(balanced_accuracy_score(y_true, y_pred))


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean and population standard deviation of per-fold figures."""
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "std": float(arr.std())}
