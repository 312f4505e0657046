"""Shared helpers of the corpus recipes."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from avemo.errors import CorpusError
from avemo.io.files import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, MEDIA_EXTENSIONS, VIDEO_EXTENSIONS

__all__ = ["AUDIO_EXTENSIONS", "IMAGE_EXTENSIONS", "MEDIA_EXTENSIONS", "VIDEO_EXTENSIONS", "media_files",
           "require_some"]


def media_files(root: Path, extensions: set[str] = MEDIA_EXTENSIONS) -> Iterator[Path]:
    """Every file under ``root`` (recursively, sorted) whose extension is in ``extensions``.

    Raises:
        CorpusError: if ``root`` is not a folder.
    """
    if not root.is_dir():
        raise CorpusError(f"{root}: corpus folder not found; give the folder you unpacked the corpus into")
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in extensions and path.is_file() and not path.name.startswith("."):
            yield path.resolve()


def require_some(recordings: list, root: Path, expected: str) -> list:
    """Raise a CorpusError that shows the expected file names when a recipe found nothing."""
    if not recordings:
        raise CorpusError(f"{root}: no files named like {expected} found; is this the right corpus folder?")
    return recordings
