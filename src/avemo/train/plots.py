"""Report plots: confusion matrix, per-class recall, one-vs-rest ROC curves, training curves, reliability
diagrams (PNG files)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402


def plot_confusion(confusion: np.ndarray, classes: Sequence[str], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix (rows: true class), with counts."""
    cm = np.asarray(confusion, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)


def plot_per_class_recall(recalls: dict[str, Sequence[float]], classes: Sequence[str], path: Path,
                          title: str) -> Path:
    """Grouped bars: per-class recall of each system."""
    fig, ax = plt.subplots(figsize=(max(6.4, len(classes) * 1.1), 4.2))
    width = 0.8 / max(len(recalls), 1)
    for k, (name, values) in enumerate(recalls.items()):
        ax.bar(np.arange(len(classes)) + k * width - 0.4 + width / 2, values, width, label=name)
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("recall")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_roc_ovr(y_true: np.ndarray, y_prob: np.ndarray, classes: Sequence[str], path: Path, title: str) -> Path:
    """One-vs-rest ROC curve per class."""
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    for c, name in enumerate(classes):
        if (y_true == c).any() and (y_true != c).any():
            fpr, tpr, _ = roc_curve(y_true == c, y_prob[:, c])
            ax.plot(fpr, tpr, label=name, lw=1.2)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_training_curves(histories: dict[str, dict[str, list[float]]], path: Path, title: str) -> Path:
    """Validation UA and training loss per epoch, one line per fold."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, h in histories.items():
        if h.get("train_loss"):
            a.plot(h["train_loss"], label=name, lw=1)
        if h.get("val_ua"):
            b.plot(h["val_ua"], label=name, lw=1)
    a.set_xlabel("epoch")
    a.set_ylabel("training loss")
    b.set_xlabel("epoch")
    b.set_ylabel("validation UA")
    b.legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def plot_reliability(diagrams: dict, path: Path, title: str) -> Path:
    """Reliability diagrams (accuracy vs confidence per bin) side by side, e.g. before / after calibration.

    ``diagrams`` maps a label to a :class:`avemo.train.calibration.ReliabilityDiagram`.
    """
    fig, axes = plt.subplots(1, len(diagrams), figsize=(4.4 * len(diagrams), 4.2), squeeze=False)
    for ax, (label, d) in zip(axes[0], diagrams.items()):
        edges = np.asarray(d.bin_edges)
        centers, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
        acc = np.nan_to_num(np.asarray(d.accuracy, float))
        ax.bar(centers, acc, width=width, edgecolor="black", lw=0.5, color="tab:blue", alpha=0.8, label="accuracy")
        conf = np.asarray(d.confidence, float)
        ok = np.asarray(d.count) > 0
        ax.plot(centers[ok], conf[ok], "o", color="tab:red", ms=3, label="mean confidence")
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{label}: ECE {100 * d.ece:.1f}%")
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
