"""The JSON the service returns, as pydantic models for the OpenAPI schema. They describe exactly what the typed
results' ``to_dict()`` gives (:mod:`avemo.inference.results`); a test checks real results against them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmotionFields(_Strict):
    emotion: str | None = Field(description="the most probable class (with status uncertain: the best guess); null "
                                            "unless status is ok or uncertain")
    confidence: float = Field(description="probability of `emotion` (0 when there is none)")
    probabilities: dict[str, float] = Field(description="every class's probability (empty unless status is ok or "
                                                        "uncertain)")
    valence: float | None = Field(description="in [-1, 1], from the probabilities (NRC VAD placement)")
    arousal: float | None = Field(description="in [-1, 1], from the probabilities")


class SegmentOut(_Strict):
    start: float = Field(description="seconds from the start of the input")
    end: float
    emotion: str
    probabilities: dict[str, float]


class FaceOut(EmotionFields):
    box: list[float] = Field(description="x0, y0, x1, y1 in pixels of the input")
    track_id: int | None = None
    frames: int | None = Field(None, description="frames the face was seen in (videos)")
    first_seen: float | None = None
    last_seen: float | None = None


class FrameOut(_Strict):
    time: float
    faces: list[FaceOut]


class FusionOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    method: str
    label_set: str
    weights: dict[str, float]
    temperatures: dict[str, float]
    used: list[str] = Field(description="the modalities that went into the fused result")
    note: str | None = Field(None, description="why a modality is missing")


Status = Literal["ok", "silence", "no_face", "too_short", "unavailable", "no_signal"]


class ModalityOut(EmotionFields):
    status: Status
    message: str | None = None
    duration: float = Field(description="seconds")
    modality: Literal["speech", "face", "action_units"]
    box: list[float] | None = None
    faces: list[FaceOut] | None = None
    timeline: list[SegmentOut] | None = None
    frames: list[FrameOut] | None = None


class PredictionOut(ModalityOut):
    """One input's result: one modality's, or (``modality`` audio-visual) the fused result of several."""

    path: str | None = Field(description="the uploaded file's name")
    modality: Literal["speech", "face", "action_units", "audio-visual"]
    modalities: dict[str, ModalityOut] | None = Field(None, description="each modality's own result (fused only)")
    fusion: FusionOut | None = None


class ErrorBody(_Strict):
    code: str = Field(description="machine-readable, e.g. too_large, unsupported_media_type, undecodable, busy")
    message: str = Field(description="one line: what was wrong and what to do")


class ErrorOut(_Strict):
    error: ErrorBody


class HealthOut(_Strict):
    status: Literal["ok", "starting"]
    models_loaded: bool
    modalities: list[str]


class ModelsOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    modalities: list[str]
    speech: dict[str, Any] | None = None
    face: dict[str, Any] | None = None
    fusion: dict[str, Any]
