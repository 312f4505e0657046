"""The file suffixes of each kind of media, the checks every media reader makes before decoding, and the one-line
form of a decoder's error. What kind a given file is: :func:`avemo.io.media.probe_media`."""

from __future__ import annotations

from pathlib import Path

from avemo.errors import MediaDecodeError

#: File suffixes of each kind of media (lower case, with the dot).
AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wma", ".aiff", ".aif"}
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mkv", ".webm", ".avi", ".mov", ".flv"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
#: Recordings: audio and video (what the corpus recipes collect).
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS
#: Everything the inference engine reads: recordings and still images.
INPUT_EXTENSIONS = MEDIA_EXTENSIONS | IMAGE_EXTENSIONS


def check_media_file(path: Path, kind: str) -> None:
    """Raise a one-line :class:`MediaDecodeError` when ``path`` is missing, a folder or empty.

    ``kind`` names what was expected (``"audio"``, ``"image"``, ``"video"``, ``"media"``) for the message.
    """
    if not path.exists():
        raise MediaDecodeError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise MediaDecodeError(f"{path}: is a folder, not an {kind} file" if kind[0] in "aeiou"
                               else f"{path}: is a folder, not a {kind} file")
    if path.stat().st_size == 0:
        raise MediaDecodeError(f"{path}: file is empty (0 bytes); re-export or re-download it")


def short_error(exc: BaseException) -> str:
    """The first line of an exception's message (at most 160 characters), or its type's name."""
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
