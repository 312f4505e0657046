"""avemo behind HTTP: a FastAPI app over one :class:`~avemo.inference.engine.InferenceEngine`.

- ``POST /v1/predict``: a multipart upload, ``file`` (audio, an image or a video) or ``image`` + ``audio`` (a
  photo and a voice recording of one person, fused); options as query parameters (``modality``, ``fps``,
  ``window``, ``step``). The JSON is what ``avemo predict --format json`` prints.
- ``GET /v1/health``, ``GET /v1/models``, ``GET /v1/schema`` (the JSON Schema of a result, shared by every front
  end: :mod:`avemo.inference.schema`), and the OpenAPI schema at ``/openapi.json`` (docs at ``/docs``).
- ``WS /v1/stream``: audio chunks and JPEG frames in, a result per completed window out (see :mod:`.stream`).

Each endpoint is a router in :mod:`avemo.serve.routes`; the engine and the worker pool live in ``app.state``
(reached through :mod:`avemo.serve.dependencies`).

Behaviour under load: the models load once at start-up; predictions run in a bounded thread pool, off the event
loop; beyond ``max_concurrent`` requests in the pool or waiting for it, a request gets 503 with ``Retry-After``;
each request has a time limit (504); uploads are limited while the body streams in (413); uploaded files live
in a temporary folder removed when the request ends. Every error is JSON ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from typing import Callable

from fastapi import FastAPI

from avemo import __version__
from avemo.errors import ParameterError
from avemo.inference.engine import InferenceEngine
from avemo.serve.errors import add_error_handlers
from avemo.serve.limits import BodyLimitMiddleware
from avemo.serve.routes import health, models, predict, schema, stream
from avemo.serve.worker import Worker


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    """How the service runs: the models, the pool, the limits (see ``avemo serve --help``).

    Raises:
        ParameterError: for a non-positive limit.
    """

    speech_model: str | None = None
    face_model: str | None = None
    max_upload_mb: float = 50.0
    timeout: float = 60.0
    max_concurrent: int = 16
    threads: int = max(1, os.cpu_count() or 1)

    def __post_init__(self) -> None:
        for name in ("max_upload_mb", "timeout", "max_concurrent", "threads"):
            if not getattr(self, name) > 0:
                raise ParameterError(f"{name} must be > 0, got {getattr(self, name)!r}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def default_engine(settings: ServeSettings) -> InferenceEngine:
    """The engine over the settings' models (default: both shipped models)."""
    return InferenceEngine(settings.speech_model, settings.face_model)


def create_app(settings: ServeSettings = ServeSettings(),
               engine_factory: Callable[[ServeSettings], InferenceEngine] = default_engine) -> FastAPI:
    """The FastAPI app; the engine is built at start-up by ``engine_factory`` (default: both shipped models)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        import torch
        from threadpoolctl import threadpool_limits

        # parallelism comes from the pool's threads: torch and BLAS (numpy's mel filter banks) one thread each, as
        # in batch workers (idle BLAS threads spin: every request would hold both cores)
        torch.set_num_threads(1)
        with threadpool_limits(limits=1, user_api="blas"):  # given back (and released) when the app stops
            app.state.engine = await asyncio.to_thread(engine_factory, settings)
            app.state.worker = Worker(settings)
            yield
            app.state.worker.close()
            app.state.engine.close()

    app = FastAPI(title="avemo", version=__version__, lifespan=lifespan,
                  description="Emotion recognition from speech, faces and both. Errors are JSON "
                              '`{"error": {"code", "message"}}`.')
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes, paths=("/v1/predict",))
    add_error_handlers(app)
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(predict.router)
    app.include_router(schema.router)
    app.include_router(stream.router)
    return app
