"""``GET /v1/models``: the loaded models (classes, preprocessing, fusion)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from avemo.serve.dependencies import Engine
from avemo.serve.schemas import ModelsOut

router = APIRouter()


@router.get("/v1/models", response_model=ModelsOut)
async def models(engine: Engine) -> dict[str, Any]:
    return engine.describe()
