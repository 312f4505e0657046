"""Shared helpers of the corpus recipes."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from avemo.errors import CorpusError
from avemo.io.files import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, MEDIA_EXTENSIONS, VIDEO_EXTENSIONS

__all__ = ["AUDIO_EXTENSIONS", "IMAGE_EXTENSIONS", "MEDIA_EXTENSIONS", "VIDEO_EXTENSIONS", "class_folder",
           "media_files", "require_some"]


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


def class_folder(root: Path, path: Path) -> str | None:
    """The emotion the folder of ``path`` names (``Angry``, ``05Angry``: a leading number is ignored; any spelling
    of :data:`avemo.labels.SYNONYMS`), or None for a file directly in ``root`` or a folder that names no emotion."""
    import re

    from avemo.labels import SYNONYMS

    if len(path.relative_to(root.resolve()).parts) < 2:
        return None
    return SYNONYMS.get(re.sub(r"^\d+", "", path.parent.name).lower())


def require_some(recordings: list, root: Path, expected: str) -> list:
    """Raise a CorpusError that shows the expected file names when a recipe found nothing."""
    if not recordings:
        raise CorpusError(f"{root}: no files named like {expected} found; is this the right corpus folder?")
    return recordings
