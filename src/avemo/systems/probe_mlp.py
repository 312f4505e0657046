"""The speech probe's small MLP head: a global head the nested rule (:mod:`avemo.systems.transfer_selection`) may
choose instead of the softmax regression.

It reads the standardised Whisper layer statistics projected onto their top :data:`COMPONENTS` principal
components (computed on the training rows, unlabelled), then one hidden layer: ``logits = gelu(z @ w1.T + b1) @
coef.T + bias``. Training draws minibatches with the rows' weights (every corpus, and every class within a corpus,
alike: corpus-balanced minibatches) and runs the masked cross-entropy of the chosen loss (each row's softmax over
the classes its mask allows), with dropout and AdamW on a one-cycle schedule; seeded and deterministic on one
thread. The inner loop of the nested rule fits it on the same projection it later runs on, so what the rule scores
is what ships. Its temperature and abstention level come from :func:`held_out_corpus_logits`: the shipped recipe
itself (its standardisation, principal components and network, on every training row and copy, as many steps)
refitted without each training corpus in turn, so they are set on what meets an unseen corpus rather than on the
smaller proxies of the inner loop.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import torch

from avemo.errors import ParameterError

#: Principal components the head reads, hidden units, AdamW weight decay, passes over the rows, minibatch size,
#: dropout on the inputs and on the hidden layer, and the peak learning rate of the one-cycle schedule.
COMPONENTS = 128
HIDDEN = 256
WEIGHT_DECAY = 0.01
EPOCHS = 40
BATCH = 256
INPUT_DROPOUT, DROPOUT = 0.2, 0.5
PEAK_LR = 3e-3
#: The version of how the head is fitted and calibrated (part of a speech probe's fit key when it may choose an
#: MLP): 2 calibrates on :func:`held_out_corpus_logits`; 3 leaves the held-out corpus out of the standardisation and
#: principal components there too.
VERSION = 3
#: The arrays of a fitted head (besides the standardisation statistics): ``basis`` ``(D, k)``, ``w1`` ``(H, k)``,
#: ``b1`` ``(H,)``, ``coef`` ``(C, H)``, ``bias`` ``(C,)``.
PARAMETERS = ("basis", "w1", "b1", "coef", "bias")


def fit_mlp(z: np.ndarray, y: np.ndarray, mask: np.ndarray, weight: np.ndarray, seed: int = 0
            ) -> dict[str, np.ndarray]:
    """``{"w1", "b1", "coef", "bias"}`` of the MLP fitted on the ``(n, k)`` projected rows ``z``, their class
    indices ``y``, the classes each row's cross-entropy runs over ``mask`` ``(n, C)`` and the row weights
    ``weight`` ``(n,)`` (minibatches are drawn in proportion to them).

    Raises:
        ParameterError: for no rows, or a row whose label its mask excludes.
    """
    mask = np.asarray(mask, bool)
    y = np.asarray(y, np.int64)
    if not len(y):
        raise ParameterError("fit_mlp: no training rows")
    if not mask[np.arange(len(y)), y].all():
        raise ParameterError("fit_mlp: a row's label is outside the classes its mask allows")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic, and the inner loop runs many small fits side by side
    try:
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        classes = mask.shape[1]
        net = torch.nn.Sequential(torch.nn.Dropout(INPUT_DROPOUT), torch.nn.Linear(z.shape[1], HIDDEN),
                                  torch.nn.GELU(), torch.nn.Dropout(DROPOUT), torch.nn.Linear(HIDDEN, classes))
        xt, yt = torch.from_numpy(np.asarray(z, np.float32)), torch.from_numpy(y)
        allowed = torch.from_numpy(mask)
        p = torch.from_numpy(np.asarray(weight, np.float64) / np.sum(weight)).float()

        def minibatch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            rows = torch.multinomial(p, BATCH, replacement=True, generator=generator)
            return net(xt[rows]), allowed[rows], yt[rows]

        optimise(net, EPOCHS * max(1, len(y) // BATCH), minibatch)
    finally:
        torch.set_num_threads(threads)
    first, last = net[1], net[4]
    return {"w1": first.weight.detach().numpy().copy(), "b1": first.bias.detach().numpy().copy(),
            "coef": last.weight.detach().numpy().copy(), "bias": last.bias.detach().numpy().copy()}


def optimise(net: torch.nn.Module, steps: int,
             minibatch: Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> None:
    """Train ``net`` for ``steps`` minibatches as the speech probe's network heads train: the masked cross-entropy,
    AdamW (weight decay :data:`WEIGHT_DECAY`) on a one-cycle schedule peaking at :data:`PEAK_LR`. ``minibatch()``
    draws a fresh minibatch and returns its ``(B, C)`` logits, the ``(B, C)`` classes each row's softmax runs over
    and its ``(B,)`` labels."""
    optimiser = torch.optim.AdamW(net.parameters(), lr=PEAK_LR / 25, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, PEAK_LR, total_steps=steps)
    for _ in range(steps):
        logits, allowed, target = minibatch()
        loss = torch.nn.functional.cross_entropy(logits.masked_fill(~allowed, -1e9), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()


def fit_head(z: np.ndarray, y: np.ndarray, mask: np.ndarray, weight: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays of :data:`PARAMETERS` of the MLP head fitted on the ``(n, D)`` standardised columns ``z``: their
    top :data:`COMPONENTS` principal components (``basis``), then :func:`fit_mlp` on the projection (``y``,
    ``mask``, ``weight`` as there)."""
    from avemo.systems.transfer_selection import principal_basis

    basis = principal_basis(z, COMPONENTS)
    return {"basis": basis, **fit_mlp(z @ basis, y, mask, weight)}


