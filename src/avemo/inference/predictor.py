"""What every predictor of the engine holds: a fitted system, its classes and the temperature its training fitted."""

from __future__ import annotations

from typing import Any


class SystemPredictor:
    """A fitted system held for prediction (stateless; shared by threads)."""

    def __init__(self, system: Any) -> None:
        self.system = system

    @property
    def classes(self) -> tuple[str, ...]:
        return self.system.classes

    @property
    def temperature(self) -> float:
        """The softmax temperature fitted on the system's validation data (1.0 when none was)."""
        return float(self.system.info.get("temperature", 1.0))

    def abstain_below(self, adapt: bool = False, adapt_for: str = "any") -> float | None:
        """The top probability under which the system's answer (``adapt``: its speaker-adapted head's, for
        ``adapt_for``) is reported as ``uncertain``, chosen on validation data by its training; None when the
        system has no such level."""
        level = getattr(self.system, "abstain_below", None)
        return level(adapt=adapt, adapt_for=adapt_for) if callable(level) else None
