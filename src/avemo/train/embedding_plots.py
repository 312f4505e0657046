"""t-SNE maps of embeddings (or features), one point per item coloured by its emotion (PNG files).

Every emotion has one colour in every map (the matplotlib ``tab10`` cycle in the order of the ``ravdess8`` label
set, as the per-class ROC curves of a RAVDESS report), so maps of different corpora read alike.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from avemo.errors import ParameterError  # noqa: E402
from avemo.labels import BORED, label_set  # noqa: E402

#: Fewest points a map is drawn for.
MIN_POINTS = 5
#: Dimensions the points are reduced to by PCA before t-SNE (when they have more).
PCA_DIMS = 50
#: The figure: width, height in inches at :data:`DPI` dots per inch (so 792 x 616 pixels).
FIGSIZE, DPI = (7.2, 5.6), 110
_ORDER = (*label_set("ravdess8"), BORED)


def emotion_colour(emotion: str) -> str:
    """The colour of ``emotion`` in every map: ``tab10`` in ``ravdess8`` order (``bored`` the 9th); any other
    name ``tab:olive``."""
    return f"C{_ORDER.index(emotion)}" if emotion in _ORDER else "tab:olive"


def tsne_coordinates(points: np.ndarray, random_state: int = 0) -> np.ndarray:
    """2-D t-SNE coordinates ``(n, 2)`` of ``points`` ``(n, d)``: PCA to :data:`PCA_DIMS` dimensions first when
    ``d`` is larger, perplexity ``min(30, (n - 1) / 3)``, PCA initialisation, fixed ``random_state``.

    Runs on one thread: t-SNE's OpenMP threads spin while they wait, and on a busy machine that made a map of
    60 points take 10-30 s instead of 0.2 s."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.asarray(points, dtype=np.float64)
    with threadpool_limits(1):
        if x.shape[1] > PCA_DIMS:
            x = PCA(min(PCA_DIMS, len(x)), random_state=random_state).fit_transform(x)
        perplexity = min(30.0, (len(x) - 1) / 3)
        return TSNE(2, perplexity=perplexity, init="pca", learning_rate="auto",
                    random_state=random_state).fit_transform(x)


def plot_tsne(points: np.ndarray, labels: Sequence[str], path: str | Path, title: str, *, random_state: int = 0,
              max_points: int | None = 5000) -> Path:
    """Draw the t-SNE map of ``points`` ``(n, d)`` float, coloured by ``labels`` (one emotion name per point),
    with a legend of the emotions and their counts; saves a PNG of 792 x 616 pixels at ``path``.

    Args:
        points: one embedding or feature vector per item.
        labels: each item's emotion.
        path: the PNG to write (folders are created).
        title: the figure's title (the number of points shown is added).
        random_state: seeds PCA, t-SNE and the subsample, so a map redraws the same.
        max_points: draw a random subsample of this many points when there are more (t-SNE's time grows
            faster than the number of points); ``None`` draws every one.

    Returns:
        ``path``.

    Raises:
        ParameterError: when ``points`` is not a 2-D array of finite numbers with one label per row, or has
            fewer than :data:`MIN_POINTS` rows.
    """
    x = np.asarray(points, dtype=np.float64)
    labels = [str(label) for label in labels]
    if x.ndim != 2 or x.shape[1] < 1:
        raise ParameterError(f"t-SNE points must be a 2-D array (items, dimensions), got shape {x.shape}")
    if len(labels) != len(x):
        raise ParameterError(f"t-SNE needs one label per point: {len(x)} points, {len(labels)} labels")
    if len(x) < MIN_POINTS:
        raise ParameterError(f"a t-SNE map needs at least {MIN_POINTS} points, got {len(x)}; give more items")
    if not np.isfinite(x).all():
        raise ParameterError("t-SNE points contain NaN or infinite values; drop or fill those items first")
    shown = np.arange(len(x))
    if max_points is not None and len(x) > max_points:
        shown = np.sort(np.random.default_rng(random_state).choice(len(x), max_points, replace=False))
    xy = tsne_coordinates(x[shown], random_state)
    chosen = np.asarray(labels, dtype=object)[shown]
    fig, ax = plt.subplots(figsize=FIGSIZE)
    for emotion in sorted(set(chosen), key=lambda e: (_ORDER.index(e) if e in _ORDER else len(_ORDER), e)):
        rows = chosen == emotion
        ax.scatter(xy[rows, 0], xy[rows, 1], s=7 if len(xy) > 1000 else 14, alpha=0.7, linewidths=0,
                   color=emotion_colour(emotion), label=f"{emotion} ({int(rows.sum())})")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    count = f"{len(shown)} points" if len(shown) == len(x) else f"{len(shown)} of {len(x)} points, drawn at random"
    ax.set_title("\n".join(textwrap.wrap(f"{title} ({count})", 78)), fontsize=9)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=2, frameon=False)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return out
