"""Audio in, windows out: the rolling buffer of a stream session (``avemo live``, the server's WebSocket, the web
demo)."""

from __future__ import annotations

import numpy as np

from avemo.errors import ParameterError
from avemo.inference.speech import MIN_DURATION


class SpeechWindows:
    """Audio in, windows out: keeps the last ``window`` seconds and cuts a window every ``step`` seconds (the first
    when ``window`` seconds have arrived); :meth:`flush` gives the last, shorter window at the end of the stream
    when it holds at least the speech model's minimum of audio not analysed yet."""

    def __init__(self, window: float, step: float) -> None:
        self.window, self.step = window, step
        self.sampling_rate: int | None = None
        self._buffer = np.zeros(0, np.float32)
        self._received = 0                  # samples so far
        self._next_end = window             # stream time at which the next window completes
        self._analysed_until = 0.0          # end of the last window cut

    @property
    def time(self) -> float:
        """Seconds of audio received."""
        return self._received / self.sampling_rate if self.sampling_rate else 0.0

    @property
    def earliest_start(self) -> float:
        """The earliest start (s) of a window still to come: the next one, or the last, shorter one of :meth:`flush`,
        which may start as early as the last window cut."""
        return max(0.0, self._next_end - self.step - self.window)

    def add(self, samples: np.ndarray, sampling_rate: int) -> list[tuple[float, float, np.ndarray]]:
        """Append a chunk; returns the ``(start, end, samples)`` windows it completed.

        Raises:
            ParameterError: when the sampling rate changes within the stream.
        """
        if self.sampling_rate is None:
            self.sampling_rate = int(sampling_rate)
        elif sampling_rate != self.sampling_rate:
            raise ParameterError(f"audio chunks changed sampling rate ({self.sampling_rate} -> {sampling_rate} Hz)")
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, np.float32).reshape(-1)])
        self._received += len(samples)
        out = []
        while self.time + 1e-9 >= self._next_end:
            out.append(self._cut(self._next_end - self.window, self._next_end))
            self._next_end += self.step
        self._buffer = self._buffer[-int(round(self.window * self.sampling_rate)):]
        return out

    def flush(self) -> tuple[float, float, np.ndarray] | None:
        """The last window, ending with the stream, or ``None`` when too little new audio is left."""
        if self.sampling_rate is None or self.time - self._analysed_until < MIN_DURATION:
            return None
        return self._cut(max(0.0, self.time - self.window), self.time)

    def _cut(self, start: float, end: float) -> tuple[float, float, np.ndarray]:
        buffer_start = self.time - len(self._buffer) / self.sampling_rate
        first = max(0, int(round((start - buffer_start) * self.sampling_rate)))
        last = int(round((end - buffer_start) * self.sampling_rate))
        self._analysed_until = end
        return start, end, self._buffer[first:last].copy()
