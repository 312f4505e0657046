"""What a prediction returns: the whole-input result plus, for long inputs, a timeline of windows."""

from __future__ import annotations

import dataclasses
from typing import Any

from avemo.labels import valence_arousal


@dataclasses.dataclass
class Segment:
    """Emotion probabilities of one window, times in seconds from the start of the input."""

    start: float
    end: float
    probabilities: dict[str, float]

    @property
    def emotion(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "emotion": self.emotion,
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}


@dataclasses.dataclass
class PredictionResult:
    """Emotion of one input.

    ``status`` is ``"ok"``, or ``"silence"`` when the input holds no audible speech (then ``emotion`` is None
    and ``probabilities`` is empty). ``valence`` and ``arousal`` are in [-1, 1] (see :mod:`avemo.labels`).
    """

    path: str | None
    emotion: str | None
    probabilities: dict[str, float]
    duration: float
    timeline: list[Segment] = dataclasses.field(default_factory=list)
    status: str = "ok"
    message: str = ""
    modality: str = "speech"

    @property
    def confidence(self) -> float:
        return max(self.probabilities.values()) if self.probabilities else 0.0

    @property
    def valence_arousal(self) -> tuple[float, float] | None:
        return valence_arousal(self.probabilities) if self.probabilities else None

    def to_dict(self) -> dict[str, Any]:
        va = self.valence_arousal
        out = {"path": self.path, "status": self.status, "emotion": self.emotion,
               "confidence": round(self.confidence, 4),
               "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
               "valence": None if va is None else round(va[0], 4),
               "arousal": None if va is None else round(va[1], 4),
               "duration": round(self.duration, 3), "modality": self.modality}
        if self.message:
            out["message"] = self.message
        if self.timeline:
            out["timeline"] = [s.to_dict() for s in self.timeline]
        return out
