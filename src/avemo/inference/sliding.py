"""Sliding windows over a signal: explicit ``duration`` and ``step`` in seconds, the last window flush with the end."""

from __future__ import annotations

from avemo.errors import ParameterError


def window_bounds(total: float, duration: float, step: float) -> list[tuple[float, float]]:
    """``(start, end)`` pairs in seconds covering ``[0, total]``; one window when ``total <= duration``.

    Raises:
        ParameterError: if ``duration`` or ``step`` is not positive or ``step > duration`` (gaps between windows).
    """
    if duration <= 0 or step <= 0:
        raise ParameterError(f"window duration and step must be positive, got {duration} and {step}")
    if step > duration:
        raise ParameterError(f"window step ({step} s) is larger than its duration ({duration} s): parts of the "
                             "audio would never be seen; use step <= duration")
    if total <= duration:
        return [(0.0, total)]
    bounds, start = [], 0.0
    while start + duration < total - 1e-9:
        bounds.append((start, start + duration))
        start += step
    bounds.append((max(total - duration, 0.0), total))
    return bounds
