"""An attentive global head for the speech probe: attentive statistics pooling over a clip's frames
(:class:`~avemo.features.audio.whisper_layers.WhisperFramesExtractor`), then the hidden layer of
:mod:`avemo.systems.probe_mlp`.

Each ``(width,)`` frame is standardised (statistics of the training frames), mapped to :data:`DIM` dimensions, and
scored by a small network; the softmax of the scores over the clip's frames weighs their mean and standard
deviation, which go through one hidden layer to the logits. Training is :func:`~avemo.systems.probe_mlp.fit_mlp`'s
(minibatches drawn with the rows' weights, the masked cross-entropy, dropout, AdamW on a one-cycle schedule,
seeded, one thread: :func:`~avemo.systems.probe_mlp.optimise`), on a random window of at most :data:`WINDOW`
frames of each clip; a clip is then read whole.
``reports/cross-corpus/head-check`` measured it against the MLP on clip statistics under the nested rule: chosen in
every fold, 45.8% against 41.0% single-file UA leave-one-corpus-out on clean clips.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from avemo.errors import ParameterError
from avemo.systems import probe_mlp
from avemo.systems.probe_inputs import frames_array

#: The version of how the head is fitted and calibrated (part of a speech probe's fit key when its global head is
#: attentive).
VERSION = 1
#: Projected width, hidden units of the frame scorer, passes over the rows, training window (frames: 3.84 s at
#: 12.5 frames/s) and clips per batch when reading.
DIM, ATTENTION, EPOCHS, WINDOW, READ_BATCH = 128, 64, 15, 48, 128
#: The arrays of a fitted head: the frames' standardisation (``frame_mean``, ``frame_std`` ``(W,)``), the projection
#: (``project_w`` ``(DIM, W)``, ``project_b``), the frame scorer (``score_w1`` ``(ATTENTION, DIM)``, ``score_b1``,
#: ``score_w2`` ``(1, ATTENTION)``, ``score_b2``) and the hidden layer and output as in :mod:`probe_mlp`.
PARAMETERS = ("frame_mean", "frame_std", "project_w", "project_b", "score_w1", "score_b1", "score_w2", "score_b2",
              "w1", "b1", "coef", "bias")


class AttentiveHead(torch.nn.Module):
    """``forward(frames (B, T, W) standardised, valid (B, T) bool) -> (B, C)`` logits."""

    def __init__(self, width: int, classes: int) -> None:
        super().__init__()
        self.drop = torch.nn.Dropout(probe_mlp.INPUT_DROPOUT)
        self.project = torch.nn.Linear(width, DIM)
        self.score = torch.nn.Sequential(torch.nn.Linear(DIM, ATTENTION), torch.nn.Tanh(),
                                         torch.nn.Linear(ATTENTION, 1))
        self.hidden = torch.nn.Linear(2 * DIM, probe_mlp.HIDDEN)
        self.drop_hidden = torch.nn.Dropout(probe_mlp.DROPOUT)
        self.out = torch.nn.Linear(probe_mlp.HIDDEN, classes)

    def forward(self, frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        h = self.project(self.drop(frames))
        a = torch.softmax(self.score(h).squeeze(-1).masked_fill(~valid, -1e9), 1)[..., None]
        mean = (a * h).sum(1)
        std = ((a * h * h).sum(1) - mean ** 2).clamp_min(1e-6).sqrt()
        return self.out(self.drop_hidden(torch.nn.functional.gelu(self.hidden(torch.cat([mean, std], 1)))))

    def _layers(self) -> dict[str, tuple[torch.nn.Linear, str]]:
        """Each linear layer under the name of its weight in :data:`PARAMETERS`, with the name of its bias."""
        return {"project_w": (self.project, "project_b"), "score_w1": (self.score[0], "score_b1"),
                "score_w2": (self.score[2], "score_b2"), "w1": (self.hidden, "b1"), "coef": (self.out, "bias")}

    def arrays(self) -> dict[str, np.ndarray]:
        """The network's weights as the arrays of :data:`PARAMETERS` (without the frames' standardisation)."""
        out = {}
        for name, (layer, bias) in self._layers().items():
            out[name] = layer.weight.detach().numpy().copy()
            out[bias] = layer.bias.detach().numpy().copy()
        return out

    @classmethod
    def from_arrays(cls, head: Mapping[str, np.ndarray]) -> "AttentiveHead":
        """The network of :meth:`arrays`' output, in evaluation mode."""
        net = cls(head["project_w"].shape[1], head["coef"].shape[0])
        with torch.no_grad():
            for name, (layer, bias) in net._layers().items():
                layer.weight.copy_(torch.from_numpy(np.asarray(head[name], np.float32)))
                layer.bias.copy_(torch.from_numpy(np.asarray(head[bias], np.float32)))
        return net.eval()


