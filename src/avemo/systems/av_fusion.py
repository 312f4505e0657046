"""A trained audio-visual system for users who run OpenFace: speech features + clip-mean action units (AUs).

Two logistic regressions, one per modality, each temperature-scaled on validation speakers, fused late by a
weighted mean of log-probabilities (the benchmark system ``late-fusion-logreg`` of ``avemo benchmark
ravdess-av``):

- speech: standardised vector features (default ``whisper_layers:meanstd`` + ``egemaps``), ``C`` fixed;
- action units: the 35 standardised OpenFace 2.0 clip-mean AUs (:data:`avemo.features.openface.AU_COLUMNS`),
  ``C`` chosen on validation speakers from a small grid by unweighted accuracy.

With one modality missing the result is the other modality's calibrated probabilities. The fused output gets
one more temperature (fitted on validation speakers), since a weighted mean of log-probabilities is flatter
than either input; it changes confidence, never the arg-max.

The adapted head (per-person standardisation) lives in :mod:`avemo.systems.av_adapted`, the regressions in
:mod:`avemo.systems.av_logreg`, saving and loading in :mod:`avemo.systems.av_fusion_io`. Saved as a folder:
``system.json`` (kind, classes, AU column order, extractor keys, temperatures, weights, ``C`` values, versions,
``info``) and ``weights.safetensors`` (standardisation statistics, coefficients, intercepts). Nothing is pickled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.special import softmax

from avemo.errors import ParameterError
from avemo.features.openface import AU_COLUMNS
from avemo.labels import label_set
from avemo.modalities import Modality
from avemo.systems.av_adapted import FUSED, choose_prior_weight, head_doc, random_groups
from avemo.systems.av_choice import (SPEECH_KEY, Choice, Regressions, choice_log_probs, cross_fitted_adaptation_ua,
                                     fit_regressions, pick_validation_speakers)
from avemo.systems.av_logreg import log_probs
from avemo.systems.inputs import AVInputs, Features, vector_matrix
from avemo.systems.person_stats import population_prior
from avemo.train.metrics import unweighted_accuracy

SPEECH, AU = Modality.SPEECH, Modality.ACTION_UNITS
Split = tuple[Sequence[int], Sequence[int]]
MODALITIES = (SPEECH, AU)


class AVLateFusionSystem:
    """Speech + action-unit late fusion (see the module docstring); scikit-learn style.

    Args:
        label_set: the classes (default ``ravdess8``).
        speech_vectors: vector features of the speech model (``name`` or ``name:pooling``).
        speech_C: regularisation of the speech logistic regression.
        au_C_grid: candidate ``C`` values of the AU logistic regression (chosen on validation speakers).
        n_val_speakers: validation speakers held out for ``C``, temperatures and the fusion weight.
        weight_step: grid step of the fusion weight.
        refit: refit both regressions on every speaker after the validation stage (temperatures, weight and
            ``C`` stay those chosen on validation speakers).
        seed: seed of the validation-speaker draw (and of the groups of people of ``cross_fit``).
        cross_fit: choose ``C``, the temperatures and the fusion weight on out-of-fold log-probabilities of every
            training and validation person (people split into this many groups; each group scored by the
            regressions fitted without it), not on the validation people alone; 0: on the validation people.
        adapt: also fit the adapted head (:meth:`adapted_proba`): the same recipe on each person's features
            standardised by that person's own statistics (unlabelled), with its own ``C``, temperatures and weight
            chosen on validation speakers, and a prior weight (from ``tau_grid``) that steadies the statistics of a
            person with few recordings, chosen on validation speakers split into groups of
            :attr:`ADAPT_GROUP_SIZES` recordings.
    """

    def __init__(self, label_set: str = "ravdess8",
                 speech_vectors: Sequence[str] = ("whisper_layers:meanstd", "egemaps"), speech_C: float = 0.05,
                 au_C_grid: Sequence[float] = (0.01, 0.1, 1.0), n_val_speakers: int = 4,
                 weight_step: float = 0.05, refit: bool = True, seed: int = 0, adapt: bool = False,
                 tau_grid: Sequence[float] = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0), cross_fit: int = 0) -> None:
        self.label_set = label_set
        self.speech_vectors = list(speech_vectors)
        self.speech_C = speech_C
        self.au_C_grid = list(au_C_grid)
        self.n_val_speakers = n_val_speakers
        self.weight_step = weight_step
        self.refit = refit
        self.seed = seed
        self.adapt = bool(adapt)
        self.tau_grid = [float(t) for t in tau_grid]
        if not self.tau_grid or any(t < 0 for t in self.tau_grid):
            raise ParameterError(f"tau_grid must be non-negative prior weights, got {list(tau_grid)}")
        self.cross_fit = int(cross_fit)
        if self.cross_fit < 0 or self.cross_fit == 1:
            raise ParameterError(f"cross_fit must be 0 (choose on the validation people) or 2 or more groups of "
                                 f"people, got {cross_fit}")
        self.info: dict[str, Any] = {}

    #: Recordings per person the prior weight of the adapted head is chosen for (their UAs averaged).
    ADAPT_GROUP_SIZES = (2, 4, 8)
    # settings of the two regressions (those of configs/benchmarks/ravdess-av.yaml)
    SPEECH_FIT = {"max_iter": 300, "tol": 1e-3}
    AU_FIT = {"max_iter": 1000, "tol": 1e-4}

    @property
    def classes(self) -> tuple[str, ...]:
        return label_set(self.label_set)

    def extractor_names(self) -> list[str]:
        """The speech feature extractors the system reads, by registered name."""
        return list(dict.fromkeys(v.partition(":")[0] for v in self.speech_vectors))

    def feature_extractors(self) -> dict[str, Any]:
        """``{name: extractor}`` of every speech feature extractor, with its default settings."""
        from avemo.features.base import create_extractor

        return {n: create_extractor(n) for n in self.extractor_names()}

    # ---- fitting -----------------------------------------------------------------------------------------

    def inputs(self, speech_features: Features | np.ndarray, au: Any,
               au_present: np.ndarray | None = None) -> AVInputs:
        """The :class:`AVInputs` of this system from a speech features dict (or ``(n, D)`` vector matrix) and the
        ``(n, 35)`` clip-mean AUs (``au_present=None``: rows without NaN).

        Raises:
            ParameterError: for inconsistent shapes.
        """
        return AVInputs.create(self._speech_matrix(speech_features), self._au_matrix(au), au_present)

    def fit(self, inputs: AVInputs, y: Sequence[int], split: Split | None = None,
            checkpoint_dir: str | os.PathLike | None = None, *,
            recordings: Sequence[Any] | None = None) -> "AVLateFusionSystem":
        """Fit on the rows of ``split`` (see the class docstring for the recipe).

        Args:
            inputs: speech vectors + clip-mean AUs of every recording (:meth:`inputs` builds them); their
                ``speech_copies`` (if any) train the global head's speech regression too, never the adapted head.
            y: class indices into :attr:`classes`.
            split: ``(train_index, val_index)``: the regressions train on ``train_index``; ``C``, the temperatures
                and the fusion weight are chosen on ``val_index``; with ``refit`` both regressions are then
                refitted on both. ``None``: every recording, with :attr:`n_val_speakers` validation speakers drawn
                from ``recordings``.
            checkpoint_dir: unused (fitting takes seconds); accepted as every system's ``fit`` does.
            recordings: objects with ``speaker`` and ``attributes["gender"]`` (e.g. :class:`Recording`), in
                the order of ``inputs``; needed when ``split`` is ``None``.

        Raises:
            ParameterError: for inconsistent shapes or labels, too few speakers, or no AUs to learn from.
        """
        if not isinstance(inputs, AVInputs):
            raise ParameterError("inputs must be AVInputs; build them with system.inputs(speech_features, au)")
        xs, xa, present = inputs.speech, inputs.au, inputs.au_present
        y = np.asarray(y, dtype=np.int64)
        n, c = len(y), len(self.classes)
        if xa.shape[1] != len(AU_COLUMNS):
            raise ParameterError(f"au_matrix must be (n, {len(AU_COLUMNS)}) clip-mean AUs, got {xa.shape}")
        if len(inputs) != n:
            raise ParameterError(f"inputs ({len(inputs)}) and labels ({n}) must describe the same recordings")
        if n == 0 or y.min() < 0 or y.max() >= c:
            raise ParameterError(f"labels must be class indices in [0, {c - 1}] of {self.label_set}")
        if split is None:
            if recordings is None or len(recordings) != n:
                raise ParameterError("without a split, give the recordings (one per row) to draw validation "
                                     "speakers from")
            val_speakers = pick_validation_speakers(recordings, self.n_val_speakers, self.seed)
            is_val = np.array([r.speaker in val_speakers for r in recordings])
            tr, va = np.flatnonzero(~is_val), np.flatnonzero(is_val)
        else:
            tr, va = (np.asarray(list(part), dtype=np.int64) for part in split)
            val_speakers = sorted({recordings[i].speaker for i in va}) if recordings is not None else None
        if not present[np.concatenate([tr, va])].any():
            raise ParameterError("no recording has action units to learn from")
        if len(tr[present[tr]]) == 0 or len(va[present[va]]) == 0:
            raise ParameterError("both training and validation speakers need recordings with action units")
        people = self._people(inputs, recordings)
        if self.adapt and people is None:
            raise ParameterError("an adapted system needs to know who each recording is of: give recordings= or "
                                 "AVInputs with person=...")

        self.adapted_ = None
        head = self._fit_head(xs, xa, present, y, tr, va, people, inputs.speech_copies)
        self.info["n_speech_copies"] = len(inputs.speech_copies)
        self.info["validation"] = {"speakers": val_speakers, "n_recordings": int(len(va)), **head.pop("validation")}
        self.validation_ = head.pop("validation_probs")
        choice = head.pop("choice")
        self._set_global(head)
        if self.adapt:
            self._fit_adapted(inputs.with_people(people), y, tr, va, choice)
        fitted_rows = np.union1d(tr, va)
        self.info["n_recordings"] = int(len(fitted_rows))
        self.info["n_with_action_units"] = int(present[fitted_rows].sum())
        if recordings is not None:
            self.info["speakers"] = sorted({recordings[i].speaker for i in fitted_rows})
        return self

    @staticmethod
    def _people(inputs: AVInputs, recordings: Sequence[Any] | None) -> np.ndarray | None:
        if inputs.person is not None:
            return inputs.person
        if recordings is not None and len(recordings) == len(inputs):
            return np.array([r.speaker for r in recordings], dtype=object)
        return None

    def _fit_head(self, xs: np.ndarray, xa: np.ndarray, present: np.ndarray, y: np.ndarray, tr: np.ndarray,
                  va: np.ndarray, people: np.ndarray | None = None,
                  speech_copies: Sequence[np.ndarray] = ()) -> dict[str, Any]:
        """One head (two regressions, their temperatures, the fusion weight and the fused temperature) fitted on
        the rows ``tr`` (the speech regression also on their ``speech_copies``) and chosen on ``va`` (or, with
        :attr:`cross_fit`, on every row, out of fold), then (with :attr:`refit`) refitted on both; with what
        validation showed (``validation``: UAs, ``validation_probs``:
        calibrated probabilities of the rows the choices were made on, ``va`` or, cross-fitted, every row, out of
        the fits that chose)."""
        from avemo.models.fusion import weighted_late_fusion
        from avemo.train.calibration import TemperatureScaler
        from avemo.train.late_fusion import fit_late_fusion_weights

        c = len(self.classes)

        def fit(rows: np.ndarray) -> Regressions:
            return fit_regressions(xs, xa, present, y, rows, c, self.speech_C, self.au_C_grid, self.SPEECH_FIT,
                                   self.AU_FIT, speech_copies)

        # 1. the log-probabilities the choices are made on (and the train-only regressions where they are used)
        choice = choice_log_probs(fit, xs, xa, tr, va, people, self.cross_fit, self.seed,
                                  keep_train_only=not self.refit)
        rows, logits = choice.rows, choice.log_probs
        yv, face = y[rows], present[rows]
        best, au_scores = None, {}
        for C in self.au_C_grid:
            score = unweighted_accuracy(yv[face], logits[C][face].argmax(axis=1))
            au_scores[str(C)] = score
            if best is None or score > best[0] + 1e-9:
                best = (score, C)
        au_score, au_C = best
        val_logits = {SPEECH: logits[SPEECH_KEY], AU: logits[au_C]}

        # 2. temperatures and the fusion weight on those rows
        pres_v = {SPEECH: np.ones(len(rows), bool), AU: face}
        temperatures, probs_v = {}, {}
        for mod in MODALITIES:
            keep = pres_v[mod]
            temperatures[mod] = TemperatureScaler().fit(val_logits[mod][keep], yv[keep]).temperature_
            probs_v[mod] = softmax(val_logits[mod] / temperatures[mod], axis=1)
        weights = fit_late_fusion_weights(probs_v, yv, present=pres_v, step=self.weight_step, method="log")
        fused_v = weighted_late_fusion(probs_v, weights, pres_v, method="log")
        both = pres_v[AU]
        fused_temperature = TemperatureScaler().fit(np.log(fused_v[both] + 1e-12), yv[both]).temperature_
        fused_v[both] = softmax(np.log(fused_v[both] + 1e-12) / fused_temperature, axis=1)
        au_v = probs_v[AU].copy()
        au_v[~pres_v[AU]] = np.nan
        choice.fused = fused_v

        train = choice.train_only
        train_only = None if train is None else {"speech_scaler": train.speech_scaler, "au_scaler": train.au_scaler,
                                                 "speech_w": train.speech_w, "au_w": train.au_ws[au_C]}
        # 3. refit on the training and validation rows (keeping C, temperatures and weight)
        final = fit_regressions(xs, xa, present, y, np.union1d(tr, va), c, self.speech_C, [au_C], self.SPEECH_FIT,
                                self.AU_FIT, speech_copies) if self.refit else train
        ss, sa, speech_w, au_w = final.speech_scaler, final.au_scaler, final.speech_w, final.au_ws[au_C]
        return {"speech_scaler": ss, "au_scaler": sa, "speech_w": speech_w, "au_w": au_w, "au_C": au_C,
                "temperatures": temperatures, "weights": weights, "fused_temperature": fused_temperature,
                "train_only": train_only, "choice": choice,
                "validation_probs": {"index": rows, SPEECH: probs_v[SPEECH], AU: au_v, FUSED: fused_v},
                "validation": {"ua": {SPEECH: unweighted_accuracy(yv, probs_v[SPEECH].argmax(1)),
                                      AU: float(au_score), FUSED: unweighted_accuracy(yv, fused_v.argmax(1))},
                               "au_C_ua": au_scores, "n_choice_recordings": int(len(rows)),
                               "cross_fit": self.cross_fit if choice.cross_fitted else 0,
                               "note": "measured on the recordings that chose C, temperatures and weight: "
                                       "optimistic"}}

    def _set_global(self, head: Mapping[str, Any]) -> None:
        self.speech_scaler_, self.au_scaler_ = head["speech_scaler"], head["au_scaler"]
        self.speech_coef_, self.speech_intercept_ = head["speech_w"]
        self.au_coef_, self.au_intercept_ = head["au_w"]
        self.au_C_, self.temperatures_ = head["au_C"], head["temperatures"]
        self.weights_, self.fused_temperature_ = head["weights"], head["fused_temperature"]

    def _fit_adapted(self, inputs: AVInputs, y: np.ndarray, tr: np.ndarray, va: np.ndarray,
                     global_choice: Choice) -> None:
        """The adapted head: the same recipe on each person's rows standardised by that person's statistics (all
        of their recordings; no labels), then the prior weight ``tau`` and the fewest recordings worth adapting
        from, chosen on people adapted from a few recordings (:attr:`ADAPT_GROUP_SIZES`) against the global head
        (``global_choice``: what the global head's choices were made on): cross-fitted on every person, or on the
        validation people scored by the train-only regressions."""
        adapted, done = inputs.per_person()
        present = adapted.au_present & done[AU]
        if not done[SPEECH][np.union1d(tr, va)].all():
            raise ParameterError("an adapted system needs two or more recordings of every training person")
        head = self._fit_head(adapted.speech, adapted.au, present, y, tr, va, inputs.person)
        validation = head.pop("validation")
        self.adapted_validation_ = head.pop("validation_probs")
        choice = head.pop("choice")
        train_only = head.pop("train_only")
        raw = inputs.take(np.union1d(tr, va) if self.refit else tr)  # the prior: the training people's statistics
        head["priors"] = {SPEECH: population_prior(raw.speech, raw.person),
                          AU: population_prior(raw.au, raw.person, raw.au_present)}
        if choice.cross_fitted:
            ua = cross_fitted_adaptation_ua(lambda part, h: self._adapted_parts(part, h)[0][FUSED], choice, inputs,
                                            y, head, self.tau_grid, self.ADAPT_GROUP_SIZES, self.seed)
        else:
            train_only = {**head, **train_only}
            raw = inputs.take(tr)
            train_only["priors"] = {SPEECH: population_prior(raw.speech, raw.person),
                                    AU: population_prior(raw.au, raw.person, raw.au_present)}
            groups = {size: inputs.take(va).with_people(random_groups(inputs.person[va], size, self.seed + k))
                      for k, size in enumerate(self.ADAPT_GROUP_SIZES)}
            ua = {(tau, size): unweighted_accuracy(y[va], self._adapted_parts(
                      part, {**train_only, "tau": tau, "min_recordings": 2})[0][FUSED].argmax(1))
                  for tau in self.tau_grid for size, part in groups.items()}
        global_ua = unweighted_accuracy(y[global_choice.rows], global_choice.fused.argmax(1))
        chosen = choose_prior_weight(ua, global_ua)
        head["tau"], head["min_recordings"] = chosen["tau"], chosen["min_recordings"]
        self.adapted_ = head
        self.info["adapted_validation"] = {**validation, "tau_ua": chosen["tau_ua"],
                                           "group_sizes": list(self.ADAPT_GROUP_SIZES),
                                           "group_size_ua": {str(k): v for k, v in chosen["size_ua"].items()},
                                           "global_ua": global_ua}

    def fit_report(self) -> dict[str, Any]:
        """What the last :meth:`fit` chose, and the calibrated probabilities of the rows it chose on (``validation``:
        ``index`` plus one ``(n, classes)`` array per modality and ``fused``; NaN rows: no AUs): the validation
        rows scored by the models trained before the refit, or, cross-fitted, every row scored out of fold; the same
        for the adapted head (``adapted``, ``adapted_validation``: each person adapted with all of their
        recordings) when there is one."""
        report = {"au_C": self.au_C_, "weights": dict(self.weights_), "modality_temperatures": dict(self.temperatures_),
                  "fused_temperature": self.fused_temperature_, "validation": getattr(self, "validation_", None)}
        adapted = getattr(self, "adapted_", None)
        if adapted is not None:
            report["adapted"] = {"au_C": adapted["au_C"], "weights": dict(adapted["weights"]), "tau": adapted["tau"],
                                 "min_recordings": adapted["min_recordings"],
                                 "modality_temperatures": dict(adapted["temperatures"]),
                                 "fused_temperature": adapted["fused_temperature"],
                                 "tau_ua": self.info.get("adapted_validation", {}).get("tau_ua")}
            report["adapted_validation"] = getattr(self, "adapted_validation_", None)
        return report

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: name, kind, classes, settings, what fitting chose, training and
        cross-validated figures (``info``), library versions."""
        from avemo.train.checkpoint import library_versions, to_jsonable

        doc = {"name": self.info.get("name", DEFAULT_AV_MODEL), "kind": "av-late-fusion", "classes": list(self.classes),
               "description": "speech + OpenFace action units: one logistic regression per modality, "
                              "temperature-scaled, fused by a weighted mean of log-probabilities",
               "speech_vectors": self.speech_vectors, "speech_C": self.speech_C, "au_C_grid": self.au_C_grid}
        if hasattr(self, "weights_"):
            doc.update(au_C=self.au_C_, weights=self.weights_,
                       temperatures={**self.temperatures_, "fused": self.fused_temperature_})
        adapted = getattr(self, "adapted_", None)
        if adapted is not None:
            doc["adapted"] = {**head_doc(adapted),
                              "description": "each person's features standardised by that person's own statistics "
                                             "(unlabelled; a person seen once gets the global head)"}
        doc.update(training={k: v for k, v in self.info.items() if k != "cross_validation"},
                   cross_validation=self.info.get("cross_validation"), versions=library_versions())
        return to_jsonable(doc)

    # ---- prediction --------------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise ParameterError("AVLateFusionSystem is not fitted; call fit(...) or AVLateFusionSystem.load(dir)")

    def _speech_matrix(self, speech_features: Features | np.ndarray) -> np.ndarray:
        if isinstance(speech_features, Mapping):
            return vector_matrix(self.speech_vectors, dict(speech_features))
        x = np.asarray(speech_features, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise ParameterError(f"speech features must be a features dict or an (n, D) matrix, got {x.shape}")
        return x

    def _au_matrix(self, au: Any) -> np.ndarray:
        x = np.asarray(au, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != len(AU_COLUMNS):
            raise ParameterError(f"action units must be ({len(AU_COLUMNS)},) or (n, {len(AU_COLUMNS)}) clip means "
                                 f"in AU_COLUMNS order, got shape {x.shape}")
        return x

    def modality_proba(self, speech_features: AVInputs | Features | np.ndarray | None = None,
                       au: Any = None) -> dict[str, np.ndarray]:
        """Each given modality's temperature-scaled probabilities ``(n, len(classes))``.

        ``speech_features`` may be an :class:`AVInputs` holding both modalities. ``au`` rows holding NaN (no
        tracked face) give NaN probabilities.

        Raises:
            ParameterError: when neither modality is given, or for a wrong feature dimension.
        """
        self._check_fitted()
        if isinstance(speech_features, AVInputs):
            inputs = speech_features
            speech_features, au = inputs.speech, np.where(inputs.au_present[:, None], inputs.au, np.nan)
        out: dict[str, np.ndarray] = {}
        if speech_features is not None:
            xs = self._speech_matrix(speech_features)
            if xs.shape[1] != self.speech_coef_.shape[1]:
                raise ParameterError(f"speech features have {xs.shape[1]} dimensions; the model expects "
                                     f"{self.speech_coef_.shape[1]} ({' + '.join(self.speech_vectors)})")
            z = log_probs(self.speech_scaler_.transform(xs), self.speech_coef_, self.speech_intercept_)
            out[SPEECH] = softmax(z / self.temperatures_[SPEECH], axis=1)
        if au is not None:
            xa = self._au_matrix(au)
            missing = np.isnan(xa).any(axis=1)
            z = log_probs(self.au_scaler_.transform(np.nan_to_num(xa)), self.au_coef_, self.au_intercept_)
            p = softmax(z / self.temperatures_[AU], axis=1)
            p[missing] = np.nan
            out[AU] = p
        if not out:
            raise ParameterError("give speech features, action units, or both")
        if len(out) == 2 and len(out[SPEECH]) != len(out[AU]):
            raise ParameterError(f"got {len(out[SPEECH])} speech rows and {len(out[AU])} AU rows; give one of "
                                 "each per recording")
        return out

    def fuse(self, parts: Mapping[str, np.ndarray]) -> np.ndarray:
        """Fuse calibrated per-modality probabilities (as :meth:`modality_proba` returns); a modality missing,
        or a row of it holding NaN, leaves the other's probabilities.

        Raises:
            ParameterError: when a row has no modality at all.
        """
        self._check_fitted()
        return self._fuse(parts, self.weights_, self.fused_temperature_)

    def _fuse(self, parts: Mapping[str, np.ndarray], weights: Mapping[str, float],
              fused_temperature: float) -> np.ndarray:
        from avemo.models.fusion import weighted_late_fusion

        names = [m for m in MODALITIES if m in parts]
        if not names:
            raise ParameterError("nothing to fuse: no modality's probabilities")
        n = len(parts[names[0]])
        present = {m: ~np.isnan(parts[m]).any(axis=1) for m in names}
        if not np.any([present[m] for m in names], axis=0).all():
            raise ParameterError("a row has neither speech nor action units")
        probs = {m: np.nan_to_num(parts[m], nan=1.0 / len(self.classes)) for m in names}
        fused = weighted_late_fusion(probs, {m: weights[m] for m in names}, present, method="log")
        both = np.all([present[m] for m in MODALITIES], axis=0) if len(names) == 2 else np.zeros(n, bool)
        if both.any():
            fused[both] = softmax(np.log(fused[both] + 1e-12) / fused_temperature, axis=1)
        return fused

    def adapted_proba(self, inputs: AVInputs) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Per-person adaptation without labels: each person's rows (``inputs.person``) standardised by the
        statistics of that person's rows given here (shrunk towards the training people's by the prior weight
        chosen on validation), then scored by the adapted head. A person with fewer than
        :data:`~avemo.systems.person_stats.MIN_SPEAKER_RECORDINGS` rows gets the global head.

        Returns:
            ``{"speech": ..., "action_units": ..., "fused": ...}`` calibrated probabilities ``(n, classes)`` (NaN
            AU rows: no face) and the ``(n,)`` mask of the rows the adapted head scored.

        Raises:
            ParameterError: when the system has no adapted head or the inputs do not say who each row is of.
        """
        self._check_fitted()
        if getattr(self, "adapted_", None) is None:
            raise ParameterError("this audio-visual model has no adapted head; train one with adapt=True "
                                 "(the shipped av-ravdess-openface has one)")
        if not isinstance(inputs, AVInputs):
            raise ParameterError("inputs must be AVInputs with person=...; build them with system.inputs(...)")
        return self._adapted_parts(inputs, self.adapted_)

    def _adapted_parts(self, inputs: AVInputs, head: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        adapted, done = inputs.per_person(head["priors"], head["tau"], head.get("min_recordings", 2))
        parts = self.modality_proba(inputs)
        temperatures = head["temperatures"]
        rows = done[SPEECH]
        if rows.any():
            z = log_probs(head["speech_scaler"].transform(adapted.speech[rows]), *head["speech_w"])
            parts[SPEECH][rows] = softmax(z / temperatures[SPEECH], axis=1)
        rows_a = done[AU]
        if rows_a.any():
            z = log_probs(head["au_scaler"].transform(adapted.au[rows_a]), *head["au_w"])
            parts[AU][rows_a] = softmax(z / temperatures[AU], axis=1)
        fused = self.fuse(parts)
        if rows.any():
            fused[rows] = self._fuse({m: p[rows] for m, p in parts.items()}, head["weights"],
                                     head["fused_temperature"])
        return {**parts, FUSED: fused}, rows

    def predict_proba(self, speech_features: AVInputs | Features | np.ndarray | None = None,
                      au: Any = None) -> np.ndarray:
        """Fused probabilities ``(n, len(classes))`` of speech features and AUs (or of one :class:`AVInputs`);
        with one modality missing, the other's calibrated ones.

        Raises:
            ParameterError: when neither modality is given, or for a wrong feature dimension.
        """
        return self.fuse(self.modality_proba(speech_features, au))

    def predict(self, speech_features: AVInputs | Features | np.ndarray | None = None,
                au: Any = None) -> list[str]:
        """The most probable class name of each row."""
        return [self.classes[k] for k in self.predict_proba(speech_features, au).argmax(axis=1)]

    # ---- persistence (avemo.systems.av_fusion_io) ---------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``system.json`` and ``weights.safetensors`` into ``directory``; returns it."""
        from avemo.systems.av_fusion_io import save_system

        self._check_fitted()
        return save_system(self, directory)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "AVLateFusionSystem":
        """Rebuild a saved system.

        Raises:
            CheckpointError: when the folder or one of its files is missing or inconsistent, or the installed
                speech extractors differ from those the system was trained with.
        """
        from avemo.systems.av_fusion_io import load_system

        return load_system(cls, directory)

    def __repr__(self) -> str:
        fitted = (f", au_C_={self.au_C_}, weights_={self.weights_}, temperatures_={self.temperatures_}"
                  if hasattr(self, "weights_") else "")
        return f"AVLateFusionSystem(speech_vectors={self.speech_vectors}, speech_C={self.speech_C}{fitted})"


def resolve_av_model(name_or_path: str | os.PathLike | None) -> Path:
    """A shipped audio-visual model name (``av-ravdess-openface``) or a folder written by
    ``avemo train av-late-fusion``; ``None`` = the shipped one.

    Raises:
        AssetNotFoundError: when neither exists.
    """
    from avemo.systems.base import resolve_system_dir

    return resolve_system_dir(name_or_path, kind="av-late-fusion")


#: The shipped speech + action-unit model.
DEFAULT_AV_MODEL = "av-ravdess-openface"
