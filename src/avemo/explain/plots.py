"""The pictures of an explanation; each function writes one PNG.

Figures are built with :class:`matplotlib.figure.Figure` directly (rendered by Agg), never through pyplot: no
display is needed, no global state is touched, and threads (a web demo's) can draw at the same time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from avemo.explain.occlusion import SpanImportance, importance_curve


def _figure(figsize: tuple[float, float]):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _save(fig, path: str | os.PathLike, dpi: int) -> Path:
    fig.savefig(path, dpi=dpi, bbox_inches="tight", format="png")
    return Path(path)


def plot_speech_spans(signal: np.ndarray, sampling_rate: int, spans: Sequence[SpanImportance], title: str,
                      path: str | os.PathLike, dpi: int = 100) -> Path:
    """The waveform with each time's importance as a coloured band behind it (red: the span supported the
    explained class; blue: it argued against), and the importance curve below."""
    from matplotlib.colors import TwoSlopeNorm

    duration = len(signal) / sampling_rate
    times, curve = importance_curve(list(spans), duration)
    limit = max(float(np.abs(curve).max()), 1e-6)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    fig = _figure((9, 4))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top.imshow(curve[None, :], aspect="auto", cmap="coolwarm", norm=norm, alpha=0.6,
               extent=(0.0, float(times[-1]) + 0.01, -1.05, 1.05), origin="lower")
    step = max(1, len(signal) // 20000)
    t = np.arange(0, len(signal), step) / sampling_rate
    peak = max(float(np.abs(signal).max()), 1e-9)
    top.plot(t, signal[::step] / peak, color="black", linewidth=0.5)
    top.set_ylim(-1.05, 1.05)
    top.set_yticks([])
    top.set_ylabel("waveform")
    top.set_title(title)
    bottom.fill_between(times, curve, 0, where=curve >= 0, color="tab:red", alpha=0.7, step="mid")
    bottom.fill_between(times, curve, 0, where=curve < 0, color="tab:blue", alpha=0.7, step="mid")
    bottom.axhline(0.0, color="gray", linewidth=0.5)
    bottom.set_ylabel("probability drop\nwhen occluded")
    bottom.set_xlabel("time (s)")
    bottom.set_xlim(0.0, duration)
    return _save(fig, path, dpi)


def plot_face_saliency(crop: np.ndarray, saliency: np.ndarray, window: tuple[int, int], title: str,
                       path: str | os.PathLike, dpi: int = 100) -> Path:
    """The aligned face crop, and the same crop with the saliency as a heat map over it (the dashed square is the
    window the network sees)."""
    from matplotlib.patches import Rectangle

    fig = _figure((6.4, 3.6))
    axes = fig.subplots(1, 2)
    side = crop.shape[0]
    for ax in axes:
        ax.imshow(crop, cmap="gray", vmin=0, vmax=255, interpolation="bilinear")
        ax.set_xticks([])
        ax.set_yticks([])
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    level = np.clip(np.asarray(saliency, np.float64), 0.0, 1.0)
    overlay = colormaps["jet"](level)
    overlay[..., 3] = 0.85 * level ** 1.5  # unimportant pixels stay see-through
    axes[1].imshow(overlay, interpolation="bilinear")
    heat = ScalarMappable(Normalize(0.0, 1.0), colormaps["jet"])
    top, size = window
    if size < side:
        axes[1].add_patch(Rectangle((top - 0.5, top - 0.5), size, size, fill=False, linestyle="--",
                                    edgecolor="white", linewidth=1))
    axes[0].set_title("face crop (model input)", fontsize=9)
    axes[1].set_title("integrated gradients", fontsize=9)
    fig.colorbar(heat, ax=axes[1], fraction=0.046, pad=0.04, label="relative importance")
    fig.suptitle(title)
    return _save(fig, path, dpi)


def plot_feature_groups(groups: Sequence[Mapping[str, Any]], title: str, path: str | os.PathLike, top: int = 12,
                        units: str = "SHAP value (logit)", dpi: int = 100) -> Path:
    """Horizontal bars of the ``top`` groups by |SHAP| (red: pushes towards the class; blue: away from it)."""
    shown = sorted(groups, key=lambda g: -abs(g["shap"]))[:top][::-1]
    values = [g["shap"] for g in shown]
    fig = _figure((7.5, 0.35 * len(shown) + 1.4))
    ax = fig.subplots()
    ax.barh([g["group"] for g in shown], values, color=["tab:red" if v >= 0 else "tab:blue" for v in values])
    ax.axvline(0.0, color="gray", linewidth=0.5)
    ax.set_xlabel(units)
    ax.set_title(title)
    ax.tick_params(axis="y", labelsize=8)
    return _save(fig, path, dpi)


def plot_contributions(contributions: Sequence[Mapping[str, Any]], probabilities: Mapping[str, float], target: str,
                       title: str, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Each modality's share of the fused result, and the fused distribution with all modalities and without each."""
    fig = _figure((10, 3.4))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.4]})
    names = [c["modality"] for c in contributions]
    shares = [c["share"] for c in contributions]
    left.bar(names, shares, color=["tab:orange" if n == "speech" else "tab:green" for n in names])
    left.set_ylim(0, 1)
    left.set_ylabel(f"share of '{target}'")
    for k, share in enumerate(shares):
        left.text(k, share + 0.02, f"{share:.0%}", ha="center", fontsize=9)
    labels = list(probabilities)
    rows = [("fused", [probabilities[c] for c in labels])]
    rows += [(f"without {c['modality']}", [c["probabilities_without"][k] for k in labels])
             for c in contributions if c.get("probabilities_without")]
    width = 0.8 / len(rows)
    x = np.arange(len(labels))
    for k, (name, values) in enumerate(rows):
        right.bar(x + (k - (len(rows) - 1) / 2) * width, values, width, label=name)
    right.set_xticks(x)
    right.set_xticklabels(labels, rotation=30, fontsize=8)
    right.set_ylabel("probability")
    right.legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path, dpi)
