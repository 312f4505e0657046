"""A speech system that generalises across corpora: a linear probe (softmax regression) on clip statistics of
Whisper encoder layers (:class:`~avemo.features.audio.whisper_layers.WhisperStatsExtractor`), trained on
several corpora whose label sets differ, with two heads:

- **global**: features standardised with the training rows' statistics; for a single recording;
- **adapted**: each speaker's recordings first standardised with that speaker's own statistics (unlabelled:
  mean and standard deviation of the speaker's feature vectors), for users with several recordings of a person.
  It comes in two settings (:data:`ADAPT_FOR`), its emotion compensation and prior weight chosen on validation
  speakers for different uses: ``any`` (few, all or one-emotion recordings of a person; head ``adapted``) and
  ``varied`` (all of a person's recordings, heard in several emotions; head ``adapted-varied``).

Training masks the classes a recording's corpus lacks (:func:`avemo.train.losses.masked_cross_entropy`: a corpus
with no "calm" does not teach that nothing is calm) and weights rows so that every corpus counts alike and,
within a corpus, every class. The layers and the L2 strength are chosen per head on validation speakers only
(UA among each validation corpus's classes, averaged over corpora); the head is then refitted on training and
validation rows. A temperature per head is fitted on validation rows.

Saved as a folder: ``speech_probe.json`` (settings, choices, classes, extractor key, versions, ``info``) and
``weights.safetensors``. Nothing is pickled.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from avemo.data.recipes import corpus_class_mask
from avemo.errors import CheckpointError, ParameterError
from avemo.labels import label_set
from avemo.systems.person_stats import (MIN_SPEAKER_RECORDINGS, shrink_statistics, speaker_statistics,
                                         standardise_by_speaker)
from avemo.systems.transfer_selection import (LOSSES, abstention_threshold, capped_rows, loco_select, loss_masks,
                                              softmax as _softmax)

PROBE_FILE = "speech_probe.json"
WEIGHTS_FILE = "weights.safetensors"
#: In a fit's ``checkpoint_dir``: the key of the fit saved there (:meth:`SpeechProbeSystem.fit_key`).
FIT_KEY_FILE = "fit_key.json"
FEATURE = "whisper_stats"
#: Whom the adapted head's compensation and prior weight are chosen for, and the head fitted so for each:
#: ``any``: the average over uses (statistics from 2, 4, 8, 16 or all of a speaker's recordings, and speakers heard
#: in one emotion only), so few or one-emotion recordings of a person are safe; ``varied``: speakers adapted with
#: all of their recordings, heard in several emotions (an acted corpus, a session with a range of emotions).
ADAPTED_HEADS = {"any": "adapted", "varied": "adapted-varied"}
ADAPT_FOR = tuple(ADAPTED_HEADS)
HEADS = ("global", *ADAPTED_HEADS.values())
Split = tuple[Sequence[int], Sequence[int]]
#: How the layers, L2 and loss of each head are chosen: on validation speakers of the training corpora
#: (``speakers``: in-corpus fit) or by leave-one-corpus-out inside the training corpora (``loco``: transfer to
#: corpora never heard; :mod:`avemo.systems.transfer_selection`).
SELECTIONS = ("speakers", "loco")


@dataclasses.dataclass
class CorpusInputs:
    """Rows of recordings from one or several corpora: ``x`` ``(n, D)`` :data:`FEATURE` vectors of the layers
    ``layers`` (layer-major, ``[mean, std]`` per layer), and each row's ``corpus`` and ``speaker``."""

    x: np.ndarray
    corpus: np.ndarray
    speaker: np.ndarray
    layers: tuple[int, ...]

    @classmethod
    def create(cls, x: Any, corpus: Sequence[str], speaker: Sequence[str], layers: Sequence[int]) -> "CorpusInputs":
        """Validate and convert.

        Raises:
            ParameterError: for rows of different lengths or a width that does not fit ``layers``.
        """
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        corpus, speaker = np.asarray(corpus, dtype=object), np.asarray(speaker, dtype=object)
        if x.ndim != 2 or not len(x) == len(corpus) == len(speaker):
            raise ParameterError(f"features {x.shape}, corpora ({len(corpus)}) and speakers ({len(speaker)}) must "
                                 "describe the same recordings")
        layers = tuple(int(i) for i in layers)
        if not layers or x.shape[1] % (2 * len(layers)):
            raise ParameterError(f"features of width {x.shape[1]} do not hold [mean, std] blocks of layers {layers}")
        return cls(x, corpus, speaker, layers)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def width(self) -> int:
        return self.x.shape[1] // (2 * len(self.layers))

    def take(self, index: Sequence[int]) -> "CorpusInputs":
        idx = np.asarray(index, dtype=np.int64)
        return CorpusInputs(self.x[idx], self.corpus[idx], self.speaker[idx], self.layers)

    def columns(self, layers: Sequence[int]) -> np.ndarray:
        """The ``(n, 2 * width * len(layers))`` columns of ``layers``.

        Raises:
            ParameterError: for a layer these inputs lack.
        """
        missing = [i for i in layers if i not in self.layers]
        if missing:
            raise ParameterError(f"layers {missing} are not in the features (layers {list(self.layers)})")
        block = 2 * self.width
        if tuple(layers) == self.layers:
            return self.x
        cols = np.concatenate([np.arange(self.layers.index(i) * block, (self.layers.index(i) + 1) * block)
                               for i in layers])
        return self.x[:, cols]


def layer_columns(matrix: np.ndarray, matrix_layers: Sequence[int], layers: Sequence[int]) -> np.ndarray:
    """The columns of ``layers`` of a ``(k, D)`` matrix laid out like :class:`CorpusInputs` rows of
    ``matrix_layers`` (e.g. class offsets)."""
    n = len(matrix)
    return CorpusInputs.create(matrix, ["?"] * n, ["?"] * n, matrix_layers).columns(layers)


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


