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

The global head may instead be a small MLP (``global_heads`` with ``mlp``: the nested rule chooses between them;
:mod:`avemo.systems.probe_mlp`), or an attentive head over each clip's frames (``global_heads=["attentive"]``:
:mod:`avemo.systems.probe_attentive`, reading :data:`~avemo.systems.probe_inputs.FRAMES` features besides the
statistics the adapted heads read). The inputs live in :mod:`avemo.systems.probe_inputs`, the statistics in
:mod:`avemo.systems.probe_stats`, the fitting in :mod:`avemo.systems.probe_fitting` and the fits kept in checkpoint
folders in :mod:`avemo.systems.probe_fit_cache`. Saved as a folder: ``system.json`` (kind, settings, choices, classes,
extractor key, versions, ``info``) and ``weights.safetensors``. Nothing is pickled.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from avemo.data.recipes import corpus_class_mask
from avemo.errors import CheckpointError, ParameterError
from avemo.labels import label_set
from avemo.systems.base import read_description, write_description
from avemo.systems.person_stats import shrink_statistics, standardise_by_speaker
from avemo.systems.probe_fit_cache import fit_key, load_fit, save_fit
from avemo.systems.probe_fitting import ADAPT_FOR, ADAPTED_HEADS, HEADS, SELECTIONS, HeadFitting
from avemo.systems.probe_inputs import FEATURE, FRAMES, CorpusInputs, layer_columns
from avemo.systems.probe_stats import emotion_offsets, normalise_utterances
from avemo.systems.probe_attentive import PARAMETERS as ATTENTIVE_PARAMETERS
from avemo.systems.probe_attentive import AttentiveHead, attentive_logits
from avemo.systems.probe_mlp import PARAMETERS as MLP_PARAMETERS
from avemo.systems.probe_mlp import head_logits as mlp_head_logits
from avemo.systems.transfer_selection import HEAD_KINDS, LOSSES
from avemo.systems.transfer_selection import softmax as _softmax

WEIGHTS_FILE = "weights.safetensors"
Split = tuple[Sequence[int], Sequence[int]]


