"""What the late-fusion system's choices are made on (:class:`~avemo.systems.av_fusion.AVLateFusionSystem`: the AU
regression's ``C``, the temperatures, the fusion weight, the adapted head's prior weight and fewest recordings): the
validation people, scored by the regressions fitted on the training people; or, cross-fitted, every person, each
group of people scored by the regressions fitted without it (ten times the recordings of two validation actors).
Also the draw of the validation people."""

from __future__ import annotations

import dataclasses
import random
from typing import Any, Callable, Sequence

import numpy as np

from avemo.errors import ParameterError
from avemo.systems.av_adapted import people_groups, random_groups
from avemo.systems.av_logreg import fit_logreg, log_probs
from avemo.systems.inputs import Standardizer
from avemo.systems.person_stats import population_prior
from avemo.train.metrics import unweighted_accuracy


def pick_validation_speakers(recordings: Sequence[Any], n: int = 4, seed: int = 0) -> list[str]:
    """``n`` validation speakers drawn from ``recordings``' speakers, alternating genders when known."""
    from avemo.data.splits import _pick_validation

    speakers = sorted({r.speaker for r in recordings})
    if len(speakers) <= n:
        raise ParameterError(f"need more than {n} speakers to hold {n} out for validation, got {len(speakers)}")
    gender = {r.speaker: (r.attributes or {}).get("gender", "") for r in recordings}
    return _pick_validation(speakers, gender, n, random.Random(seed))


#: The key of the speech log-probabilities (the AU ones are keyed by their ``C``).
SPEECH_KEY = "speech"


@dataclasses.dataclass
class Regressions:
    """The speech regression and one AU regression per ``C``, with the standardisers of their inputs."""

    speech_scaler: Standardizer
    au_scaler: Standardizer
    speech_w: Any
    au_ws: dict[float, Any]

    def log_probs(self, xs: np.ndarray, xa: np.ndarray, rows: np.ndarray) -> dict[Any, np.ndarray]:
        """``{SPEECH_KEY: (len(rows), classes), C: ...}`` log-probabilities of ``rows`` (AUs of rows without a face:
        scored as zeros, as the system does)."""
        au = self.au_scaler.transform(np.nan_to_num(xa[rows]))
        return {SPEECH_KEY: log_probs(self.speech_scaler.transform(xs[rows]), *self.speech_w),
                **{C: log_probs(au, *w) for C, w in self.au_ws.items()}}


def fit_regressions(xs: np.ndarray, xa: np.ndarray, present: np.ndarray, y: np.ndarray, rows: np.ndarray,
                    n_classes: int, speech_C: float, Cs: Sequence[float], speech_fit: dict[str, Any],
                    au_fit: dict[str, Any], speech_copies: Sequence[np.ndarray] = ()) -> Regressions:
    """:class:`Regressions` fitted on ``rows`` of speech vectors ``xs`` and clip-mean AUs ``xa`` (the AU ones on the
    rows with a face, ``present``), labels ``y``; the speech regression (and its standardiser) also on the ``rows``
    of every copy in ``speech_copies`` (each ``(n, D)`` like ``xs``), with their recordings' labels."""
    face = rows[present[rows]]
    speech_x = np.concatenate([xs[rows], *(c[rows] for c in speech_copies)])
    speech_y = np.tile(y[rows], 1 + len(speech_copies))
    ss, sa = Standardizer().fit(speech_x), Standardizer().fit(xa[face])
    speech_w = fit_logreg(ss.transform(speech_x), speech_y, n_classes, speech_C, **speech_fit)
    au_x = sa.transform(np.nan_to_num(xa[face]))
    return Regressions(ss, sa, speech_w, {C: fit_logreg(au_x, y[face], n_classes, C, **au_fit) for C in Cs})


@dataclasses.dataclass
class Choice:
    """What the choices are made on: ``rows``, their log-probabilities (:meth:`Regressions.log_probs`), the
    regressions fitted on the training rows (``train_only``; ``None`` when cross-fitted without ``keep_train_only``:
    nothing uses them), and, cross-fitted, each group of people's rows (a mask
    over ``rows``) with the regressions fitted without them (``folds``; empty: ``rows`` are the validation rows).
    ``fused``: the calibrated fused probabilities of ``rows``, once the head has chosen."""

    rows: np.ndarray
    log_probs: dict[Any, np.ndarray]
    train_only: Regressions | None
    folds: list[tuple[np.ndarray, Regressions]]
    fused: np.ndarray | None = None

    @property
    def cross_fitted(self) -> bool:
        return bool(self.folds)


def choice_log_probs(fit: Callable[[np.ndarray], Regressions], xs: np.ndarray, xa: np.ndarray, tr: np.ndarray,
                     va: np.ndarray, people: np.ndarray | None, cross_fit: int, seed: int,
                     keep_train_only: bool = True) -> Choice:
    """The :class:`Choice` of a head (``fit(rows)`` fits its regressions): the rows ``va``, scored by the regressions
    fitted on ``tr``; with ``cross_fit`` groups (and ``people``, one name per row), every row of ``tr`` and ``va``,
    each group of people scored by the regressions fitted on the other groups (and the regressions fitted on ``tr``
    only with ``keep_train_only``)."""
    if not cross_fit or people is None:
        train_only = fit(tr)
        return Choice(va, train_only.log_probs(xs, xa, va), train_only, [])
    train_only = fit(tr) if keep_train_only else None
    rows = np.union1d(tr, va)
    out: dict[Any, np.ndarray] = {}
    folds = []
    for group in people_groups(people[rows], cross_fit, seed):
        held = np.isin(people[rows], group)
        folds.append((held, fit(rows[~held])))
        for key, value in folds[-1][1].log_probs(xs, xa, rows[held]).items():
            out.setdefault(key, np.zeros((len(rows), value.shape[1])))[held] = value
    return Choice(rows, out, train_only, folds)


def cross_fitted_adaptation_ua(adapted_proba: Callable[[Any, dict[str, Any]], np.ndarray], choice: Choice,
                               inputs: Any, y: np.ndarray, head: dict[str, Any], taus: Sequence[float],
                               sizes: Sequence[int], seed: int) -> dict[tuple[float, int], float]:
    """The UA of the adapted head, on every row the cross-fitted ``choice`` of that head was made on, for every prior
    weight of ``taus`` and people adapted from random groups of each of ``sizes`` recordings: each group of people
    scored by the regressions of its fold (fitted without it on per-person standardised features; ``head``'s ``C``,
    temperatures and weights) with the other groups' statistics as the prior. ``adapted_proba(inputs, head)``: the
    fused probabilities of a head (:class:`~avemo.systems.av_fusion.AVLateFusionSystem`'s adapted scoring)."""
    rows = choice.rows
    preds = {(tau, size): np.zeros(len(rows), np.int64) for tau in taus for size in sizes}
    for held, reg in choice.folds:
        raw = inputs.take(rows[~held])
        fitted = {**head, "speech_scaler": reg.speech_scaler, "au_scaler": reg.au_scaler, "speech_w": reg.speech_w,
                  "au_w": reg.au_ws[head["au_C"]], "min_recordings": 2,
                  "priors": {"speech": population_prior(raw.speech, raw.person),
                             "action_units": population_prior(raw.au, raw.person, raw.au_present)}}
        part = inputs.take(rows[held])
        for k, size in enumerate(sizes):
            grouped = part.with_people(random_groups(part.person, size, seed + k))
            for tau in taus:
                preds[tau, size][held] = adapted_proba(grouped, {**fitted, "tau": tau}).argmax(1)
    return {key: unweighted_accuracy(y[rows], p) for key, p in preds.items()}