class SpeechProbeSystem:
    """The multi-corpus linear probe with a global and a speaker-adapted head (see the module docstring).

    Args:
        label_set: the output classes (default ``ravdess8``).
        model: the Whisper encoder (``base`` or ``tiny.en``).
        layer_grid: candidate layer sets, chosen per head on validation speakers (at the middle L2 strength).
        l2_grid: candidate L2 strengths, then chosen the same way for the chosen layers.
        loudness_db: the extractor's loudness normalisation (dBFS; ``None``: off).
        refit: refit each head on training + validation rows after the choice.
        vad: the extractor trims each clip to its speech first (Silero VAD).
        utterance_norm: standardise each layer's mean and std block of a recording across its own dimensions
            (per-utterance normalisation: the recording's overall level and spread of activations taken out).
        compensations: candidate emotion compensations of the speaker statistics, chosen on validation speakers
            (see :meth:`_choose_adaptation`).
        target_corpus: the corpus the system is built for (e.g. ``ravdess`` for RAVDESS's own held-out actors):
            its rows weigh as much as all the other corpora's together, and every choice is scored on its
            validation speakers alone. ``None`` (the shipped model): every corpus alike.
        losses: candidate training losses (:data:`~avemo.systems.transfer_selection.LOSSES`: which classes a
            corpus lacks are masked), chosen with the layers and L2.
        selection: how layers, L2 and loss are chosen (:data:`SELECTIONS`): on validation speakers
            (``speakers``) or by leave-one-corpus-out inside the training corpora (``loco``; the global head is
            then calibrated on the inner held-out corpora's logits).
        abstain_coverage: when set, each head keeps a threshold (``abstain_below``) on its calibrated top
            probability under which a prediction is reported as uncertain, chosen on the calibration rows so that
            at least this share of them is answered (:func:`~avemo.systems.transfer_selection.abstention_threshold`).
        tau_grid: candidate prior weights of the adapted heads (default :attr:`TAU_GRID`; ``[0]``: each speaker's
            own statistics, plain per-speaker standardisation).

    Both adapted settings are fitted (:data:`ADAPTED_HEADS`); prediction picks one with ``adapt_for``.
    """

    def __init__(self, label_set: str = "ravdess8", model: str = "base",
                 layer_grid: Sequence[Sequence[int]] = ((3, 4, 5), (2, 3, 4, 5, 6)),
                 l2_grid: Sequence[float] = (1e-4, 1e-3), loudness_db: float | None = -23.0,
                 refit: bool = True, vad: bool = False, utterance_norm: bool = False,
                 compensations: Sequence[float] = (0.0, 1.0), target_corpus: str | None = None,
                 losses: Sequence[str] = ("masked",), selection: str = "speakers",
                 abstain_coverage: float | None = None, tau_grid: Sequence[float] | None = None) -> None:
        self.label_set = label_set
        self.model = model
        self.layer_grid = [tuple(int(i) for i in layers) for layers in layer_grid]
        self.l2_grid = [float(v) for v in l2_grid]
        self.loudness_db = loudness_db
        self.refit = refit
        self.vad = bool(vad)
        self.utterance_norm = bool(utterance_norm)
        self.compensations = [float(v) for v in compensations]
        self.target_corpus = target_corpus or None
        self.losses = [str(v) for v in losses]
        self.selection = selection
        self.abstain_coverage = None if abstain_coverage is None else float(abstain_coverage)
        self.tau_grid = [float(v) for v in (self.TAU_GRID if tau_grid is None else tau_grid)]
        if not self.tau_grid or any(v < 0 for v in self.tau_grid):
            raise ParameterError(f"tau_grid must be non-negative prior weights, got {tau_grid}")
        if not self.losses or any(v not in LOSSES for v in self.losses):
            raise ParameterError(f"losses must be among {list(LOSSES)}, got {list(losses)}")
        if selection not in SELECTIONS:
            raise ParameterError(f"selection must be one of {list(SELECTIONS)}, got {selection!r}")
        if self.abstain_coverage is not None and not 0 < self.abstain_coverage <= 1:
            raise ParameterError(f"abstain_coverage must be in (0, 1], got {abstain_coverage}")
        if not self.compensations or any(not 0 <= v <= 1 for v in self.compensations):
            raise ParameterError(f"compensations must be values in [0, 1], got {list(compensations)}")
        self.info: dict[str, Any] = {}
        self.heads_: dict[str, dict[str, Any]] = {}
        self.offsets_: np.ndarray | None = None  # (C, D) emotion offsets over the columns of `layers`

    @property
    def classes(self) -> tuple[str, ...]:
        return label_set(self.label_set)

    @property
    def layers(self) -> tuple[int, ...]:
        """Every layer either head reads (what the extractor must output)."""
        if not self.heads_:
            return tuple(sorted({i for layers in self.layer_grid for i in layers}))
        return tuple(sorted({i for head in self.heads_.values() for i in head["layers"]}))

    def feature_extractors(self) -> dict[str, Any]:
        """``{name: extractor}``: the Whisper statistics of :attr:`layers`."""
        from avemo.features.base import create_extractor

        return {FEATURE: create_extractor(FEATURE, model=self.model, layers=list(self.layers),
                                          loudness_db=self.loudness_db, vad=self.vad)}

    # ---- fitting -----------------------------------------------------------------------------------------

    def _weights(self, corpus: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Training row weights (:func:`balance_weights`, with :attr:`target_corpus`)."""
        return balance_weights(corpus, y, self.target_corpus)

    def _val_score(self, scores: Mapping[str, float]) -> float:
        """One validation score from UA per validation corpus: the target corpus's when it has validation
        speakers, else the mean over corpora."""
        if self.target_corpus in scores:
            return float(scores[self.target_corpus])
        return float(np.mean(list(scores.values())))

    def _design(self, inputs: CorpusInputs, layers: Sequence[int], head: str, compensation: float = 0.0,
                probs: np.ndarray | None = None, offsets: np.ndarray | None = None) -> np.ndarray:
        """The columns of ``layers``; for the adapted head standardised per speaker, with ``compensation`` times
        the rows' emotion offsets (``probs`` ``(n, C)`` times ``offsets`` ``(C, D)`` over every input layer)
        removed from the speaker statistics."""
        x = inputs.columns(layers)
        if head != "global":
            shift, between = self._shift(inputs, layers, compensation, probs, offsets)
            x, _ = standardise_by_speaker(x, inputs.speaker, offsets=shift, between=between)
        return x

    @staticmethod
    def _shift(inputs: CorpusInputs, layers: Sequence[int], compensation: float, probs: np.ndarray | None,
               offsets: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Emotion offsets ``(n, D)`` of the rows over ``layers`` and the variance they add ``(D,)``; ``None``
        without compensation."""
        if not compensation:
            return None, None
        cols = layer_columns(offsets, inputs.layers, layers)
        present = np.abs(cols).sum(1) > 0
        return compensation * emotion_offsets(probs, cols), compensation ** 2 * (cols[present] ** 2).mean(0)

    def fit(self, inputs: CorpusInputs, y: Sequence[int], split: Split,
            checkpoint_dir: str | os.PathLike | None = None) -> "SpeechProbeSystem":
        """Fit both heads on the rows ``split = (train, val)`` (see the class docstring). Returns ``self``.

        ``checkpoint_dir``: a folder the fitted system is saved in, and loaded back from instead of fitting again
        when it was fitted there on the same rows, labels and settings by the same code (:meth:`fit_key`): a
        benchmark of many fits that stops part-way resumes; an unreadable or stale folder is fitted again.

        Raises:
            ParameterError: for inconsistent inputs, labels a corpus does not have, or an empty split part.
        """
        if not isinstance(inputs, CorpusInputs):
            raise ParameterError("inputs must be CorpusInputs (whisper_stats vectors, corpus, speaker per row)")
        y = np.asarray(y, dtype=np.int64)
        c = len(self.classes)
        if len(y) != len(inputs) or (len(y) and (y.min() < 0 or y.max() >= c)):
            raise ParameterError(f"labels must be one class index in 0..{c - 1} per recording")
        tr, va = (np.asarray(list(part), dtype=np.int64) for part in split)
        if not len(tr) or not len(va):
            raise ParameterError("both the training and the validation part of the split need recordings")
        mask = np.stack([corpus_class_mask(str(k), self.label_set) for k in inputs.corpus]) if len(inputs) else \
            np.zeros((0, c), bool)
        if not mask[np.arange(len(y)), y].all():
            raise ParameterError("a recording's label is not among its corpus's classes "
                                 "(avemo.data.recipes.corpus_classes)")
        used = np.union1d(tr, va)  # only these rows matter: work on them alone
        inputs, y, mask = inputs.take(used), y[used], mask[used]
        tr, va = np.searchsorted(used, tr), np.searchsorted(used, va)
        key = self.fit_key(inputs, y, tr, va) if checkpoint_dir is not None else None
        if key is not None and self._resume(Path(checkpoint_dir), key):
            return self
        self._fit(inputs, y, mask, tr, va)
        if key is not None:
            (Path(checkpoint_dir) / FIT_KEY_FILE).unlink(missing_ok=True)
            self.save(checkpoint_dir)
            (Path(checkpoint_dir) / FIT_KEY_FILE).write_text(json.dumps({"fit_key": key}))  # written last
        return self

    def fit_key(self, inputs: CorpusInputs, y: np.ndarray, tr: np.ndarray, va: np.ndarray) -> str:
        """SHA-256 of what a fit depends on: the settings, the rows' features, corpora, speakers and labels, the
        split, the fitting code (:func:`fitting_code`) and the numpy and torch versions."""
        import hashlib

        digest = hashlib.sha256(fitting_code().encode())
        settings = [self.label_set, self.model, self.layer_grid, self.l2_grid, self.loudness_db, self.refit,
                    self.vad, self.utterance_norm, self.compensations, self.target_corpus, list(inputs.layers),
                    np.__version__, torch.__version__, self.losses, self.selection, self.abstain_coverage,
                    self.tau_grid]
        digest.update(json.dumps(settings).encode())
        for part in (np.ascontiguousarray(inputs.x), np.asarray(y, np.int64), np.asarray(tr, np.int64),
                     np.asarray(va, np.int64)):
            digest.update(part.tobytes())
        digest.update("\n".join(f"{c}\t{s}" for c, s in zip(inputs.corpus, inputs.speaker)).encode())
        return digest.hexdigest()

    def _resume(self, folder: Path, key: str) -> bool:
        """Load the system saved in ``folder`` into ``self`` when it was fitted with ``key``; False otherwise."""
        try:
            if json.loads((folder / FIT_KEY_FILE).read_text()).get("fit_key") != key:
                return False
            saved = type(self).load(folder)
        except (OSError, ValueError, AttributeError, CheckpointError):
            return False
        self.heads_, self.offsets_, self.width_ = saved.heads_, saved.offsets_, saved.width_
        self.info = {**saved.info, "fit_loaded_from": str(folder)}
        return True

    def _fit(self, inputs: CorpusInputs, y: np.ndarray, mask: np.ndarray, tr: np.ndarray, va: np.ndarray) -> None:
        """Fit the heads on the rows ``tr`` (training) and ``va`` (validation) of ``inputs``."""
        c = len(self.classes)
        self.heads_, choices = {}, {}
        self.width_ = inputs.width
        inputs = self._prepared(inputs)
        rows = np.union1d(tr, va) if self.refit else tr
        onehot = np.eye(c, dtype=np.float32)[y]
        masks = {loss: loss_masks(inputs.corpus, self.classes, loss) for loss in self.losses}
        # emotion offsets from training rows (selection) and from every fitted row (the final heads)
        train_weight, fit_weight = self._weights(inputs.corpus[tr], y[tr]), self._weights(inputs.corpus[rows], y[rows])
        offsets = class_offsets(inputs.x[tr], y[tr], train_weight, c)[0]
        final_offsets = class_offsets(inputs.x[rows], y[rows], fit_weight, c)[0]
        probs = onehot.copy()  # labels for training rows; the global head's probabilities for validation rows
        for head in ("global", "adapted"):  # the adapted settings share their layers, L2 and loss
            if self.selection == "loco":
                best, choices[head] = self._loco_choice(inputs, y, rows, head, masks, tr, va, train_weight)
            else:
                best, choices[head] = self._speaker_choice(inputs, y, mask, masks, tr, va, head, train_weight)
            score, layers, l2, loss, (cal_rows, cal_logits), train_only = best
            if head == "global":
                temperature = self._finish_head(head, inputs, y, mask, masks[loss], cal_rows, rows, layers, l2, loss,
                                                score, cal_logits, {}, onehot, final_offsets, fit_weight)
                # the adapted head's choices see validation rows' emotions as predictions will
                probs[va] = self._validation_probs(va, cal_rows, cal_logits, temperature)
                continue
            # how much emotion to take out of speaker statistics, how far to trust few of them: per use
            chosen, choices["adaptation"] = self._choose_adaptation(inputs, y, masks[loss], tr, va, layers, l2,
                                                                    train_only, probs, offsets)
            for adapt_for, (compensation, tau, val_logits) in chosen.items():
                shift, between = self._shift(inputs.take(rows), layers, compensation, onehot[rows], final_offsets)
                raw = inputs.columns(layers)[rows] - (0 if shift is None else shift)
                extra = {"tau": tau, "compensation": compensation,
                         "prior_mean": raw.mean(0).astype(np.float32),
                         "prior_std": np.maximum(raw.std(0), 1e-6).astype(np.float32)}
                if between is not None:
                    extra["between"] = between.astype(np.float32)
                self._finish_head(ADAPTED_HEADS[adapt_for], inputs, y, mask, masks[loss], va, rows, layers, l2, loss,
                                  score, val_logits, extra, onehot, final_offsets, fit_weight)
        if self.selection == "loco":  # what the nested rule saw of each loss: its best inner mean UA
            for name, head in self.heads_.items():
                candidates = choices["global" if name == "global" else "adapted"]["candidates"]
                head["loco_by_loss"] = {loss: max(c["loco_ua"] for c in candidates if c["loss"] == loss)
                                        for loss in self.losses if any(c["loss"] == loss for c in candidates)}
        self.offsets_ = layer_columns(final_offsets, inputs.layers, self.layers)
        self.info["selection"] = choices
        self.info["corpora"] = sorted({str(k) for k in inputs.corpus[rows]})
        self.info["n_recordings"] = int(len(rows))

    def _speaker_choice(self, inputs: CorpusInputs, y: np.ndarray, mask: np.ndarray, masks: Mapping[str, np.ndarray],
                        tr: np.ndarray, va: np.ndarray, head: str, train_weight: np.ndarray) -> tuple[tuple, list]:
        """Layers, L2 and loss of ``head`` chosen on validation speakers: layers first (at the middle L2 of the grid
        and the first loss), then the other L2 strengths on the chosen layers, then the other losses. Returns
        ``(score, layers, l2, loss, (va, validation logits), (mean, std, coef, bias) fitted on tr)`` and every
        score."""
        best, designs, tried = None, {}, []
        middle = sorted(self.l2_grid)[len(self.l2_grid) // 2]
        candidates = [(layers, middle, self.losses[0]) for layers in self.layer_grid]
        for step in itertools.count():
            if step == len(self.layer_grid):  # the layers are chosen: the other strengths on them
                candidates += [(best[1], v, self.losses[0]) for v in self.l2_grid if v != middle]
            if step == len(self.layer_grid) + len(self.l2_grid) - 1:  # then the other losses
                candidates += [(best[1], best[2], loss) for loss in self.losses[1:]]
            if step == len(candidates):
                break
            layers, l2, loss = candidates[step]
            if layers not in designs:
                x = self._design(inputs, layers, head)
                mean, std = x[tr].mean(0), np.maximum(x[tr].std(0), 1e-6)
                designs = {layers: ((x - mean) / std, mean, std)}  # one design in memory at a time
            z, mean, std = designs[layers]
            coef, bias = fit_softmax_regression(z[tr], y[tr], masks[loss][tr], train_weight, l2)
            logits = z[va] @ coef.T + bias
            scores = corpus_ua(y[va], _softmax(logits), inputs.corpus[va], self.classes)
            score = self._val_score(scores)
            tried.append({"layers": list(layers), "l2": l2, "loss": loss, "val_ua": score, "val_ua_by_corpus": scores})
            if best is None or score > best[0] + 1e-9:
                best = (score, layers, l2, loss, (va, logits), (mean, std, coef, bias))
        return best, tried

    def _loco_choice(self, inputs: CorpusInputs, y: np.ndarray, rows: np.ndarray, head: str,
                     masks: Mapping[str, np.ndarray], tr: np.ndarray, va: np.ndarray,
                     train_weight: np.ndarray) -> tuple[tuple, dict]:
        """Loss, layers and L2 of ``head`` chosen by leave-one-corpus-out inside the corpora of ``rows``
        (:func:`~avemo.systems.transfer_selection.loco_select`; the adapted head on each speaker's standardised
        columns). Returns the tuple of :meth:`_speaker_choice` (the logits: the inner held-out ones of ``rows``; the
        head fitted on ``tr``: only for the adapted head, whose compensation choice needs it) and every score."""
        # speakers are standardised over all of their rows; at most CELL_CAP rows per corpus and class go on, with
        # every validation row (the adapted head's choices need the global head's inner held-out logits of them)
        inner = np.union1d(rows[capped_rows(inputs.corpus[rows], y[rows])], va)

        def design(layers: Sequence[int]) -> np.ndarray:
            if head == "global":
                return inputs.columns(layers)[inner]
            return self._design(inputs.take(rows), layers, head)[np.searchsorted(rows, inner)]

        # the adapted head keeps the global head's loss (one rule, a third of the fits)
        losses = self.losses if head == "global" else [self.heads_["global"]["loss"]]
        choice = loco_select(design, y[inner], inputs.corpus[inner], self.classes, self.layer_grid, self.l2_grid,
                             losses, self._weights, fit_softmax_regression,
                             lambda yy, pp, cc: corpus_ua(yy, pp, cc, self.classes))
        train_only = None
        if head != "global":
            x = self._design(inputs, choice.layers, head)
            mean, std = x[tr].mean(0), np.maximum(x[tr].std(0), 1e-6)
            coef, bias = fit_softmax_regression((x[tr] - mean) / std, y[tr], masks[choice.loss][tr], train_weight,
                                                choice.l2)
            train_only = (mean, std, coef, bias)
        best = (choice.score, choice.layers, choice.l2, choice.loss, (inner, choice.logits), train_only)
        return best, {"rule": "leave-one-corpus-out inside the training corpora", "chosen": {
            "loss": choice.loss, "layers": list(choice.layers), "l2": choice.l2, "loco_ua": choice.score},
            "candidates": choice.scores}

    @staticmethod
    def _validation_probs(va: np.ndarray, cal_rows: np.ndarray, cal_logits: np.ndarray,
                          temperature: float) -> np.ndarray:
        """The global head's calibrated probabilities of the validation rows, from its calibration logits (the
        validation logits, or the inner held-out ones of the leave-one-corpus-out choice)."""
        order = np.argsort(cal_rows, kind="stable")
        where = order[np.searchsorted(cal_rows[order], va)]
        return _softmax(cal_logits[where] / temperature)

    def _finish_head(self, head: str, inputs: CorpusInputs, y: np.ndarray, mask: np.ndarray, loss_mask: np.ndarray,
                     cal: np.ndarray, rows: np.ndarray, layers: Sequence[int], l2: float, loss: str, score: float,
                     cal_logits: np.ndarray, extra: dict[str, Any], onehot: np.ndarray, offsets: np.ndarray,
                     weight: np.ndarray) -> float:
        """Fit the temperature on the calibration rows ``cal`` and their logits (over each row's corpus classes),
        and the abstention threshold (when the system has a coverage), refit the head on ``rows`` under
        ``loss_mask`` (for an adapted head with its ``extra["compensation"]``), store it in :attr:`heads_`;
        returns the temperature."""
        from avemo.train.calibration import TemperatureScaler

        temperature = TemperatureScaler().fit(np.where(mask[cal], cal_logits, -1e4), y[cal]).temperature_
        if self.abstain_coverage is not None:
            top = _softmax(cal_logits / temperature).max(1)
            extra = {**extra, "abstain_below": abstention_threshold(top, self.abstain_coverage)}
        x = self._design(inputs, layers, head, extra.get("compensation", 0.0), onehot, offsets)
        mean, std = x[rows].mean(0), np.maximum(x[rows].std(0), 1e-6)
        coef, bias = fit_softmax_regression((x[rows] - mean) / std, y[rows], loss_mask[rows], weight, l2)
        self.heads_[head] = {"layers": tuple(layers), "l2": l2, "loss": loss, "temperature": float(temperature),
                             "val_ua": score, "mean": mean.astype(np.float32), "std": std.astype(np.float32),
                             "coef": coef, "bias": bias, **extra}
        return float(temperature)

    #: Candidate prior weights (in recordings) and the numbers of a speaker's recordings they are scored with.
    TAU_GRID = (0.0, 2.0, 5.0, 10.0, 20.0, 50.0)
    SUBSET_SIZES = (2, 4, 8, 16, 0)  # 0: all of the speaker's recordings

    def _choose_adaptation(self, inputs: CorpusInputs, y: np.ndarray, mask: np.ndarray, tr: np.ndarray,
                           va: np.ndarray, layers: Sequence[int], l2: float, head: tuple, probs: np.ndarray,
                           offsets: np.ndarray) -> tuple[dict[str, tuple[float, float, np.ndarray]], dict[str, Any]]:
        """For each use of :data:`ADAPT_FOR`, the emotion compensation and prior weight of the adapted head with the
        best validation UA (validation rows' emotions: the global head's probabilities, as at prediction time) and
        the validation logits with that compensation (all of each speaker's recordings); and every score
        (``{use: {compensation: {"tau": {tau: UA}, "val_ua": UA}}}``)."""
        tried: dict[str, Any] = {use: {} for use in ADAPT_FOR}
        best: dict[str, tuple] = {}
        for compensation in self.compensations:
            if compensation:
                x = self._design(inputs, layers, "adapted", compensation, probs, offsets)
                mean, std = x[tr].mean(0), np.maximum(x[tr].std(0), 1e-6)
                coef, bias = fit_softmax_regression((x[tr] - mean) / std, y[tr], mask[tr],
                                                    self._weights(inputs.corpus[tr], y[tr]), l2)
                head = (mean, std, coef, bias)
            mean, std, coef, bias = head
            shift, between = self._shift(inputs, layers, compensation, probs, offsets)
            raw = inputs.columns(layers) - (0 if shift is None else shift)
            prior = (raw[tr].mean(0), np.maximum(raw[tr].std(0), 1e-6))
            x, _ = standardise_by_speaker(inputs.columns(layers)[va], inputs.speaker[va],
                                          offsets=None if shift is None else shift[va], between=between)
            logits = ((x - mean) / std) @ coef.T + bias
            for use, scores in self._tau_scores(inputs, y, va, layers, prior, head, shift, between, probs[va]).items():
                tau = max(self.tau_grid, key=lambda t: scores[str(t)] + 1e-9 * (t == 0))
                tried[use][str(compensation)] = {"tau": scores, "val_ua": scores[str(tau)]}
                if use not in best or scores[str(tau)] > best[use][0] + 1e-9:
                    best[use] = (scores[str(tau)], compensation, float(tau), logits)
        return {use: b[1:] for use, b in best.items()}, tried

    def _tau_scores(self, inputs: CorpusInputs, y: np.ndarray, va: np.ndarray, layers: Sequence[int],
                    prior: tuple[np.ndarray, np.ndarray], head: tuple, shift: np.ndarray | None,
                    between: np.ndarray | None, global_probs: np.ndarray) -> dict[str, dict[str, float]]:
        """Validation UA of each prior weight, per use of :data:`ADAPT_FOR`: ``any`` averages scenarios of use,
        speakers whose statistics come from 2, 4, 8, 16 or all of their recordings (drawn at random, seeded: users
        adapt with few recordings too) and speakers heard in one emotion only (each emotion's recordings of a
        speaker adapted on their own: a user's recordings of a person may all be angry); ``varied`` scores all of
        each speaker's recordings alone. Rows a scenario leaves without statistics (one recording) get the global
        head's ``global_probs``."""
        mean, std, coef, bias = head
        raw = inputs.columns(layers)[va]
        shift = None if shift is None else shift[va]
        speakers, corpus = inputs.speaker[va], inputs.corpus[va]
        rng = np.random.default_rng(0)
        scenarios = []  # (who shares statistics, the rows the statistics come from: None = all)
        for size in self.SUBSET_SIZES:
            chosen = None
            if size:
                chosen = np.zeros(len(va), bool)
                for speaker in np.unique(speakers):
                    chosen[rng.permutation(np.flatnonzero(speakers == speaker))[:size]] = True
            scenarios.append((speakers, chosen))
        scenarios.append((np.array([f"{s}|{k}" for s, k in zip(speakers, y[va])], dtype=object), None))
        every = self.SUBSET_SIZES.index(0)  # the scenario of all recordings
        scores: dict[str, dict[str, float]] = {use: {} for use in ADAPT_FOR}
        for tau in self.tau_grid:
            uas = []
            for groups, chosen in scenarios:
                x, done = standardise_by_speaker(raw, groups, prior, tau, chosen, shift, between)
                probs = np.where(done[:, None], _softmax(((x - mean) / std) @ coef.T + bias), global_probs)
                uas.append(self._val_score(corpus_ua(y[va], probs, corpus, self.classes)))
            scores["any"][str(tau)], scores["varied"][str(tau)] = float(np.mean(uas)), float(uas[every])
        return scores

    def fit_report(self) -> dict[str, Any]:
        """What the last :meth:`fit` chose per head (layers, L2, temperature, validation UA)."""
        keys = ("layers", "l2", "loss", "temperature", "val_ua", "tau", "compensation", "abstain_below", "loco_by_loss")
        return {head: {k: (list(v) if k == "layers" else v) for k, v in h.items() if k in keys}
                for head, h in self.heads_.items()}

    # ---- prediction --------------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not self.heads_:
            raise ParameterError("SpeechProbeSystem is not fitted; call fit(...) or load_system(folder)")

    def _head_proba(self, head: str, x: np.ndarray) -> np.ndarray:
        h = self.heads_[head]
        logits = ((x - h["mean"]) / h["std"]) @ h["coef"].T + h["bias"]
        return _softmax(logits / h["temperature"])

    def _as_inputs(self, inputs: CorpusInputs | Mapping[str, Sequence[np.ndarray]] | np.ndarray,
                   speakers: Sequence[str] | None = None) -> CorpusInputs:
        """:class:`CorpusInputs` of a features dict or a matrix of :attr:`layers` (each row its own speaker)."""
        if isinstance(inputs, CorpusInputs):
            if inputs.width != self.width_:
                raise ParameterError(f"features have {inputs.width} dimensions per layer statistic; the system was "
                                     f"trained on {self.width_} (Whisper {self.model})")
            return inputs
        x = np.stack(list(inputs[FEATURE])) if isinstance(inputs, Mapping) else np.asarray(inputs, np.float32)
        x = np.atleast_2d(x)
        want = 2 * self.width_ * len(self.layers)
        if x.shape[1] != want:
            raise ParameterError(f"features have {x.shape[1]} dimensions; the system reads {want} (mean and std of "
                                 f"Whisper {self.model} layers {list(self.layers)}: its feature_extractors())")
        n = len(x)
        return CorpusInputs.create(x, ["?"] * n, speakers if speakers is not None else [f"?{i}" for i in range(n)],
                                   self.layers)

    def predict_proba(self, inputs: CorpusInputs | Mapping[str, Sequence[np.ndarray]] | np.ndarray,
                      adapt: bool = False, adapt_for: str = "any") -> np.ndarray:
        """Class probabilities ``(n, len(classes))``.

        Args:
            inputs: :class:`CorpusInputs`, a features dict (``{"whisper_stats": [vector, ...]}``, as the engine
                gives) or an ``(n, D)`` matrix of :attr:`layers`.
            adapt: standardise each speaker's rows by that speaker's statistics (each recording's expected emotion
                offset, from the global head, taken out first when the head was trained so) and use the adapted
                head (rows of speakers with one recording use the global head). Without speakers, every row is
                its own.
            adapt_for: which adapted head (:data:`ADAPTED_HEADS`): ``any`` for few, all or one-emotion recordings
                of a speaker, ``varied`` for all of a speaker's recordings when they span several emotions.

        Raises:
            ParameterError: when the system is not fitted, the features lack a layer it reads or ``adapt_for`` is
                unknown.
        """
        self._check_fitted()
        name = self.adapted_head(adapt_for) if adapt else "global"
        inputs = self._prepared(self._as_inputs(inputs))
        out = self._head_proba("global", inputs.columns(self.heads_["global"]["layers"]))
        if adapt:
            head = self.heads_[name]
            layers = head["layers"]
            shift = self._emotion_shift(out, layers, name)
            x, done = standardise_by_speaker(inputs.columns(layers), inputs.speaker,
                                             (head["prior_mean"], head["prior_std"]), head["tau"],
                                             offsets=shift, between=head.get("between"))
            if done.any():
                out[done] = self._head_proba(name, x[done])
        return out

    def abstain_below(self, adapt: bool = False, adapt_for: str = "any") -> float | None:
        """The calibrated top probability under which the global head's (``adapt``: the adapted head's) answer is
        reported as uncertain; None for a system trained without an abstention coverage."""
        self._check_fitted()
        level = self.heads_[self.adapted_head(adapt_for) if adapt else "global"].get("abstain_below")
        return None if level is None else float(level)

    def adapted_head(self, adapt_for: str) -> str:
        """The name of the adapted head for ``adapt_for``.

        Raises:
            ParameterError: for an unknown use, or a system saved before it had that head.
        """
        if adapt_for not in ADAPTED_HEADS:
            raise ParameterError(f"adapt_for must be one of {list(ADAPT_FOR)}, got {adapt_for!r}")
        if ADAPTED_HEADS[adapt_for] not in self.heads_:
            raise ParameterError(f"this speech model has no adapted head for {adapt_for!r} speakers (saved by an "
                                 "older avemo); re-train it or use adapt_for='any'")
        return ADAPTED_HEADS[adapt_for]

    def _prepared(self, inputs: CorpusInputs) -> CorpusInputs:
        """``inputs`` with per-utterance normalisation when the system uses it."""
        if not self.utterance_norm:
            return inputs
        return CorpusInputs(normalise_utterances(inputs.x, inputs.width), inputs.corpus, inputs.speaker,
                            inputs.layers)

    def _emotion_shift(self, probs: np.ndarray, layers: Sequence[int], head: str) -> np.ndarray | None:
        """The adapted ``head``'s emotion offsets ``(n, D)`` over ``layers`` for rows with global probabilities
        ``probs``; ``None`` when it takes none out."""
        compensation = self.heads_[head].get("compensation", 0.0)
        if not compensation or self.offsets_ is None:
            return None
        return compensation * emotion_offsets(probs, layer_columns(self.offsets_, self.layers, layers))

    def speaker_residuals(self, x: np.ndarray, adapt_for: str = "any") -> np.ndarray:
        """``(n, D)`` vectors of :attr:`layers` less each one's expected emotion offset (from the global head's
        probabilities): what a speaker's running statistics are taken over (as they are when the adapted head
        takes no offsets out; per-utterance normalised first when the system uses that), for the adapted head of
        ``adapt_for``."""
        self._check_fitted()
        name = self.adapted_head(adapt_for)
        inputs = self._prepared(self._as_inputs(x))
        shift = self._emotion_shift(self._head_proba("global", inputs.columns(self.heads_["global"]["layers"])),
                                    self.layers, name)
        return inputs.x if shift is None else inputs.x - shift

    def predict_proba_adapted(self, x: np.ndarray, mean: np.ndarray, std: np.ndarray,
                              count: int | None = None, adapt_for: str = "any") -> np.ndarray:
        """Probabilities of the adapted head for ``(n, D)`` vectors of :attr:`layers` of one speaker whose
        statistics of :meth:`speaker_residuals` (e.g. from :class:`~avemo.inference.adaptation.SpeakerAdaptation`)
        are ``mean`` and ``std`` over ``count`` recordings (shrunk towards the training prior as in training;
        ``None``: taken as they are), with the adapted head of ``adapt_for`` (:data:`ADAPTED_HEADS`)."""
        self._check_fitted()
        name = self.adapted_head(adapt_for)
        head = self.heads_[name]
        layers = head["layers"]
        inputs = self._prepared(self._as_inputs(x))
        m, s = self._as_inputs(np.stack([mean, std])).columns(layers)
        if count is not None:
            m, s = shrink_statistics(m, s, count, (head["prior_mean"], head["prior_std"]), head["tau"])
        s = np.asarray(s, np.float64)
        if head.get("between") is not None:
            s = np.sqrt(np.maximum(s, 1e-3) ** 2 + head["between"])
        return self._head_proba(name, (inputs.columns(layers) - m) / np.maximum(s, 1e-3))

    # ---- persistence -------------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: name, kind, classes, settings, choices, training and evaluation figures."""
        from avemo.train.checkpoint import library_versions, to_jsonable

        return to_jsonable({
            "name": self.info.get("name", "speech-probe"), "kind": "speech-probe", "classes": list(self.classes),
            "description": f"linear probe on Whisper {self.model} layer statistics, trained across corpora "
                           f"(loss: {self.heads_.get('global', {}).get('loss', self.losses[0])}); a global and a "
                           "speaker-adapted head",
            "model": self.model, "loudness_db": self.loudness_db, "heads": self.fit_report(),
            "training": {k: v for k, v in self.info.items() if k not in ("cross_validation", "selection")},
            "cross_validation": self.info.get("cross_validation"), "versions": library_versions()})

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``speech_probe.json`` and ``weights.safetensors``; returns the folder.

        Raises:
            ParameterError: when the system is not fitted.
        """
        from safetensors.numpy import save_file

        from avemo.train.checkpoint import library_versions, to_jsonable

        self._check_fitted()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {f"{head}.{k}": np.ascontiguousarray(h[k], dtype=np.float32)
                   for head, h in self.heads_.items() for k in ("mean", "std", "coef", "bias", "prior_mean",
                                                                "prior_std", "between") if k in h}
        if self.offsets_ is not None and any("between" in self.heads_[h] for h in ADAPTED_HEADS.values()
                                             if h in self.heads_):
            tensors["adapted.offsets"] = np.ascontiguousarray(self.offsets_, dtype=np.float32)
        save_file(tensors, str(path / WEIGHTS_FILE))
        doc = {"format_version": 1, "kind": "speech-probe", "label_set": self.label_set,
               "classes": list(self.classes), "model": self.model, "loudness_db": self.loudness_db,
               "layer_grid": self.layer_grid, "l2_grid": self.l2_grid, "refit": self.refit, "vad": self.vad,
               "utterance_norm": self.utterance_norm, "compensations": self.compensations,
               "target_corpus": self.target_corpus, "losses": self.losses, "selection": self.selection,
               "abstain_coverage": self.abstain_coverage, "tau_grid": self.tau_grid,
               "heads": self.fit_report(), "width": self.width_,
               "extractor": self.feature_extractors()[FEATURE].cache_key(),
               "versions": library_versions(), "info": self.info}
        (path / PROBE_FILE).write_text(json.dumps(to_jsonable(doc), indent=1))
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "SpeechProbeSystem":
        """Rebuild a saved system.

        Raises:
            CheckpointError: when a file is missing, corrupt or inconsistent.
        """
        from safetensors.numpy import load_file

        path = Path(directory)
        doc_path = path / PROBE_FILE
        if not doc_path.is_file():
            raise CheckpointError(f"{path}: not a saved speech probe system (no {PROBE_FILE})")
        try:
            doc = json.loads(doc_path.read_text())
            system = cls(doc["label_set"], doc["model"], doc["layer_grid"], doc["l2_grid"], doc["loudness_db"],
                         doc["refit"], doc.get("vad", False), doc.get("utterance_norm", False),
                         doc.get("compensations", (0.0,)), doc.get("target_corpus"), doc.get("losses", ("masked",)),
                         doc.get("selection", "speakers"), doc.get("abstain_coverage"), doc.get("tau_grid"))
            system.info = doc.get("info", {})
            system.width_ = int(doc["width"])
            heads = doc["heads"]
            if list(doc["classes"]) != list(system.classes):
                raise CheckpointError(f"{doc_path}: classes differ from label set {doc['label_set']}")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, ParameterError) as exc:
            raise CheckpointError(f"{doc_path}: unreadable system description ({type(exc).__name__}: {exc})") \
                from None
        try:
            tensors = load_file(str(path / WEIGHTS_FILE))
            for head in HEADS:
                if head == ADAPTED_HEADS["varied"] and head not in heads:
                    continue  # saved before it had one: predicting for varied speakers says so
                h = heads[head]
                system.heads_[head] = {"layers": tuple(h["layers"]), "l2": h["l2"], "temperature": h["temperature"],
                                       "val_ua": h["val_ua"], "loss": h.get("loss", "masked"),
                                       **({"abstain_below": float(h["abstain_below"])}
                                          if h.get("abstain_below") is not None else {}),
                                       **({"loco_by_loss": dict(h["loco_by_loss"])} if h.get("loco_by_loss") else {}),
                                       **{k: tensors[f"{head}.{k}"] for k in ("mean", "std", "coef", "bias")}}
                if head != "global":
                    system.heads_[head].update(tau=float(h["tau"]), prior_mean=tensors[f"{head}.prior_mean"],
                                               prior_std=tensors[f"{head}.prior_std"],
                                               compensation=float(h.get("compensation", 0.0)))
                    if system.heads_[head]["compensation"]:
                        system.heads_[head]["between"] = tensors[f"{head}.between"]
                        system.offsets_ = tensors["adapted.offsets"]
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: {WEIGHTS_FILE} missing or corrupt ({type(exc).__name__}: {exc}); "
                                  "re-train or re-install the model") from None
        for head, h in system.heads_.items():
            if h["coef"].shape != (len(system.classes), 2 * system.width_ * len(h["layers"])):
                raise CheckpointError(f"{path}: the {head} head's weights do not fit {len(h['layers'])} layers of "
                                      f"Whisper {system.model}")
        return system

    def __repr__(self) -> str:
        return f"SpeechProbeSystem(model={self.model!r}, fitted={bool(self.heads_)})"


#: What a fit computes with in this module (taken when it is imported: :func:`fitting_code`).
_FITTING = (CorpusInputs, layer_columns, speaker_statistics, shrink_statistics, standardise_by_speaker, class_offsets,
            emotion_offsets, normalise_utterances, balance_weights, fit_softmax_regression, corpus_ua,
            loss_masks, loco_select, abstention_threshold, capped_rows,
            *(getattr(SpeechProbeSystem, name) for name in ("fit", "_fit", "_weights", "_val_score", "_design",
                                                             "_shift", "_prepared", "_finish_head", "_speaker_choice",
                                                             "_loco_choice", "_validation_probs",
                                                             "_choose_adaptation", "_tau_scores")))


def fitting_code() -> str:
    """The code a fit computes with, without docstrings, comments or layout (:meth:`SpeechProbeSystem.fit_key`
    hashes it): a change to prediction, persistence or documentation leaves saved fits valid, a change to how
    they are computed does not."""
    import ast
    import inspect
    import textwrap

    from avemo.train import calibration, metrics

    parts = []
    others = (_softmax, calibration.TemperatureScaler, metrics.unweighted_accuracy)
    for thing in (*_FITTING, *others):
        tree = ast.parse(textwrap.dedent(inspect.getsource(thing)))
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
        parts.append(ast.unparse(tree))
    constants = (SpeechProbeSystem.TAU_GRID, SpeechProbeSystem.SUBSET_SIZES, MIN_SPEAKER_RECORDINGS, ADAPTED_HEADS)
    return "\n".join(parts) + repr(constants)
