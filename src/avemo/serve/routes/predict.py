"""``POST /v1/predict``: the emotion of an uploaded file, or of a photo and a voice recording together.

The media comes as multipart/form-data, ``file`` (audio, an image or a video) or ``image`` + ``audio``; the
options as query parameters. Uploads live in a temporary folder removed when the request ends; the prediction
runs in the worker pool (503 when it is full, 504 past the time limit).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from avemo.errors import AvemoError, ParameterError
from avemo.inference.engine import InferenceEngine, PredictOptions
from avemo.inference.schema import PredictionOut
from avemo.serve.dependencies import Engine, PredictionWorker
from avemo.serve.errors import ServiceError, avemo_error_status
from avemo.serve.limits import BodyTooLarge
from avemo.serve.schemas import ErrorOut
from avemo.serve.uploads import save_upload

router = APIRouter()
ERRORS = {status: {"model": ErrorOut} for status in (400, 413, 415, 422, 503, 504)}


@router.post("/v1/predict", response_model=PredictionOut, responses=ERRORS)
async def predict(request: Request, engine: Engine, worker: PredictionWorker,
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
