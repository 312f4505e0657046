"""``GET /v1/schema``: the JSON Schema of a prediction result (what ``POST /v1/predict`` returns and ``avemo predict
--format json`` prints), generated from :mod:`avemo.inference.schema`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from avemo.inference.schema import result_json_schema

router = APIRouter()


@router.get("/v1/schema")
async def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one prediction result."""
    return result_json_schema()
