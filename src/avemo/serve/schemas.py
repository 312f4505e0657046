"""The service's own JSON (errors, health, models) as pydantic models for the OpenAPI schema; the prediction
results' models are the shared result schema, :mod:`avemo.inference.schema`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
