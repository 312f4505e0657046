"""Which time spans of a speech signal mattered: occlusion.

Each window of the signal in turn is replaced by silence (or faint seeded noise) and the signal predicted again
with the same system; a window's importance is how much the predicted class's probability dropped (negative: the
window argued against the class). Model-agnostic, so it explains any speech system the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from avemo.errors import ParameterError
from avemo.inference.sliding import window_bounds
from avemo.inference.speech import SILENCE_DB, is_silent

#: ``signals (each (samples,) at the signal's rate) -> (n,)`` probability of the class being explained.
ScoreFunction = Callable[[list[np.ndarray]], np.ndarray]


@dataclasses.dataclass(frozen=True)
class SpanImportance:
    """One occluded window: ``start``, ``end`` in seconds; ``importance`` = probability of the explained class
    with the whole signal minus with this window occluded; ``silent``: the window held no audible sound, so it
    was not re-predicted (importance 0)."""

    start: float
    end: float
    importance: float
    silent: bool = False

    def to_dict(self) -> dict[str, float | bool]:
        out: dict[str, float | bool] = {"start": round(self.start, 3), "end": round(self.end, 3),
                                        "importance": round(self.importance, 5)}
        if self.silent:
            out["silent"] = True
        return out


def occlude(signal: np.ndarray, start: int, end: int, fill_db: float | None = None, seed: int = 0) -> np.ndarray:
    """A copy of ``signal`` with samples ``start:end`` replaced by silence (``fill_db=None``) or by seeded white
    noise of ``fill_db`` dBFS RMS."""
    out = np.array(signal, dtype=np.float32, copy=True)
    if fill_db is None:
        out[start:end] = 0.0
        return out
    noise = np.random.default_rng(seed).standard_normal(max(end - start, 0)).astype(np.float32)
    out[start:end] = noise * np.float32(10 ** (fill_db / 20))
    return out


def occlusion_spans(signal: np.ndarray, sampling_rate: int, score: ScoreFunction, window: float, hop: float,
                    fill_db: float | None = None, silence_db: float = SILENCE_DB,
                    base: float | None = None) -> tuple[float, list[SpanImportance]]:
    """The importance of every ``window``-second span (hop ``hop`` s) of a mono ``signal`` ``(samples,)``.

    Args:
        score: the probability of the explained class for each of a list of signals (one prediction each).
        fill_db: ``None``: an occluded span is replaced by silence (zeros); a level in dBFS: by seeded white noise
            of that RMS level.
        silence_db: spans whose loudest 25 ms frame is below this level are not re-predicted (importance 0).
        base: the score of the whole signal when the caller has it already.

    Returns:
        ``(score of the whole signal, spans in time order)``.

    Raises:
        ParameterError: for an empty signal, a bad rate, or a bad window or hop.
    """
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1 or len(signal) == 0:
        raise ParameterError(f"occlusion needs a non-empty mono signal (samples,), got shape {signal.shape}")
    if sampling_rate <= 0:
        raise ParameterError(f"sampling_rate must be > 0 Hz, got {sampling_rate}")
    bounds = window_bounds(len(signal) / sampling_rate, window, hop)
    if base is None:
        base = float(np.asarray(score([signal]))[0])
    pieces, loud = [], []
    for k, (start, end) in enumerate(bounds):
        a, b = int(round(start * sampling_rate)), int(round(end * sampling_rate))
        if is_silent(signal[a:b], silence_db, sampling_rate):
            continue
        loud.append(k)
        pieces.append(occlude(signal, a, b, fill_db, seed=k))
    scores = np.asarray(score(pieces), dtype=np.float64).reshape(-1) if pieces else np.zeros(0)
    importance = dict(zip(loud, base - scores))
    spans = [SpanImportance(float(s), float(e), float(importance.get(k, 0.0)), k not in importance)
             for k, (s, e) in enumerate(bounds)]
    return base, spans


def importance_curve(spans: list[SpanImportance], duration: float, resolution: float = 0.01
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(times, importance)`` sampled every ``resolution`` seconds: at each time the mean importance of the spans
    covering it (0 where none does), for plotting."""
    times = np.arange(0.0, max(duration, resolution), resolution)
    total, count = np.zeros_like(times), np.zeros_like(times)
    for span in spans:
        inside = (times >= span.start) & (times < span.end)
        total[inside] += span.importance
        count[inside] += 1
    return times, np.divide(total, count, out=np.zeros_like(total), where=count > 0)
