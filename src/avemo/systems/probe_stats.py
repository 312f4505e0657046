"""The statistics a speech probe is fitted with: emotion offsets of the features, per-utterance normalisation,
row weights that balance corpora and classes, a masked softmax regression, and UA per corpus."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from avemo.errors import ParameterError
from avemo.data.recipes import corpus_class_mask


def class_offsets(x: np.ndarray, y: np.ndarray, weight: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """How each emotion shifts the features: ``(C, D)`` weighted class means of ``x`` minus their average over the
    classes present (rows of absent classes: 0), and ``(D,)`` the variance of those shifts (what the emotions add
    to a speaker's spread when the speaker is heard in all of them alike)."""
    x = np.asarray(x, np.float64)
    offsets = np.zeros((n_classes, x.shape[1]))
    present = [k for k in range(n_classes) if (y == k).any()]
    for k in present:
        rows = y == k
        offsets[k] = np.average(x[rows], axis=0, weights=weight[rows])
    offsets[present] -= offsets[present].mean(0)
    return offsets.astype(np.float32), (offsets[present] ** 2).mean(0).astype(np.float32)


def emotion_offsets(probs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each row's expected emotion shift ``(n, D)``: its class probabilities (or one-hot labels) ``(n, C)`` times
    the class offsets ``(C, D)`` of :func:`class_offsets`."""
    return (np.asarray(probs, np.float32) @ np.asarray(offsets, np.float32)).astype(np.float32)


def normalise_utterances(x: np.ndarray, width: int) -> np.ndarray:
    """``(n, D)`` vectors with each ``width``-long block (a layer's mean or std over frames) standardised across
    its own dimensions: per-utterance normalisation."""
    blocks = np.asarray(x, np.float32).reshape(len(x), -1, width)
    blocks = (blocks - blocks.mean(2, keepdims=True)) / np.maximum(blocks.std(2, keepdims=True), 1e-6)
    return blocks.reshape(len(x), -1)


def balance_weights(corpus: np.ndarray, y: np.ndarray, target: str | None = None) -> np.ndarray:
    """Row weights under which every corpus weighs the same and, within a corpus, every class it has; with a
    ``target`` corpus among them, that corpus weighs as much as all the others together."""
    w = np.zeros(len(y), np.float64)
    corpora = np.unique(corpus)
    for c in corpora:
        rows = corpus == c
        share = max(1, len(corpora) - 1) if c == target else 1
        classes = np.unique(y[rows])
        for k in classes:
            cell = rows & (y == k)
            w[cell] = share / (len(classes) * cell.sum())
    return w * len(y) / w.sum()


def fit_softmax_regression(x: np.ndarray, y: np.ndarray, mask: np.ndarray, weight: np.ndarray, l2: float,
                           max_iter: int = 100, init: tuple[np.ndarray, np.ndarray] | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(C, D)`` and biases ``(C,)`` minimising the weighted masked cross-entropy (each row's softmax over
    the classes ``mask`` allows it, :func:`avemo.train.losses.masked_cross_entropy`) + ``l2 * |W|^2``: full-batch
    L-BFGS from zero, or from ``init = (weights, biases)`` (a warm start); deterministic.

    Raises:
        ParameterError: for a row whose label its mask excludes.
    """
    mask = np.asarray(mask, bool)
    y = np.asarray(y, np.int64)
    if len(y) and not mask[np.arange(len(y)), y].all():
        raise ParameterError("fit_softmax_regression: a row's label is outside the classes its mask allows")
    xt, yt = torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(y)
    excluded = torch.from_numpy(np.where(mask, 0.0, -1e9).astype(np.float32))  # exp() of it is 0: masked out
    wt = torch.from_numpy(np.asarray(weight, np.float32))
    wt = wt / wt.sum().clamp_min(1e-12)
    if init is None:
        coef = torch.zeros(mask.shape[1], x.shape[1], dtype=torch.float32, requires_grad=True)
        bias = torch.zeros(mask.shape[1], dtype=torch.float32, requires_grad=True)
    else:
        coef = torch.tensor(np.asarray(init[0], np.float32), requires_grad=True)
        bias = torch.tensor(np.asarray(init[1], np.float32), requires_grad=True)
    optimiser = torch.optim.LBFGS([coef, bias], lr=1.0, max_iter=max_iter, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-9)

    def closure():
        optimiser.zero_grad()
        log_p = torch.log_softmax(xt @ coef.T + bias + excluded, dim=1)
        loss = -(log_p.gather(1, yt[:, None])[:, 0] * wt).sum() + l2 * (coef ** 2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return coef.detach().numpy().astype(np.float32), bias.detach().numpy().astype(np.float32)


def corpus_ua(y: np.ndarray, probs: np.ndarray, corpus: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Unweighted accuracy of each corpus in ``corpus``, the argmax taken among the classes that corpus has."""
    import warnings

    from avemo.train.metrics import unweighted_accuracy

    out = {}
    for c in np.unique(corpus):
        rows = corpus == c
        allowed = corpus_class_mask(str(c), tuple(labels))
        pred = np.where(allowed, probs[rows], -np.inf).argmax(1)
        with warnings.catch_warnings():  # a few validation speakers may lack a class their corpus has
            warnings.simplefilter("ignore", UserWarning)
            out[str(c)] = unweighted_accuracy(y[rows], pred)
    return out
