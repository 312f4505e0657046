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
