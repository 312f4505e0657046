"""avemo behind HTTP: a FastAPI app over one :class:`~avemo.inference.engine.InferenceEngine`.

- ``POST /v1/predict``: a multipart upload, ``file`` (audio, an image or a video) or ``image`` + ``audio`` (a
  photo and a voice recording of one person, fused); options as query parameters (``modality``, ``fps``,
  ``window``, ``step``). The JSON is what ``avemo predict --format json`` prints.
- ``GET /v1/health``, ``GET /v1/models``, and the OpenAPI schema at ``/openapi.json`` (docs at ``/docs``).
- ``WS /v1/stream``: audio chunks and JPEG frames in, a result per completed window out (see :mod:`.stream`).

Behaviour under load: the models load once at start-up; predictions run in a bounded thread pool, off the event
loop; beyond ``max_concurrent`` requests in the pool or waiting for it, a request gets 503 with ``Retry-After``;
each request has a time limit (504); uploads are limited while the body streams in (413); uploaded files live
in a temporary folder removed when the request ends. Every error is JSON ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, Query, Request, UploadFile, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from avemo import __version__
from avemo.errors import AudioTooShortError, AvemoError, MediaDecodeError, ParameterError
from avemo.inference.engine import AUDIO_SUFFIXES, InferenceEngine, PredictOptions
from avemo.inference.face import IMAGE_SUFFIXES
from avemo.serve.limits import BodyLimitMiddleware, BodyTooLarge
from avemo.serve.schemas import ErrorOut, HealthOut, ModelsOut, PredictionOut

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v"}
MEDIA_SUFFIXES = AUDIO_SUFFIXES | IMAGE_SUFFIXES | VIDEO_SUFFIXES
#: Content types accepted without a known file suffix, and the suffix the upload is stored with.
CONTENT_SUFFIX = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/flac": ".flac",
                  "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/webm": ".webm",
                  "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/bmp": ".bmp",
                  "video/mp4": ".mp4", "video/webm": ".webm", "video/x-matroska": ".mkv", "video/quicktime": ".mov"}


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


class ServiceError(Exception):
    """An error the service answers with ``status`` and ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": " ".join(str(message).split())}}, status_code=status,
                        headers=headers)


def avemo_error_status(exc: AvemoError) -> tuple[int, str]:
    """The HTTP status and code of an error avemo raised while predicting."""
    if isinstance(exc, AudioTooShortError):
        return 422, "too_short"
    if isinstance(exc, MediaDecodeError):
        return 422, "undecodable"
    if isinstance(exc, ParameterError):
        return 422, "invalid_request"
    return 422, "unprocessable"


class Worker:
    """The bounded pool that runs predictions, with admission control: at most ``max_concurrent`` requests
    running or waiting; beyond that :meth:`run` raises a 503 at once."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.pool = ThreadPoolExecutor(settings.threads, thread_name_prefix="avemo-predict")
        self._admitted = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def admit(self):
        with self._lock:
            if self._admitted >= self.settings.max_concurrent:
                retry = max(1, round(self._admitted / max(self.settings.threads, 1)))
                raise ServiceError(503, "busy", f"the server is busy ({self._admitted} requests in progress); "
                                   f"retry after {retry} s", {"Retry-After": str(retry)})
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` in the pool (after admission) within the time limit."""
        with self.admit():
            future = asyncio.get_running_loop().run_in_executor(self.pool, function, *args)
            try:
                return await asyncio.wait_for(future, self.settings.timeout)
            except asyncio.TimeoutError:
                raise ServiceError(504, "timeout", f"the prediction took longer than {self.settings.timeout:g} s; "
                                   "send a shorter file or raise the server's --timeout") from None

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def upload_suffix(upload: UploadFile, field: str) -> str:
    """The file suffix an upload is stored with, from its name or content type.

    Raises:
        ServiceError: 415 when neither says it is audio, an image or a video.
    """
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix in MEDIA_SUFFIXES:
        return suffix
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if content_type in CONTENT_SUFFIX:
        return CONTENT_SUFFIX[content_type]
    raise ServiceError(415, "unsupported_media_type",
                       f"{field}: {upload.filename or 'the upload'} ({content_type or 'no content type'}) is not "
                       f"audio, an image or a video; send one of {sorted(MEDIA_SUFFIXES)} with its content type")


async def save_upload(upload: UploadFile, folder: Path, field: str) -> Path:
    """Write an upload into ``folder`` (which the request removes when it ends).

    Raises:
        ServiceError: 415 for an unsupported type, 422 for an empty file.
    """
    path = folder / f"{field}{upload_suffix(upload, field)}"
    size = 0
    with open(path, "wb") as out:
        while chunk := await upload.read(1 << 20):
            out.write(chunk)
            size += len(chunk)
    if size == 0:
        raise ServiceError(422, "empty", f"{field}: the uploaded file is empty; send the file's bytes")
    return path


