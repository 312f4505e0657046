"""Exponential smoothing of class probabilities over stream time: one distribution (a voice), or every tracked face
of a stream's frames."""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

from avemo.errors import ParameterError
from avemo.inference.results import FrameResult


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


class FaceSmoothers:
    """One :class:`ExponentialSmoother` per tracked face of a stream: :meth:`smooth` gives a frame whose faces
    carry their track's smoothed probabilities; a track not seen for ``forget`` seconds starts afresh."""

    def __init__(self, time_constant: float, forget: float = 2.0) -> None:
        ExponentialSmoother(time_constant)  # validates the time constant
        self.time_constant, self.forget = time_constant, forget
        self._tracks: dict[int, ExponentialSmoother] = {}

    def smooth(self, frame: FrameResult) -> FrameResult:
        """``frame`` with each face's probabilities smoothed over its track (a face without a track id shares
        one smoother)."""
        faces = []
        for face in frame.faces:
            key = face.track_id if face.track_id is not None else -1
            smoother = self._tracks.setdefault(key, ExponentialSmoother(self.time_constant))
            faces.append(dataclasses.replace(face, probabilities=smoother.update(frame.time, face.probabilities)))
        self._tracks = {k: s for k, s in self._tracks.items()
                        if s.time is not None and frame.time - s.time <= self.forget}
        return FrameResult(frame.time, faces)
