"""What the endpoints share, loaded once at start-up and kept in ``app.state``: the engine and the worker pool.
Endpoints take them as parameters, ``engine: Engine, worker: PredictionWorker`` (FastAPI dependencies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from avemo.inference.engine import InferenceEngine
from avemo.serve.worker import Worker


def engine_of(connection: HTTPConnection) -> InferenceEngine:
    """The app's engine (a request or a WebSocket connection)."""
    return connection.app.state.engine


def worker_of(connection: HTTPConnection) -> Worker:
    """The app's bounded prediction pool."""
    return connection.app.state.worker


Engine = Annotated[InferenceEngine, Depends(engine_of)]
PredictionWorker = Annotated[Worker, Depends(worker_of)]
