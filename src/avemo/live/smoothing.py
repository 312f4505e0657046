"""Exponential smoothing of class probabilities over stream time."""

from __future__ import annotations

import math
from typing import Mapping

from avemo.errors import ParameterError


class ExponentialSmoother:
    """Smooth a distribution over time: ``s = a * s_prev + (1 - a) * p`` with ``a = exp(-dt / time_constant)``,
    ``dt`` the seconds since the previous update, so the smoothing is the same at any update rate (30 frames/s
    or one speech window per second). ``time_constant`` 0 means no smoothing; the first update (and the first
    after :meth:`reset`) is taken as is. A convex mix of distributions stays a distribution.

    Raises:
        ParameterError: for a negative or non-finite time constant.
    """

    def __init__(self, time_constant: float) -> None:
        if not (math.isfinite(time_constant) and time_constant >= 0):
            raise ParameterError(f"smoothing must be a time constant >= 0 seconds (0 = none), got {time_constant}")
        self.time_constant = float(time_constant)
        self.value: dict[str, float] | None = None
        self.time: float | None = None

    def weight(self, dt: float) -> float:
        """The weight ``a`` kept of the previous value after ``dt`` seconds."""
        if self.time_constant == 0:
            return 0.0
        return math.exp(-max(dt, 0.0) / self.time_constant)

    def update(self, time: float, probabilities: Mapping[str, float]) -> dict[str, float]:
        """The smoothed distribution after ``probabilities`` observed at ``time`` seconds."""
        if self.value is None or self.time is None:
            smoothed = {c: float(p) for c, p in probabilities.items()}
        else:
            a = self.weight(time - self.time)
            smoothed = {c: a * self.value.get(c, 0.0) + (1 - a) * float(p) for c, p in probabilities.items()}
        self.value, self.time = smoothed, time
        return smoothed

    def reset(self) -> None:
        self.value = self.time = None