def create_app(settings: ServeSettings = ServeSettings(),
               engine_factory: Callable[[ServeSettings], InferenceEngine] | None = None) -> FastAPI:
    """The FastAPI app; the engine is built at start-up by ``engine_factory`` (default: both shipped models)."""
    from avemo.serve.stream import stream_endpoint

    def default_engine(s: ServeSettings) -> InferenceEngine:
        return InferenceEngine(s.speech_model, s.face_model)

    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        import torch
        from threadpoolctl import threadpool_limits

        # parallelism comes from the pool's threads: torch and BLAS (numpy's mel filter banks) one thread each, as
        # in batch workers (idle BLAS threads spin: every request would hold both cores)
        torch.set_num_threads(1)
        with threadpool_limits(limits=1, user_api="blas"):  # given back (and released) when the app stops
            state["engine"] = await asyncio.to_thread(engine_factory or default_engine, settings)
            state["worker"] = Worker(settings)
            app.state.engine, app.state.worker = state["engine"], state["worker"]
            yield
            state["worker"].close()
            state["engine"].close()

    app = FastAPI(title="avemo", version=__version__, lifespan=lifespan,
                  description="Emotion recognition from speech, faces and both. Errors are JSON "
                              '`{"error": {"code", "message"}}`.')
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes, paths=("/v1/predict",))
    errors = {status: {"model": ErrorOut} for status in (400, 413, 415, 422, 503, 504)}

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
        return error_response(422, "invalid_request", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        log.exception("internal error on %s", request.url.path)
        return error_response(500, "internal", f"internal error ({type(exc).__name__}); the server keeps running")

    @app.get("/v1/health", response_model=HealthOut)
    async def health() -> dict[str, Any]:
        engine = state.get("engine")
        return {"status": "ok" if engine else "starting", "models_loaded": engine is not None,
                "modalities": list(engine.modalities) if engine else []}

    @app.get("/v1/models", response_model=ModelsOut)
    async def models() -> dict[str, Any]:
        return state["engine"].describe()

    @app.post("/v1/predict", response_model=PredictionOut, responses=errors)
    async def predict(request: Request,
                      modality: str = Query("auto", description="auto | speech | face"),
                      fps: float | None = Query(None, gt=0, description="video frames analysed per second"),
                      window: float = Query(4.0, gt=0, description="speech timeline window, seconds"),
                      step: float = Query(2.0, gt=0, description="speech timeline hop, seconds")) -> JSONResponse:
        """Emotion of an uploaded file (field ``file``), or of a photo and a voice recording together (fields
        ``image`` and ``audio``)."""
        try:
            options = PredictOptions(modality, fps, window, step)
        except ParameterError as exc:
            raise ServiceError(400, "invalid_request", str(exc)) from None
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise ServiceError(415, "unsupported_media_type", "send the media as multipart/form-data with a `file` "
                               "field (or `image` and `audio`), e.g. curl -F file=@clip.wav")
        folder = Path(tempfile.mkdtemp(prefix="avemo-upload-"))
        form = None
        try:
            try:
                form = await request.form(max_files=2, max_fields=10)
            except BodyTooLarge:
                raise  # answered 413 by the middleware
            except Exception as exc:  # a malformed multipart body
                raise ServiceError(400, "bad_multipart", f"unreadable multipart body ({type(exc).__name__}); send "
                                   "the media as multipart/form-data") from None
            uploads = {k: v for k, v in form.items() if hasattr(v, "read")}
            engine: InferenceEngine = state["engine"]
            worker: Worker = state["worker"]
            if "file" in uploads and not ({"image", "audio"} & set(uploads)):
                path = await save_upload(uploads["file"], folder, "file")
                name = uploads["file"].filename or path.name
                result = await worker.run(_predict_file, engine, path, options, name)
            elif {"image", "audio"} <= set(uploads) and "file" not in uploads:
                image = await save_upload(uploads["image"], folder, "image")
                audio = await save_upload(uploads["audio"], folder, "audio")
                name = uploads["image"].filename or image.name
                result = await worker.run(_predict_pair, engine, image, audio, options, name)
            else:
                raise ServiceError(422, "missing_file", "send one multipart file field `file` (audio, image or "
                                   "video), or two: `image` and `audio`")
            return JSONResponse(result)
        finally:
            if form is not None:
                await form.close()
            shutil.rmtree(folder, ignore_errors=True)

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        await stream_endpoint(websocket, state["engine"], state["worker"])

    return app


def _predict_file(engine: InferenceEngine, path: Path, options: PredictOptions, name: str) -> dict[str, Any]:
    try:
        result = engine.predict_file(path, options, name=name)
    except AvemoError as exc:
        status, code = avemo_error_status(exc)
        raise ServiceError(status, code, str(exc).replace(str(path), name)) from None
    return result.to_dict()


def _predict_pair(engine: InferenceEngine, image: Path, audio: Path, options: PredictOptions,
                  name: str) -> dict[str, Any]:
    try:
        result = engine.predict_image_and_audio_files(image, audio, options, name)
    except AvemoError as exc:
        status, code = avemo_error_status(exc)
        raise ServiceError(status, code, str(exc).replace(str(image), "image").replace(str(audio), "audio")) from None
    return result.to_dict()
