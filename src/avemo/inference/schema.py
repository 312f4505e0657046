"""The result schema every front end shares: pydantic models of the JSON the typed results' ``to_dict()`` gives
(:mod:`avemo.inference.results`), which ``avemo predict --format json`` prints and ``POST /v1/predict`` returns
(:class:`PredictionOut`), and of a batch results table's rows (:class:`BatchRow`: the same names for the same
fields). :func:`result_json_schema` is the JSON Schema published at ``GET /v1/schema``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from avemo.inference.results import PROBABILITY_PREFIX, Status
from avemo.modalities import Modality

__all__ = ["StatusName", "ModalityName", "SingleModalityName", "RowStatusName", "PROBABILITY_PREFIX", "EmotionFields",
           "SegmentOut", "FaceOut", "FrameOut", "FusionOut", "ModalityOut", "PredictionOut", "BatchRowWindow",
           "BatchRow", "result_json_schema"]

#: A result's ``status``: the values of :class:`~avemo.inference.results.Status`.
StatusName = Literal[tuple(status.value for status in Status)]
#: A result's ``modality``: one modality's name, or ``audio-visual`` for a fused result.
ModalityName = Literal[tuple(modality.value for modality in Modality)]
#: One modality's name (not ``audio-visual``).
SingleModalityName = Literal[tuple(modality.value for modality in Modality if modality is not Modality.AUDIO_VISUAL)]
#: A batch row's ``status``: a result's, or ``error`` for a file that failed.
RowStatusName = Literal[StatusName, "error"]


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


class ModalityOut(EmotionFields):
    status: StatusName
    message: str | None = None
    duration: float = Field(description="seconds")
    modality: SingleModalityName
    box: list[float] | None = None
    faces: list[FaceOut] | None = None
    timeline: list[SegmentOut] | None = None
    frames: list[FrameOut] | None = None


class PredictionOut(ModalityOut):
    """One input's result: one modality's, or (``modality`` audio-visual) the fused result of several."""

    path: str | None = Field(description="the uploaded file's name")
    modality: ModalityName
    modalities: dict[str, ModalityOut] | None = Field(None, description="each modality's own result (fused only)")
    fusion: FusionOut | None = None


class BatchRowWindow(_Strict):
    """One timeline window of a batch row: the top class and its probability."""

    start: float = Field(description="seconds from the start of the input")
    end: float
    emotion: str | None
    confidence: float = Field(description="probability of `emotion`")


class BatchRow(BaseModel):
    """One input's row in a batch results table (``avemo predict ... --output``): the fields of
    :class:`PredictionOut` under the same names, flattened; a ``p_<class>`` column per class instead of
    ``probabilities``; ``status`` ``error`` with ``error`` and ``error_type`` for a file that failed (its result
    fields are then null or absent)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "patternProperties": {f"^{PROBABILITY_PREFIX}": {"type": ["number", "null"],
                                                         "description": "a class's probability (null: no result)"}},
        "additionalProperties": False})
    path: str
    status: RowStatusName
    error: str = Field("", description="one line: why the file failed (empty when it worked)")
    error_type: str = Field("", description="the error's type, e.g. MediaDecodeError (empty when it worked)")
    emotion: str | None = None
    confidence: float | None = None
    speaker: str | None = Field(None, description="the speaker key's value (runs grouped by speaker)")
    valence: float | None = None
    arousal: float | None = None
    duration: float | None = Field(None, description="seconds")
    modality: ModalityName | None = None
    timeline: list[BatchRowWindow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _probability_columns(self) -> BatchRow:
        for name, value in (self.model_extra or {}).items():
            is_number = value is None or isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (name.startswith(PROBABILITY_PREFIX) and is_number):
                raise ValueError(f"column {name!r}: a batch row's other columns are {PROBABILITY_PREFIX}<class> "
                                 "probabilities")
        return self


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one prediction result, :class:`PredictionOut`."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **PredictionOut.model_json_schema()}
