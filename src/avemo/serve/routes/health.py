"""``GET /v1/health``: whether the models are loaded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from avemo.serve.schemas import HealthOut

router = APIRouter()


@router.get("/v1/health", response_model=HealthOut)
async def health(request: Request) -> dict[str, Any]:
    engine = getattr(request.app.state, "engine", None)
    return {"status": "ok" if engine else "starting", "models_loaded": engine is not None,
            "modalities": list(engine.modalities) if engine else []}
