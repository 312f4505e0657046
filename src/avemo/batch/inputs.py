"""What a batch run reads: media files found in folders (recursively, by extension or content:
:func:`avemo.io.media.looks_like_media`) or listed in a manifest (``avemo prepare`` JSON lines, or a CSV / JSONL
with a ``path`` column)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from avemo.errors import ParameterError
from avemo.io.media import looks_like_media

MANIFEST_SUFFIXES = {".jsonl", ".csv"}


def walk_folder(root: Path) -> list[str]:
    """Media files under ``root``, sorted; symbolic links to folders are not followed (no loops), unreadable
    folders are skipped."""
    found = []
    for folder, subfolders, files in os.walk(root, followlinks=False, onerror=lambda exc: None):
        subfolders.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if not name.startswith(".") and path.is_file() and looks_like_media(path):
                found.append(str(path))
    return found


def read_manifest(path: Path) -> list[str]:
    """The ``path`` column of a CSV or JSON-lines manifest; relative paths are taken from the manifest's folder.

    Raises:
        ParameterError: (one line) for an unreadable manifest or one without a ``path`` column.
    """
    try:
        if path.suffix.lower() == ".csv":
            import csv

            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        else:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{path}: not a readable manifest ({type(exc).__name__}: {exc})") from None
    if not rows or not all(isinstance(r, dict) and r.get("path") for r in rows):
        raise ParameterError(f"{path}: a manifest needs a `path` column with a value on every row (avemo prepare "
                             "writes one)")
    return [str(p if Path(p).is_absolute() else path.parent / p) for p in (str(r["path"]) for r in rows)]


def collect_inputs(sources: Iterable[str | os.PathLike]) -> list[str]:
    """Every input of a batch run, in order: a folder's media files, a manifest's paths, or a file itself
    (a missing file stays in the list: its row will carry the error).

    Raises:
        ParameterError: for a bad manifest, or when nothing was given.
    """
    out: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            out += walk_folder(path)
        elif path.suffix.lower() in MANIFEST_SUFFIXES and path.is_file():
            out += read_manifest(path)
        else:
            out.append(str(path))
    if not out:
        raise ParameterError("no media files found in the given folders or manifests")
    return list(dict.fromkeys(out))
