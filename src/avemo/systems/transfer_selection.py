"""Choosing a multi-corpus speech probe for voices and corpora it never heard: the training loss over label sets
that differ, and the nested leave-one-corpus-out rule that picks the loss, the layers and the L2 strength.

**Losses** (:data:`LOSSES`; which classes a recording's cross-entropy runs over, :func:`loss_masks`):

- ``masked``: only the classes its corpus has. A corpus without "disgust" never pushes disgust down, so classes
  few corpora have can float up on unfamiliar voices;
- ``partial``: every class except the ambiguous ones the corpus lacks (:data:`AMBIGUOUS`: calm and neutral, which
  corpora with only one of them label alike), so a corpus without disgust does teach that its clips are not
  disgusted;
- ``full``: every class (a plain softmax over the label set).

**The nested rule** (:func:`loco_select`): each candidate (loss, layers, L2) is scored by leave-one-corpus-out
*inside* the training corpora: trained on all of them but one, scored by UA on that one (the argmax among its own
classes), the score the mean over the inner held-out corpora. The highest score wins (ties: the earlier candidate of
the grid). A held-out corpus of the outer protocol is never among the rows. With ``mlp`` among the head kinds
(:data:`HEAD_KINDS`), every (loss, layers) also has a small MLP candidate (:mod:`avemo.systems.probe_mlp`, its L2
the MLP's weight decay), fitted on the same proxy design it later runs on. To keep the inner loop affordable the
candidates are fitted on a proxy design: the standardised columns projected onto their top ``components``
principal components (computed on the training rows alone, unlabelled; at most :data:`CELL_CAP` rows of each
corpus and class take part); ridge penalties are rotation-invariant, so
an L2 strength means the same on the projection as on the full columns. The chosen head is then fitted on the full
columns. The speaker-adapted head keeps the global head's loss and chooses its layers and L2 the same
way. The pooled inner held-out logits of the winner give the temperature and the abstention threshold (of a
linear head; an MLP is calibrated on its own recipe refitted without each corpus,
:func:`~avemo.systems.probe_mlp.held_out_corpus_logits`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from avemo.data.recipes import corpus_class_mask
from avemo.errors import ParameterError
from avemo.labels import CALM, NEUTRAL

#: The training losses, by how many absent classes they mask (see the module docstring).
LOSSES = ("masked", "partial", "full")
#: Classes that corpora lacking one of them label as the other: kept masked by the ``partial`` loss.
AMBIGUOUS = (CALM, NEUTRAL)
#: The kinds of global head the rule may choose among: a softmax regression (``linear``) and a small MLP (``mlp``)
#: on clip statistics.
PROXY_KINDS = ("linear", "mlp")
#: The kinds of global head a speech probe may have: :data:`PROXY_KINDS`, or an attentive head over frames
#: (``attentive``, :mod:`avemo.systems.probe_attentive`; the only kind when chosen: ``reports/cross-corpus/head-check``
#: applied the nested rule between it and the heads on clip statistics).
HEAD_KINDS = (*PROXY_KINDS, "attentive")
#: Principal components of the inner loop's proxy design, and L-BFGS iterations of each inner fit (warm-started
#: from the next stronger L2's solution).
COMPONENTS = 128
MAX_ITER = 60
#: At most this many rows of each (corpus, class) take part in the inner loop (drawn at random, seeded): training
#: weighs every corpus and class alike, so a cap changes little but the cost.
CELL_CAP = 300


def loss_masks(corpus: Sequence[str], classes: Sequence[str], loss: str) -> np.ndarray:
    """``(n, C)`` bool: the classes each row's cross-entropy runs over under ``loss`` (:data:`LOSSES`).

    Raises:
        ParameterError: for an unknown loss.
    """
    if loss not in LOSSES:
        raise ParameterError(f"unknown loss {loss!r}; choose one of {list(LOSSES)}")
    corpus = np.asarray(corpus, dtype=object)
    masks = {c: corpus_class_mask(str(c), tuple(classes)) for c in np.unique(corpus)} if len(corpus) else {}
    out = np.stack([masks[c] for c in corpus]) if len(corpus) else np.zeros((0, len(classes)), bool)
    if loss == "full":
        return np.ones_like(out)
    if loss == "partial":
        ambiguous = np.array([name in AMBIGUOUS for name in classes])
        return out | ~ambiguous[None, :]
    return out


def capped_rows(corpus: np.ndarray, y: np.ndarray, cap: int = CELL_CAP, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``cap`` rows of every (corpus, class) cell, drawn at random (seeded)."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(corpus):
        for k in np.unique(y[corpus == c]):
            cell = np.flatnonzero((corpus == c) & (y == k))
            keep.append(cell if len(cell) <= cap else rng.choice(cell, cap, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


def principal_basis(x: np.ndarray, components: int, seed: int = 0) -> np.ndarray:
    """``(D, k)`` orthonormal directions of the largest variance of the ``(n, D)`` rows ``x`` (centred by the
    caller), ``k = min(components, n, D)``; randomised SVD, seeded."""
    from sklearn.utils.extmath import randomized_svd

    k = max(1, min(components, *x.shape))
    _, _, vt = randomized_svd(np.asarray(x, np.float32), k, n_iter=4, random_state=seed)
    return vt.T.astype(np.float32)


@dataclasses.dataclass
class LocoChoice:
    """What :func:`loco_select` chose, and everything it scored.

    Attributes:
        loss, layers, l2, head: the winning candidate (``head``: its kind, :data:`PROXY_KINDS`).
        score: its mean inner leave-one-corpus-out UA.
        logits: ``(n, C)`` its inner held-out logits of every row (each scored by the proxy trained without its
            corpus).
        scores: every candidate: ``{"head", "loss", "layers", "l2", "loco_ua", "ua_by_corpus"}``.
    """

    loss: str
    layers: tuple[int, ...]
    l2: float
    score: float
    logits: np.ndarray
    scores: list[dict[str, Any]]
    head: str = "linear"


def loco_select(design: Callable[[Sequence[int]], np.ndarray], y: np.ndarray, corpus: np.ndarray,
                classes: Sequence[str], layer_grid: Sequence[Sequence[int]], l2_grid: Sequence[float],
                losses: Sequence[str], weights: Callable[[np.ndarray, np.ndarray], np.ndarray],
                fit: Callable[..., tuple[np.ndarray, np.ndarray]],
                score: Callable[[np.ndarray, np.ndarray, np.ndarray], dict[str, float]],
                components: int = COMPONENTS, heads: Sequence[str] = ("linear",)) -> LocoChoice:
    """The nested leave-one-corpus-out choice (module docstring) among ``losses × layer_grid × l2_grid`` (and,
    with ``mlp`` in ``heads``, an MLP per loss and layer set).

    Args:
        design: ``layers -> (n, D)`` columns of the rows (for the adapted head: already standardised per speaker).
        y, corpus: ``(n,)`` class indices and corpora of the rows.
        weights: ``(corpus, y) -> (n,)`` training row weights.
        fit: :func:`~avemo.systems.probe_stats.fit_softmax_regression`.
        score: ``(y, probs, corpus) -> {corpus: UA}``.

    Raises:
        ParameterError: with fewer than two corpora among the rows (nothing to hold out inside them), or an
            unknown head kind.
    """
    from avemo.systems import probe_mlp

    unknown = sorted(set(heads) - set(PROXY_KINDS))
    if unknown or not heads:
        raise ParameterError(f"head kinds {unknown or list(heads)} cannot be chosen by this rule; choose among "
                             f"{list(PROXY_KINDS)}")
    names = list(np.unique(corpus))
    if len(names) < 2:
        raise ParameterError(f"leave-one-corpus-out selection needs two or more training corpora, got {names}; "
                             "use selection='speakers'")
    y = np.asarray(y, np.int64)
    masks = {loss: loss_masks(corpus, classes, loss) for loss in losses}
    tried: list[dict[str, Any]] = []
    best: tuple | None = None
    for layers in layer_grid:
        x = design(layers)
        mean, std = x.mean(0), np.maximum(x.std(0), 1e-6)
        z = (x - mean) / std
        z = z @ principal_basis(z, components)
        del x
        for loss in losses:
            kinds = [("linear", l2) for l2 in l2_grid if "linear" in heads]
            kinds += [("mlp", probe_mlp.WEIGHT_DECAY)] if "mlp" in heads else []
            per: dict[tuple, dict[str, float]] = {k: {} for k in kinds}
            logits = {k: np.zeros((len(y), len(classes)), np.float32) for k in kinds}
            for held_out in names:
                test = corpus == held_out
                train = ~test
                w = weights(corpus[train], y[train])
                start = None
                for l2 in sorted(l2_grid, reverse=True) if "linear" in heads else []:  # strongest first, each
                    coef, bias = start = fit(z[train], y[train], masks[loss][train], w, l2,  # warm-starting the next
                                             max_iter=MAX_ITER, init=start)
                    logits["linear", l2][test] = z[test] @ coef.T + bias
                if "mlp" in heads:
                    mlp = probe_mlp.fit_mlp(z[train], y[train], masks[loss][train], w)
                    logits["mlp", probe_mlp.WEIGHT_DECAY][test] = probe_mlp.mlp_logits(z[test], mlp)
                for k in kinds:
                    per[k].update(score(y[test], softmax(logits[k][test]), corpus[test]))
            for kind, l2 in kinds:
                ua = float(np.mean([per[kind, l2][c] for c in names]))
                tried.append({"head": kind, "loss": loss, "layers": list(layers), "l2": float(l2), "loco_ua": ua,
                              "ua_by_corpus": per[kind, l2]})
                if best is None or ua > best[0] + 1e-9:
                    best = (ua, loss, tuple(layers), float(l2), logits[kind, l2], kind)
    ua, loss, layers, l2, logits, kind = best
    return LocoChoice(loss, layers, l2, ua, logits, tried, kind)


def abstention_threshold(top_probability: np.ndarray, coverage: float) -> float:
    """The top-probability threshold under which a prediction is reported as uncertain: the largest value on a
    0.01 grid that still answers at least ``coverage`` of the rows (their calibrated top probabilities
    ``top_probability``), so at most ``1 - coverage`` of them abstain.

    Raises:
        ParameterError: for a coverage outside (0, 1] or no rows.
    """
    p = np.asarray(top_probability, np.float64)
    if not 0 < coverage <= 1 or not len(p):
        raise ParameterError(f"coverage must be in (0, 1] and rows must be given, got {coverage} and {len(p)} rows")
    grid = np.round(np.arange(0.0, 1.0, 0.01), 2)
    answered = np.array([(p >= t).mean() for t in grid])
    return float(grid[answered >= coverage - 1e-12].max())


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, C)`` logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)
