"""Typed results, one type per level: a face (:class:`FaceResult`), a video frame (:class:`FrameResult`), one
modality of one input (:class:`ModalityResult`) and the fused result of several (:class:`FusedResult`), with a
:class:`Timeline` of window times x class probabilities. ``to_dict()`` gives the JSON that ``avemo predict
--format json`` prints (and the REST service returns)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any, Iterator, Sequence

import numpy as np

from avemo.labels import valence_arousal
from avemo.modalities import Modality

__all__ = ["Modality", "Status", "PREDICTED", "Segment", "Timeline", "FaceResult", "FrameResult", "ModalityResult",
           "FusionInfo", "FusedResult", "PredictionResult", "PROBABILITY_PREFIX"]


#: The prefix of a batch table's probability columns, ``p_<class>`` (:mod:`avemo.inference.schema`).
PROBABILITY_PREFIX = "p_"


class Status(enum.StrEnum):
    """Outcome of one prediction; compares equal to its string value (``result.status == "ok"``)."""

    OK = "ok"
    SILENCE = "silence"            # no audible speech
    NO_FACE = "no_face"            # an image or video without a face
    TOO_SHORT = "too_short"        # audio shorter than the speech model's minimum
    UNAVAILABLE = "unavailable"    # a modality that could not be read (no audio stream, bad file, not given)
    NO_SIGNAL = "no_signal"        # fused: no modality was usable
    UNCERTAIN = "uncertain"        # a distribution whose top probability is below the model's abstention level


#: The statuses that come with a class distribution (``emotion``, ``probabilities``): a confident answer and an
#: uncertain one (the best guess, below the level where the model abstains).
PREDICTED = (Status.OK, Status.UNCERTAIN)


def _rounded(probabilities: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in probabilities.items()}


def _top(probabilities: Mapping[str, float]) -> str | None:
    return max(probabilities, key=probabilities.get) if probabilities else None


def _emotion_fields(probabilities: Mapping[str, float]) -> dict[str, Any]:
    """``emotion``, ``confidence``, ``probabilities``, ``valence``, ``arousal`` of a distribution, rounded."""
    if not probabilities:
        return {"emotion": None, "confidence": 0.0, "probabilities": {}, "valence": None, "arousal": None}
    valence, arousal = valence_arousal(dict(probabilities))
    top = _top(probabilities)
    return {"emotion": top, "confidence": round(float(probabilities[top]), 4),
            "probabilities": _rounded(probabilities), "valence": round(valence, 4), "arousal": round(arousal, 4)}


@dataclasses.dataclass(frozen=True)
class Segment:
    """Emotion probabilities of one window, times in seconds from the start of the input."""

    start: float
    end: float
    probabilities: dict[str, float]

    @property
    def emotion(self) -> str:
        return _top(self.probabilities)

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "emotion": self.emotion,
                "probabilities": _rounded(self.probabilities)}


class Timeline(Sequence[Segment]):
    """Windows of an input: ``starts``, ``ends`` ``(n,)`` in seconds and ``probabilities`` ``(n, len(classes))``.

    A sequence of :class:`Segment` (``timeline[-1].end``, ``for segment in timeline``); empty for inputs shorter
    than one window. Equal to a list of the same segments.
    """

    def __init__(self, classes: Sequence[str] = (), starts: Sequence[float] = (), ends: Sequence[float] = (),
                 probabilities: np.ndarray | Sequence[Sequence[float]] = ()) -> None:
        self.classes = tuple(classes)
        self.starts = np.asarray(starts, dtype=np.float64).reshape(-1)
        self.ends = np.asarray(ends, dtype=np.float64).reshape(-1)
        self.probabilities = np.asarray(probabilities, dtype=np.float64).reshape(len(self.starts), len(self.classes))

    @classmethod
    def from_segments(cls, classes: Sequence[str], segments: Sequence[Segment]) -> "Timeline":
        return cls(classes, [s.start for s in segments], [s.end for s in segments],
                   [[s.probabilities[c] for c in classes] for s in segments])

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        row = range(len(self))[index]
        return Segment(float(self.starts[row]), float(self.ends[row]),
                       {c: float(p) for c, p in zip(self.classes, self.probabilities[row])})

    def __iter__(self) -> Iterator[Segment]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Timeline, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Timeline({len(self)} windows, classes={list(self.classes)})"

    def mean(self) -> dict[str, float]:
        """The mean distribution over the windows."""
        return {c: float(p) for c, p in zip(self.classes, self.probabilities.mean(axis=0))}

    def to_list(self) -> list[dict[str, Any]]:
        return [segment.to_dict() for segment in self]


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
        return _top(self.probabilities)

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])

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
class _Result:
    """Fields every result has: the input, its outcome and the class distribution (empty unless ``status`` is
    ok or uncertain, :data:`PREDICTED`); ``valence`` and ``arousal`` in [-1, 1] come from the distribution (see
    :mod:`avemo.labels`)."""

    path: str | None
    probabilities: dict[str, float]
    duration: float
    status: Status = Status.OK
    message: str = ""
    timeline: Timeline = dataclasses.field(default_factory=Timeline)

    @property
    def emotion(self) -> str | None:
        return _top(self.probabilities)

    @property
    def confidence(self) -> float:
        return max(self.probabilities.values()) if self.probabilities else 0.0

    @property
    def valence_arousal(self) -> tuple[float, float] | None:
        return valence_arousal(self.probabilities) if self.probabilities else None

    def _head(self, modality: str) -> dict[str, Any]:
        fields = _emotion_fields(self.probabilities)
        out = {"path": self.path, "status": str(self.status), "emotion": fields["emotion"],
               "confidence": fields["confidence"], "probabilities": fields["probabilities"],
               "valence": fields["valence"], "arousal": fields["arousal"], "duration": round(self.duration, 3),
               "modality": modality}
        if self.message:
            out["message"] = self.message
        return out


@dataclasses.dataclass
class ModalityResult(_Result):
    """The result of one modality (``speech``, ``face`` or ``action_units``) for one input.

    Face results list every face in ``faces`` (the main face, the largest or the longest tracked, gives
    ``probabilities`` and ``box``) and, for videos, the per-frame results in ``frames``.
    """

    modality: Modality = Modality.SPEECH
    faces: list[FaceResult] = dataclasses.field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    frames: list[FrameResult] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = self._head(str(self.modality))
        if self.box is not None:
            out["box"] = [round(float(v), 1) for v in self.box]
        if self.faces or self.modality == Modality.FACE:
            out["faces"] = [f.to_dict() for f in self.faces]
        if self.timeline:
            out["timeline"] = self.timeline.to_list()
        if self.frames:
            out["frames"] = [f.to_dict() for f in self.frames]
        return out


@dataclasses.dataclass(frozen=True)
class FusionInfo(Mapping):
    """How a fused result was made; also readable as a mapping (``fusion["used"]``), as it is printed.

    ``details`` holds what a particular fusion adds (e.g. the model name, how the action units were read).
    """

    method: str
    label_set: str
    weights: dict[str, float]
    temperatures: dict[str, float]
    used: list[str]
    note: str = ""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "label_set": self.label_set, "weights": dict(self.weights),
                               "temperatures": dict(self.temperatures), "used": list(self.used), **self.details}
        if self.note:
            out["note"] = self.note
        return out

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


@dataclasses.dataclass
class FusedResult(_Result):
    """The fused result of several modalities of one input; ``modalities`` keeps each one's own result (a
    modality that failed is there with its status and message), ``fusion`` says how they were combined. For a
    video the main face's ``faces`` and ``box`` are repeated here."""

    modalities: dict[str, ModalityResult] = dataclasses.field(default_factory=dict)
    fusion: FusionInfo | None = None
    faces: list[FaceResult] = dataclasses.field(default_factory=list)
    box: tuple[float, float, float, float] | None = None

    modality = Modality.AUDIO_VISUAL

    def to_dict(self) -> dict[str, Any]:
        out = self._head(str(self.modality))
        if self.box is not None:
            out["box"] = [round(float(v), 1) for v in self.box]
        if self.faces:
            out["faces"] = [f.to_dict() for f in self.faces]
        if self.timeline:
            out["timeline"] = self.timeline.to_list()
        if self.modalities:
            out["modalities"] = {name: {k: v for k, v in result.to_dict().items() if k != "path"}
                                 for name, result in self.modalities.items()}
        if self.fusion is not None:
            out["fusion"] = self.fusion.to_dict()
        return out


#: What a prediction returns: one modality's result, or the fused result of several.
PredictionResult = ModalityResult | FusedResult
