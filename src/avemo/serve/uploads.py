"""Uploaded media: the file suffix an upload is stored with (from its name or content type), and writing it into
the request's temporary folder."""

from __future__ import annotations

from pathlib import Path

from fastapi import UploadFile

from avemo.io.files import INPUT_EXTENSIONS
from avemo.serve.errors import ServiceError

#: Content types accepted without a known file suffix, and the suffix the upload is stored with.
CONTENT_SUFFIX = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/flac": ".flac",
                  "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/webm": ".webm",
                  "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/bmp": ".bmp",
                  "video/mp4": ".mp4", "video/webm": ".webm", "video/x-matroska": ".mkv", "video/quicktime": ".mov"}


def upload_suffix(upload: UploadFile, field: str) -> str:
    """The file suffix an upload is stored with, from its name or content type.

    Raises:
        ServiceError: 415 when neither says it is audio, an image or a video.
    """
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix in INPUT_EXTENSIONS:
        return suffix
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if content_type in CONTENT_SUFFIX:
        return CONTENT_SUFFIX[content_type]
    raise ServiceError(415, "unsupported_media_type",
                       f"{field}: {upload.filename or 'the upload'} ({content_type or 'no content type'}) is not "
                       f"audio, an image or a video; send one of {sorted(INPUT_EXTENSIONS)} with its content type")


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