class _Frames:
    """Clips' frames side by side: ``data`` ``(total, W)`` float32 and each clip's ``start`` and ``end`` rows."""

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        if not len(frames):
            raise ParameterError("attentive head: no clips")
        widths = {np.shape(f)[1] if np.ndim(f) == 2 else None for f in frames}
        if len(widths) != 1 or None in widths or any(len(f) == 0 for f in frames):
            raise ParameterError(f"attentive head: every clip needs (frames >= 1, width) features of one width, got "
                                 f"widths {sorted(map(str, widths))}")
        lengths = np.array([len(f) for f in frames])
        self.end = np.cumsum(lengths)
        self.start = self.end - lengths
        self.data = np.concatenate([np.asarray(f, np.float32) for f in frames])

    def batch(self, rows: np.ndarray, mean: np.ndarray, std: np.ndarray, rng: np.random.Generator | None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised ``(B, T, W)`` frames of ``rows`` and their mask: a random window of at most
        :data:`WINDOW` frames of each with ``rng``, each clip whole without."""
        spans = []
        for r in rows:
            start, end = self.start[r], self.end[r]
            if rng is not None and end - start > WINDOW:
                start += int(rng.integers(0, end - start - WINDOW + 1))
                end = start + WINDOW
            spans.append((start, end))
        longest = max(e - s for s, e in spans)
        out = np.zeros((len(rows), longest, self.data.shape[1]), np.float32)
        valid = np.zeros((len(rows), longest), bool)
        for i, (s, e) in enumerate(spans):
            out[i, : e - s] = (self.data[s:e] - mean) / std
            valid[i, : e - s] = True
        return torch.from_numpy(out), torch.from_numpy(valid)


def fit_attentive(frames: Sequence[np.ndarray], y: np.ndarray, mask: np.ndarray, weight: np.ndarray,
                  seed: int = 0, epochs: int = EPOCHS) -> dict[str, np.ndarray]:
    """The arrays of :data:`PARAMETERS` of the head fitted on the clips' ``(frames_i, W)`` features ``frames``,
    their class indices ``y``, the classes each clip's cross-entropy runs over ``mask`` ``(n, C)`` and the row
    weights ``weight`` ``(n,)`` (minibatches are drawn in proportion to them); ``epochs`` passes over the rows.

    Raises:
        ParameterError: for no clips, clips without frames or of different widths, or a label its mask excludes.
    """
    data = _Frames(frames)
    mask, y = np.asarray(mask, bool), np.asarray(y, np.int64)
    if not mask[np.arange(len(y)), y].all():
        raise ParameterError("attentive head: a clip's label is outside the classes its mask allows")
    mean = data.data.mean(0)
    std = np.maximum(data.data.std(0), 1e-6)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        net = AttentiveHead(data.data.shape[1], mask.shape[1])
        p = np.asarray(weight, np.float64) / np.sum(weight)
        allowed, target = torch.from_numpy(mask), torch.from_numpy(y)

        def minibatch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            pick = rng.choice(len(y), probe_mlp.BATCH, p=p)
            return net(*data.batch(pick, mean, std, rng)), allowed[pick], target[pick]

        probe_mlp.optimise(net, epochs * max(1, len(y) // probe_mlp.BATCH), minibatch)
    finally:
        torch.set_num_threads(threads)
    return {"frame_mean": mean, "frame_std": std, **net.arrays()}


def held_out_corpus_logits(frames: Sequence[np.ndarray], y: np.ndarray, mask: np.ndarray, corpus: np.ndarray,
                           weights: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """``(n, C)`` logits of every clip by the head fitted (:func:`fit_attentive`) on the clips of the other corpora
    (``weights``: ``(corpus, y) -> (n,)`` training row weights): what calibrates a head that will meet corpora it
    never heard.

    Raises:
        ParameterError: with fewer than two corpora.
    """
    corpus = np.asarray(corpus, dtype=object)
    names = list(np.unique(corpus))
    if len(names) < 2:
        raise ParameterError(f"attentive head: held-out-corpus logits need two or more corpora, got {names}")
    held = frames_array(list(frames))
    out = np.zeros((len(corpus), np.shape(mask)[1]), np.float32)
    for held_out in names:
        test = corpus == held_out
        train = ~test
        head = fit_attentive(held[train], y[train], mask[train], weights(corpus[train], y[train]))
        out[test] = attentive_logits(held[test], head)
    return out


def attentive_logits(frames: Sequence[np.ndarray], head: Mapping[str, np.ndarray],
                     net: AttentiveHead | None = None) -> np.ndarray:
    """``(n, C)`` logits of the clips' ``(frames_i, W)`` features (``head``: the arrays of :func:`fit_attentive`;
    ``net``: its network, when the caller keeps it built), each clip read whole.

    Raises:
        ParameterError: for clips without frames or of another width than the head's.
    """
    data = _Frames(frames)
    if data.data.shape[1] != head["frame_mean"].shape[0]:
        raise ParameterError(f"attentive head: frames of width {data.data.shape[1]}, the head reads "
                             f"{head['frame_mean'].shape[0]}")
    net = net if net is not None else AttentiveHead.from_arrays(head)
    lengths = data.end - data.start
    order = np.argsort(lengths, kind="stable")  # similar lengths together: little padding
    out = np.zeros((len(lengths), head["coef"].shape[0]), np.float32)
    with torch.no_grad():
        for i in range(0, len(order), READ_BATCH):
            part = order[i:i + READ_BATCH]
            out[part] = net(*data.batch(part, head["frame_mean"], head["frame_std"], None)).numpy()
    return out


def local_linearisation(frames: np.ndarray, head: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The head's logits of one clip linearised at its ``(T, W)`` frames: ``(coef (C, T * W), bias (C,))`` over the
    standardised frames flattened time-major (``coef``: the gradient of each logit; ``bias``: the logits less
    ``coef @ z``), so ``coef @ z + bias`` gives the head's logits there (gradient x input explanations).

    Raises:
        ParameterError: for frames that are not ``(T >= 1, W)`` of the head's width.
    """
    frames = np.asarray(frames, np.float32)
    if frames.ndim != 2 or not len(frames) or frames.shape[1] != head["frame_mean"].shape[0]:
        raise ParameterError(f"attentive head: one clip's frames must be (frames >= 1, {head['frame_mean'].shape[0]}), "
                             f"got {frames.shape}")
    net = AttentiveHead.from_arrays(head)
    z = torch.from_numpy((frames - head["frame_mean"]) / head["frame_std"]).float()[None].requires_grad_()
    logits = net(z, torch.ones(1, len(frames), dtype=torch.bool))[0]
    coef = np.stack([torch.autograd.grad(logits[c], z, retain_graph=True)[0][0].numpy().reshape(-1)
                     for c in range(len(logits))]).astype(np.float64)
    bias = logits.detach().numpy().astype(np.float64) - coef @ z.detach().numpy().reshape(-1).astype(np.float64)
    return coef, bias
