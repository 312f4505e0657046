"""What a prediction returns: the whole-input result plus, for long inputs, a timeline of windows; for faces
the result of every face (box, track) and, for videos, the per-frame timeline; for audio-visual input the
result of each modality next to the fused one."""

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


def _rounded(probabilities: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in probabilities.items()}


def _emotion_fields(probabilities: dict[str, float]) -> dict[str, Any]:
    if not probabilities:
        return {"emotion": None, "confidence": 0.0, "probabilities": {}, "valence": None, "arousal": None}
    va = valence_arousal(probabilities)
    top = max(probabilities, key=probabilities.get)
    return {"emotion": top, "confidence": round(float(probabilities[top]), 4), "probabilities": _rounded(probabilities),
            "valence": round(va[0], 4), "arousal": round(va[1], 4)}


@dataclasses.dataclass
class FaceResult:
    """Emotion of one face: ``box`` ``(x0, y0, x1, y1)`` in pixels of the input (for a video, the box in the
    last frame the face was seen); ``track_id`` follows the face across video frames; ``frames`` is how many
    frames were pooled (1 for an image)."""

    box: tuple[float, float, float, float]
    probabilities: dict[str, float]
    track_id: int | None = None
    frames: int = 1
    first_seen: float | None = None
    last_seen: float | None = None

    @property
    def emotion(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"box": [round(float(v), 1) for v in self.box], **_emotion_fields(self.probabilities)}
        if self.track_id is not None:
            out.update(track_id=self.track_id, frames=self.frames, first_seen=self.first_seen,
                       last_seen=self.last_seen)
        return out


@dataclasses.dataclass
class FrameResult:
    """The faces of one video frame at ``time`` seconds."""

    time: float
    faces: list[FaceResult]

    def to_dict(self) -> dict[str, Any]:
        return {"time": round(self.time, 3), "faces": [f.to_dict() for f in self.faces]}


@dataclasses.dataclass
class PredictionResult:
    """Emotion of one input.

    ``status`` is ``"ok"``, ``"silence"`` when the input holds no audible speech or ``"no_face"`` when an
    image or video shows no face (then ``emotion`` is None and ``probabilities`` is empty). ``valence`` and
    ``arousal`` are in [-1, 1] (see :mod:`avemo.labels`). ``modality`` is ``"speech"``, ``"face"`` or
    ``"audio-visual"``. Face results list every face in ``faces`` (the main face, the largest or the longest
    tracked, gives ``emotion``/``probabilities``/``box``) and, for videos, ``frames``; audio-visual results keep
    each modality's own result in ``modalities``.
    """

    path: str | None
    emotion: str | None
    probabilities: dict[str, float]
    duration: float
    timeline: list[Segment] = dataclasses.field(default_factory=list)
    status: str = "ok"
    message: str = ""
    modality: str = "speech"
    faces: list[FaceResult] = dataclasses.field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    frames: list[FrameResult] = dataclasses.field(default_factory=list)
    modalities: dict[str, "PredictionResult"] = dataclasses.field(default_factory=dict)
    fusion: dict[str, Any] = dataclasses.field(default_factory=dict)

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
        if self.box is not None:
            out["box"] = [round(float(v), 1) for v in self.box]
        if self.faces or self.modality == "face":
            out["faces"] = [f.to_dict() for f in self.faces]
        if self.timeline:
            out["timeline"] = [s.to_dict() for s in self.timeline]
        if self.frames:
            out["frames"] = [f.to_dict() for f in self.frames]
        if self.modalities:
            out["modalities"] = {k: {kk: vv for kk, vv in v.to_dict().items() if kk != "path"}
                                 for k, v in self.modalities.items()}
        if self.fusion:
            out["fusion"] = self.fusion
        return out