def held_out_corpus_logits(x: np.ndarray, y: np.ndarray, mask: np.ndarray, corpus: np.ndarray,
                           weights: Callable[[np.ndarray, np.ndarray], np.ndarray], train: np.ndarray | None = None
                           ) -> np.ndarray:
    """``(n, C)`` logits of the ``(n, D)`` design rows ``x`` (not standardised), each from the whole recipe refitted
    on the training rows ``train`` (indices; default: every row) of the other corpora in ``corpus`` ``(n,)``: their
    standardisation, their principal components and the MLP (:func:`fit_head`, with their labels ``y``, masks
    ``mask`` and ``weights(corpus, y)`` for row weights). What the head says about a corpus it never heard, for its
    temperature and abstention level: the held-out corpus takes no part in the standardisation or the components
    either, as a user's corpus takes none in the shipped head's (when it did, the projection kept the held-out
    corpus's own directions and the head was calibrated more sure of unseen corpora than it is:
    ``reports/cross-corpus/calibration-check``).

    Raises:
        ParameterError: with fewer than two corpora among the training rows.
    """
    corpus = np.asarray(corpus, dtype=object)
    train = np.arange(len(y)) if train is None else np.asarray(train, np.int64)
    names = np.unique(corpus[train])
    if len(names) < 2:
        raise ParameterError(f"held-out corpus logits need two or more training corpora, got {list(names)}")
    out = np.zeros((len(y), mask.shape[1]), np.float32)
    for name in np.unique(corpus):
        fit_rows = train[corpus[train] != name]
        held = np.flatnonzero(corpus == name)
        z = np.asarray(x[fit_rows], np.float32)  # a copy, standardised in place
        mean, std = z.mean(0), np.maximum(z.std(0), 1e-6)
        z -= mean
        z /= std
        head = fit_head(z, y[fit_rows], mask[fit_rows], weights(corpus[fit_rows], y[fit_rows]))
        del z
        out[held] = head_logits((np.asarray(x[held], np.float32) - mean) / std, head)
    return out


def _forward(z: torch.Tensor, head: Mapping[str, np.ndarray]) -> torch.Tensor:
    """``(n, C)`` logits of the projected rows ``z`` ``(n, k)``: the one forward pass of the MLP."""
    hidden = torch.nn.functional.gelu(z @ torch.from_numpy(head["w1"]).T + torch.from_numpy(head["b1"]))
    return hidden @ torch.from_numpy(head["coef"]).T + torch.from_numpy(head["bias"])


def mlp_logits(z: np.ndarray, head: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(n, C)`` logits of the projected rows ``z`` ``(n, k)`` (``head``: the arrays of :func:`fit_mlp`)."""
    with torch.no_grad():
        return _forward(torch.from_numpy(np.asarray(z, np.float32)), head).numpy()


def head_logits(standardised: np.ndarray, head: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(n, C)`` logits of a fitted MLP head (``head`` with every array of :data:`PARAMETERS`) on the
    standardised columns ``(n, D)``."""
    return mlp_logits(np.asarray(standardised, np.float32) @ head["basis"], head)


def local_linearisation(standardised: np.ndarray, head: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The MLP head as a linear model at one recording: ``(coef (C, D), bias (C,))`` with ``coef`` the gradient of
    each logit with respect to the ``(D,)`` standardised columns there and ``bias`` such that ``coef @ z + bias``
    equals the head's logits at that recording (what gradient x input attributions read)."""
    z = torch.from_numpy(np.asarray(standardised, np.float32).reshape(-1))
    basis = torch.from_numpy(np.asarray(head["basis"], np.float32))

    def logits(v: torch.Tensor) -> torch.Tensor:
        return _forward((v @ basis)[None], head)[0]

    jacobian = torch.autograd.functional.jacobian(logits, z)
    with torch.no_grad():
        at = logits(z)
    return jacobian.numpy().astype(np.float64), (at - jacobian @ z).numpy().astype(np.float64)