class SpeechProbeSystem(HeadFitting):
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
            then calibrated on held-out corpora's logits: the inner ones, or for an MLP its own recipe's).
        abstain_coverage: when set, each head keeps a threshold (``abstain_below``) on its calibrated top
            probability under which a prediction is reported as uncertain, chosen on the calibration rows so that
            at least this share of them is answered (:func:`~avemo.systems.transfer_selection.abstention_threshold`).
        global_heads: the kinds of global head the nested rule chooses among (``linear``, ``mlp``; ``mlp`` needs
            ``selection="loco"``), or ``["attentive"]`` alone (:mod:`avemo.systems.probe_attentive`; needs
            ``selection="loco"`` and the rows' frames); the adapted heads are linear.
        tau_grid: candidate prior weights of the adapted heads (default :attr:`TAU_GRID`; ``[0]``: each speaker's
            own statistics, plain per-speaker standardisation).
        attentive_copies: an attentive global head also trains on the frames of the degraded training copies (rows
            whose speaker names a condition, ``speaker#condition``); ``False``: on the clean clips alone, the
            copies' frames set aside.

    Both adapted settings are fitted (:data:`ADAPTED_HEADS`); prediction picks one with ``adapt_for``.
    """

    def __init__(self, label_set: str = "ravdess8", model: str = "base",
                 layer_grid: Sequence[Sequence[int]] = ((3, 4, 5), (2, 3, 4, 5, 6)),
                 l2_grid: Sequence[float] = (1e-4, 1e-3), loudness_db: float | None = -23.0,
                 refit: bool = True, vad: bool = False, utterance_norm: bool = False,
                 compensations: Sequence[float] = (0.0, 1.0), target_corpus: str | None = None,
                 losses: Sequence[str] = ("masked",), selection: str = "speakers",
                 abstain_coverage: float | None = None, tau_grid: Sequence[float] | None = None,
                 global_heads: Sequence[str] = ("linear",), attentive_copies: bool = False) -> None:
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
        self.global_heads = [str(v) for v in global_heads]
        if not self.global_heads or any(v not in HEAD_KINDS for v in self.global_heads):
            raise ParameterError(f"global_heads must be among {list(HEAD_KINDS)}, got {list(global_heads)}")
        if "attentive" in self.global_heads and self.global_heads != ["attentive"]:
            raise ParameterError(f"an attentive global head is not chosen among others: give global_heads="
                                 f"['attentive'] alone, got {self.global_heads}")
        self.attentive_copies = bool(attentive_copies)
        if self.attentive_copies and self.global_heads != ["attentive"]:
            raise ParameterError("attentive_copies is a setting of an attentive global head: give "
                                 "global_heads=['attentive'] or leave attentive_copies False")
        if self.global_heads != ["linear"] and selection != "loco":
            raise ParameterError(f"a global head of kinds {self.global_heads} is fitted and calibrated across corpora: "
                                 "set selection='loco' or global_heads=['linear']")
        if self.abstain_coverage is not None and not 0 < self.abstain_coverage <= 1:
            raise ParameterError(f"abstain_coverage must be in (0, 1], got {abstain_coverage}")
        if not self.compensations or any(not 0 <= v <= 1 for v in self.compensations):
            raise ParameterError(f"compensations must be values in [0, 1], got {list(compensations)}")
        self.info: dict[str, Any] = {}
        self.heads_: dict[str, dict[str, Any]] = {}
        self.offsets_: np.ndarray | None = None  # (C, D) emotion offsets over the columns of `layers`
        self._net: tuple[dict, AttentiveHead] | None = None  # the attentive global head's network, built once

    @property
    def classes(self) -> tuple[str, ...]:
        return label_set(self.label_set)

    @property
    def layers(self) -> tuple[int, ...]:
        """Every layer either head reads (what the extractor must output)."""
        if not self.heads_:
            return tuple(sorted({i for layers in self.layer_grid for i in layers}))
        return tuple(sorted({i for head in self.heads_.values() for i in head["layers"]}))

    @property
    def attentive(self) -> bool:
        """Whether the global head is the attentive head over frames (it reads :data:`FRAMES` features too)."""
        return self.global_heads == ["attentive"]

    def feature_extractors(self) -> dict[str, Any]:
        """``{name: extractor}``: the Whisper statistics of :attr:`layers`, and for an attentive global head the
        frames of every layer (:data:`FRAMES`; one encoder pass serves both)."""
        from avemo.features.base import create_extractor

        out = {FEATURE: create_extractor(FEATURE, model=self.model, layers=list(self.layers),
                                         loudness_db=self.loudness_db, vad=self.vad)}
        if self.attentive:
            out[FRAMES] = create_extractor(FRAMES, model=self.model, loudness_db=self.loudness_db, vad=self.vad)
        return out

    # ---- fitting ----------------------------------------------------------------------------------------

    def fit(self, inputs: CorpusInputs, y: Sequence[int], split: Split,
            checkpoint_dir: str | os.PathLike | None = None) -> "SpeechProbeSystem":
        """Fit both heads on the rows ``split = (train, val)`` (see the class docstring). Returns ``self``.

        ``checkpoint_dir``: a folder the fitted system is saved in, and loaded back from instead of fitting again
        when it was fitted there on the same rows, labels and settings by the same version of the fitting code
        (:meth:`fit_key`, :data:`~avemo.systems.probe_fitting.FIT_VERSION`): a benchmark of many fits that stops
        part-way resumes; an unreadable or stale folder is fitted again.

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
        if self.attentive and not self.attentive_copies:  # the global head trains on the clean clips alone
            inputs = inputs.without_copy_frames()
        tr, va = np.searchsorted(used, tr), np.searchsorted(used, va)
        key = self.fit_key(inputs, y, tr, va) if checkpoint_dir is not None else None
        saved = load_fit(checkpoint_dir, key, type(self).load) if key is not None else None
        if saved is not None:
            self.heads_, self.offsets_, self.width_ = saved.heads_, saved.offsets_, saved.width_
            self.info = {**saved.info, "fit_loaded_from": str(checkpoint_dir)}
            return self
        self._fit(self._prepared(inputs), y, mask, tr, va)
        if key is not None:
            save_fit(checkpoint_dir, key, self)
        return self

    def fit_key(self, inputs: CorpusInputs, y: np.ndarray, tr: np.ndarray, va: np.ndarray) -> str:
        """The key of a fit on the rows ``tr`` and ``va`` of ``inputs`` with labels ``y``
        (:func:`~avemo.systems.probe_fit_cache.fit_key` of :meth:`fit_settings`)."""
        return fit_key(self.fit_settings(inputs), inputs, y, tr, va, frames=self.attentive)

    def fit_report(self) -> dict[str, Any]:
        """What the last :meth:`fit` chose per head (layers, L2, temperature, validation UA)."""
        keys = ("layers", "l2", "loss", "temperature", "val_ua", "tau", "compensation", "abstain_below", "loco_by_loss",
                "kind")
        return {head: {k: (list(v) if k == "layers" else v) for k, v in h.items() if k in keys}
                for head, h in self.heads_.items()}

    # ---- prediction --------------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not self.heads_:
            raise ParameterError("SpeechProbeSystem is not fitted; call fit(...) or load_system(folder)")

    def _global_proba(self, inputs: CorpusInputs) -> np.ndarray:
        """``(n, C)`` calibrated probabilities of the global head for prepared ``inputs``.

        Raises:
            ParameterError: for an attentive head and rows without frames.
        """
        h = self.heads_["global"]
        if h.get("kind") != "attentive":
            return self._head_proba("global", inputs.columns(h["layers"]))
        if not inputs.has_frames().all():
            raise ParameterError(f"this speech model's global head reads each recording's frames: give the "
                                 f"{FRAMES!r} features of its feature_extractors() with the {FEATURE!r} ones")
        if self._net is None or self._net[0] is not h:
            self._net = (h, AttentiveHead.from_arrays(h))
        return _softmax(attentive_logits(inputs.frames, h, self._net[1]) / h["temperature"])

    def _head_proba(self, head: str, x: np.ndarray) -> np.ndarray:
        h = self.heads_[head]
        z = (x - h["mean"]) / h["std"]
        logits = mlp_head_logits(z, h) if h.get("kind") == "mlp" else z @ h["coef"].T + h["bias"]
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
        frames = list(inputs[FRAMES]) if isinstance(inputs, Mapping) and FRAMES in inputs else None
        x = np.atleast_2d(x)
        want = 2 * self.width_ * len(self.layers)
        if x.shape[1] != want:
            raise ParameterError(f"features have {x.shape[1]} dimensions; the system reads {want} (mean and std of "
                                 f"Whisper {self.model} layers {list(self.layers)}: its feature_extractors())")
        n = len(x)
        return CorpusInputs.create(x, ["?"] * n, speakers if speakers is not None else [f"?{i}" for i in range(n)],
                                   self.layers, frames)

    def predict_proba(self, inputs: CorpusInputs | Mapping[str, Sequence[np.ndarray]] | np.ndarray,
                      adapt: bool = False, adapt_for: str = "any") -> np.ndarray:
        """Class probabilities ``(n, len(classes))``.

        Args:
            inputs: :class:`CorpusInputs`, a features dict (``{"whisper_stats": [vector, ...]}``, as the engine
                gives; with ``"whisper_frames"`` for an attentive global head) or an ``(n, D)`` matrix of
                :attr:`layers` (not for an attentive global head).
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
        out = self._global_proba(inputs)
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
        return dataclasses.replace(inputs, x=normalise_utterances(inputs.x, inputs.width))

    def _emotion_shift(self, probs: np.ndarray, layers: Sequence[int], head: str) -> np.ndarray | None:
        """The adapted ``head``'s emotion offsets ``(n, D)`` over ``layers`` for rows with global probabilities
        ``probs``; ``None`` when it takes none out."""
        compensation = self.heads_[head].get("compensation", 0.0)
        if not compensation or self.offsets_ is None:
            return None
        return compensation * emotion_offsets(probs, layer_columns(self.offsets_, self.layers, layers))

    def speaker_residuals(self, x: np.ndarray | Mapping[str, Sequence[np.ndarray]], adapt_for: str = "any"
                          ) -> np.ndarray:
        """``(n, D)`` vectors of :attr:`layers` (or a features dict as :meth:`predict_proba` takes; an attentive
        global head needs its frames when the adapted head takes offsets out) less each one's expected emotion
        offset (from the global head's probabilities): what a speaker's running statistics are taken over (as they
        are when the adapted head takes no offsets out; per-utterance normalised first when the system uses that),
        for the adapted head of ``adapt_for``."""
        self._check_fitted()
        name = self.adapted_head(adapt_for)
        inputs = self._prepared(self._as_inputs(x))
        if not self.heads_[name].get("compensation"):
            return inputs.x
        shift = self._emotion_shift(self._global_proba(inputs), self.layers, name)
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
            "description": f"{self.global_kind()} probe on Whisper {self.model} layer statistics, trained across "
                           f"corpora (loss: {self.heads_.get('global', {}).get('loss', self.losses[0])}); a global "
                           "and a speaker-adapted head",
            "model": self.model, "loudness_db": self.loudness_db, "heads": self.fit_report(),
            "training": {k: v for k, v in self.info.items() if k not in ("cross_validation", "selection")},
            "cross_validation": self.info.get("cross_validation"), "versions": library_versions()})

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``system.json`` and ``weights.safetensors``; returns the folder.

        Raises:
            ParameterError: when the system is not fitted.
        """
        from safetensors.numpy import save_file

        from avemo.train.checkpoint import library_versions

        self._check_fitted()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        names = dict.fromkeys(("mean", "std", "coef", "bias", "prior_mean", "prior_std", "between", *MLP_PARAMETERS,
                               *ATTENTIVE_PARAMETERS))
        tensors = {f"{head}.{k}": np.ascontiguousarray(h[k], dtype=np.float32)
                   for head, h in self.heads_.items() for k in names if k in h}
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
               "global_heads": self.global_heads, "attentive_copies": self.attentive_copies,
               "heads": self.fit_report(), "width": self.width_,
               "extractor": self.feature_extractors()[FEATURE].cache_key(),
               "versions": library_versions(), "info": self.info}
        write_description(path, doc)
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "SpeechProbeSystem":
        """Rebuild a saved system.

        Raises:
            CheckpointError: when a file is missing, corrupt or inconsistent.
        """
        from safetensors.numpy import load_file

        path = Path(directory)
        doc = read_description(path, "speech-probe")
        try:
            system = cls(doc["label_set"], doc["model"], doc["layer_grid"], doc["l2_grid"], doc["loudness_db"],
                         doc["refit"], doc.get("vad", False), doc.get("utterance_norm", False),
                         doc.get("compensations", (0.0,)), doc.get("target_corpus"), doc.get("losses", ("masked",)),
                         doc.get("selection", "speakers"), doc.get("abstain_coverage"), doc.get("tau_grid"),
                         doc.get("global_heads", ("linear",)), doc.get("attentive_copies", False))
            system.info = doc.get("info", {})
            system.width_ = int(doc["width"])
            heads = doc["heads"]
            if list(doc["classes"]) != list(system.classes):
                raise CheckpointError(f"{path}: classes differ from label set {doc['label_set']}")
        except (KeyError, TypeError, ValueError, ParameterError) as exc:
            raise CheckpointError(f"{path}: unreadable system description ({type(exc).__name__}: {exc})") from None
        try:
            tensors = load_file(str(path / WEIGHTS_FILE))
            for head in HEADS:
                if head == ADAPTED_HEADS["varied"] and head not in heads:
                    continue  # saved before it had one: predicting for varied speakers says so
                h = heads[head]
                kind = h.get("kind", "linear")
                arrays = {"attentive": ATTENTIVE_PARAMETERS, "mlp": ("mean", "std", *MLP_PARAMETERS)}.get(
                    kind, ("mean", "std", "coef", "bias"))
                system.heads_[head] = {"layers": tuple(h["layers"]), "l2": h["l2"], "temperature": h["temperature"],
                                       "val_ua": h["val_ua"], "loss": h.get("loss", "masked"),
                                       **({"abstain_below": float(h["abstain_below"])}
                                          if h.get("abstain_below") is not None else {}),
                                       **({"loco_by_loss": dict(h["loco_by_loss"])} if h.get("loco_by_loss") else {}),
                                       **({"kind": kind} if kind != "linear" else {}),
                                       **{k: tensors[f"{head}.{k}"] for k in arrays}}
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
            columns = 2 * system.width_ * len(h["layers"])
            if h.get("kind") == "attentive":
                fits = (h["frame_mean"].shape == h["frame_std"].shape == (h["project_w"].shape[1],)
                        and h["coef"].shape[0] == len(system.classes) and h["w1"].shape[0] == h["coef"].shape[1])
            elif h.get("kind") == "mlp":
                fits = (h["basis"].shape[0] == columns and h["w1"].shape == (len(h["b1"]), h["basis"].shape[1])
                        and h["coef"].shape == (len(system.classes), len(h["b1"])))
            else:
                fits = h["coef"].shape == (len(system.classes), columns)
            if not fits or (h.get("kind") != "attentive" and h["mean"].shape != (columns,)):
                raise CheckpointError(f"{path}: the {head} head's weights do not fit {len(h['layers'])} layers of "
                                      f"Whisper {system.model}")
        return system

    def global_kind(self) -> str:
        """What the global head is: ``linear``, ``MLP`` or ``attentive``."""
        return {"mlp": "MLP", "attentive": "attentive"}.get(self.heads_.get("global", {}).get("kind"), "linear")

    def __repr__(self) -> str:
        return f"SpeechProbeSystem(model={self.model!r}, fitted={bool(self.heads_)})"
