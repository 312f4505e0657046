"""``WS /v1/stream``: audio chunks and JPEG frames in, a result per completed window out (see
:mod:`avemo.serve.stream`)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from avemo.serve.dependencies import Engine, PredictionWorker
from avemo.serve.stream import stream_endpoint

router = APIRouter()


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket, engine: Engine, worker: PredictionWorker) -> None:
    await stream_endpoint(websocket, engine, worker)
