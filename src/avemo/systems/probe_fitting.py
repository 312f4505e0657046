"""How a speech probe's heads are fitted (:class:`HeadFitting`, the fitting half of
:class:`~avemo.systems.speech_probe.SpeechProbeSystem`): per head, the layers, L2 strength and loss chosen on
validation speakers or by leave-one-corpus-out, the adapted heads' emotion compensation and prior weight chosen per
use, a temperature (and an abstention level) on calibration rows, and the final refit.

:data:`FIT_VERSION` names this code's results: fits saved in a checkpoint folder
(:mod:`avemo.systems.probe_fit_cache`) are reused only under the same version.
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping, Sequence

import numpy as np

from avemo.systems.person_stats import standardise_by_speaker
from avemo.systems.probe_inputs import CorpusInputs, layer_columns
from avemo.systems.probe_stats import (balance_weights, class_offsets, corpus_ua, emotion_offsets,
                                       fit_softmax_regression)
from avemo.systems import probe_attentive, probe_mlp
from avemo.errors import ParameterError
from avemo.systems.transfer_selection import abstention_threshold, capped_rows, loco_select, loss_masks
from avemo.systems.transfer_selection import softmax as _softmax

#: The version of how fits are computed (this module, :mod:`~avemo.systems.probe_stats`,
#: :mod:`~avemo.systems.person_stats`, :mod:`~avemo.systems.transfer_selection`, the calibration and the metrics
#: they use): part of every fit's key. Bump it when a change to fitting changes its results (numbers, choices,
#: constants such as ``TAU_GRID``), so that fits saved in checkpoint folders are fitted again.
FIT_VERSION = 1
#: Whom the adapted head's compensation and prior weight are chosen for, and the head fitted so for each:
#: ``any``: the average over uses (statistics from 2, 4, 8, 16 or all of a speaker's recordings, and speakers heard
#: in one emotion only), so few or one-emotion recordings of a person are safe; ``varied``: speakers adapted with
#: all of their recordings, heard in several emotions (an acted corpus, a session with a range of emotions).
ADAPTED_HEADS = {"any": "adapted", "varied": "adapted-varied"}
ADAPT_FOR = tuple(ADAPTED_HEADS)
HEADS = ("global", *ADAPTED_HEADS.values())
#: How the layers, L2 and loss of each head are chosen: on validation speakers of the training corpora
#: (``speakers``: in-corpus fit) or by leave-one-corpus-out inside the training corpora (``loco``: transfer to
#: corpora never heard; :mod:`avemo.systems.transfer_selection`).
SELECTIONS = ("speakers", "loco")


class HeadFitting:
    """The fitting of :class:`~avemo.systems.speech_probe.SpeechProbeSystem`'s heads; the system supplies its
    settings (``classes``, ``layer_grid``, ``l2_grid``, ``losses``, ``selection``, ``compensations``, ``tau_grid``,
    ``refit``, ``target_corpus``, ``abstain_coverage``, ...) and receives ``heads_``, ``offsets_``, ``width_`` and
    ``info`` entries."""

    #: Candidate prior weights (in recordings) and the numbers of a speaker's recordings they are scored with.
    TAU_GRID = (0.0, 2.0, 5.0, 10.0, 20.0, 50.0)
    SUBSET_SIZES = (2, 4, 8, 16, 0)  # 0: all of the speaker's recordings

    def fit_settings(self, inputs: CorpusInputs) -> list[Any]:
        """What a fit on ``inputs`` depends on besides its rows and the libraries: :data:`FIT_VERSION`, the
        settings and the input layers (hashed by :func:`~avemo.systems.probe_fit_cache.fit_key`)."""
        settings = [FIT_VERSION, self.label_set, self.model, self.layer_grid, self.l2_grid, self.loudness_db,
                    self.refit, self.vad, self.utterance_norm, self.compensations, self.target_corpus,
                    list(inputs.layers), self.losses, self.selection, self.abstain_coverage, self.tau_grid]
        # settings added since: keyed only when not their default, so the fits saved before them stay valid
        if self.global_heads == ["attentive"]:
            return settings + [self.global_heads, probe_attentive.VERSION] + (["attentive_copies"]
                                                                               if self.attentive_copies else [])
        return settings + ([self.global_heads, probe_mlp.VERSION] if self.global_heads != ["linear"] else [])

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

    def _fit(self, inputs: CorpusInputs, y: np.ndarray, mask: np.ndarray, tr: np.ndarray, va: np.ndarray) -> None:
        """Fit the heads on the rows ``tr`` (training) and ``va`` (validation) of ``inputs`` (prepared: per-utterance
        normalised when the system is), their labels ``y`` and corpus class masks ``mask`` ``(n, C)``."""
        c = len(self.classes)
        self.heads_, choices = {}, {}
        self.width_ = inputs.width
        rows = np.union1d(tr, va) if self.refit else tr
        onehot = np.eye(c, dtype=np.float32)[y]
        masks = {loss: loss_masks(inputs.corpus, self.classes, loss) for loss in self.losses}
        # emotion offsets from training rows (selection) and from every fitted row (the final heads)
        train_weight, fit_weight = self._weights(inputs.corpus[tr], y[tr]), self._weights(inputs.corpus[rows], y[rows])
        offsets = class_offsets(inputs.x[tr], y[tr], train_weight, c)[0]
        final_offsets = class_offsets(inputs.x[rows], y[rows], fit_weight, c)[0]
        probs = onehot.copy()  # labels for training rows; the global head's probabilities for validation rows
        for head in ("global", "adapted"):  # the adapted settings share their layers, L2 and loss
            if head == "global" and self.global_heads == ["attentive"]:
                best, choices[head] = self._attentive_choice(inputs, y, rows, masks, va)
            elif self.selection == "loco":
                best, choices[head] = self._loco_choice(inputs, y, rows, head, masks, tr, va, train_weight)
            else:
                best, choices[head] = self._speaker_choice(inputs, y, mask, masks, tr, va, head, train_weight)
            score, layers, l2, loss, (cal_rows, cal_logits), train_only = best
            if head == "global":
                kind = choices[head]["chosen"]["head"] if self.selection == "loco" else "linear"
                temperature, cal_rows, cal_logits = self._finish_head(
                    head, inputs, y, mask, masks[loss], cal_rows, rows, layers, l2, loss, score, cal_logits, {}, onehot,
                    final_offsets, fit_weight, kind, va)
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
                             lambda yy, pp, cc: corpus_ua(yy, pp, cc, self.classes),
                             heads=self.global_heads if head == "global" else ("linear",))
        train_only = None
        if head != "global":
            x = self._design(inputs, choice.layers, head)
            mean, std = x[tr].mean(0), np.maximum(x[tr].std(0), 1e-6)
            coef, bias = fit_softmax_regression((x[tr] - mean) / std, y[tr], masks[choice.loss][tr], train_weight,
                                                choice.l2)
            train_only = (mean, std, coef, bias)
        best = (choice.score, choice.layers, choice.l2, choice.loss, (inner, choice.logits), train_only)
        return best, {"rule": "leave-one-corpus-out inside the training corpora", "chosen": {
            "head": choice.head, "loss": choice.loss, "layers": list(choice.layers), "l2": choice.l2,
            "loco_ua": choice.score},
            "candidates": choice.scores}

    def _attentive_choice(self, inputs: CorpusInputs, y: np.ndarray, rows: np.ndarray,
                          masks: Mapping[str, np.ndarray], va: np.ndarray) -> tuple[tuple, dict]:
        """The attentive global head's calibration logits: for each corpus of ``rows``, the head
        (:func:`~avemo.systems.probe_attentive.fit_attentive`, the first loss of :attr:`losses`) fitted on the other
        corpora's rows with frames (at most ``CELL_CAP`` of each corpus and class, as the nested rule's inner loop)
        and applied to that corpus's rows and validation rows. Returns the tuple of :meth:`_speaker_choice` (layers:
        none; the score: the mean inner leave-one-corpus-out UA) and its record.

        Raises:
            ParameterError: when a validation row has no frames.
        """
        has = inputs.has_frames()
        if not has[va].all():
            raise ParameterError("an attentive global head needs the whisper_frames features of every validation "
                                 "recording (CorpusInputs.frames); extract them (load_corpora(..., frames=True))")
        framed = rows[has[rows]]
        inner = np.union1d(framed[capped_rows(inputs.corpus[framed], y[framed])], va)
        loss = self.losses[0]
        logits = probe_attentive.held_out_corpus_logits(inputs.frames[inner], y[inner], masks[loss][inner],
                                                        inputs.corpus[inner], self._weights)
        by_corpus = corpus_ua(y[inner], _softmax(logits), inputs.corpus[inner], self.classes)
        score = float(np.mean(list(by_corpus.values())))
        chosen = {"head": "attentive", "loss": loss, "layers": [], "l2": 0.0, "loco_ua": score}
        return (score, (), 0.0, loss, (inner, logits), None), {
            "rule": "the attentive head (reports/cross-corpus/head-check's nested rule); calibrated on "
                    "leave-one-corpus-out logits inside the training corpora", "chosen": chosen,
            "candidates": [{**chosen, "ua_by_corpus": by_corpus}]}

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
                     weight: np.ndarray, kind: str = "linear", va: np.ndarray | None = None
                     ) -> tuple[float, np.ndarray, np.ndarray]:
        """Refit the head on ``rows`` under ``loss_mask`` (for an adapted head with its ``extra["compensation"]``;
        for ``kind="mlp"`` an MLP, on the top principal components of the standardised rows; for ``kind="attentive"``
        the attentive head on the frames of the rows that have them), fit its temperature on
        the calibration rows ``cal`` and their logits ``cal_logits`` (over each row's corpus classes) and the
        abstention threshold (when the system has a coverage), and store it in :attr:`heads_`. An MLP is calibrated
        on its own recipe's held-out-corpus logits instead (:func:`~avemo.systems.probe_mlp.held_out_corpus_logits`
        of ``rows`` and the validation rows ``va``: standardisation, components and network refitted without each
        corpus).
        Returns the temperature and the calibration rows and logits it was fitted on."""
        from avemo.train.calibration import TemperatureScaler

        if kind == "attentive":  # on the rows with frames (a degraded copy has none); calibrated as chosen
            framed = rows[inputs.has_frames()[rows]]
            fitted = {"kind": "attentive", **probe_attentive.fit_attentive(
                inputs.frames[framed], y[framed], loss_mask[framed], self._weights(inputs.corpus[framed], y[framed]))}
        else:
            x = self._design(inputs, layers, head, extra.get("compensation", 0.0), onehot, offsets)
            mean, std = x[rows].mean(0), np.maximum(x[rows].std(0), 1e-6)
            z = (x[rows] - mean) / std
            if kind == "mlp":
                fitted = {"kind": "mlp", **probe_mlp.fit_head(z, y[rows], loss_mask[rows], weight)}
                del z
                cal = rows if va is None else np.union1d(rows, va)
                cal_logits = probe_mlp.held_out_corpus_logits(x if len(cal) == len(x) else x[cal], y[cal],
                                                              loss_mask[cal], inputs.corpus[cal], self._weights,
                                                              np.searchsorted(cal, rows))
                del x  # the full columns are not needed past the calibration
            else:  # a linear head carries no kind (as saved before there were MLPs)
                del x
                fitted = dict(zip(("coef", "bias"), fit_softmax_regression(z, y[rows], loss_mask[rows], weight, l2)))
        temperature = TemperatureScaler().fit(np.where(mask[cal], cal_logits, -1e4), y[cal]).temperature_
        if self.abstain_coverage is not None:
            top = _softmax(cal_logits / temperature).max(1)
            extra = {**extra, "abstain_below": abstention_threshold(top, self.abstain_coverage)}
        standardise = {} if kind == "attentive" else {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}
        self.heads_[head] = {"layers": tuple(layers), "l2": l2, "loss": loss, "temperature": float(temperature),
                             "val_ua": score, **standardise, **fitted, **extra}
        return float(temperature), cal, cal_logits

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
