"""Recordings with their labels and speaker, stored as JSON lines (one recording per line).

A :class:`Recording` is one media file with one emotion label and the speaker who produced it; whatever
else the corpus's file names carry (intensity, statement, gender …) goes in ``attributes``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Iterable

from avemo.errors import CorpusError


@dataclasses.dataclass(frozen=True)
class Recording:
    """One labelled recording.

    Attributes:
        id: unique id within the corpus (usually the file stem).
        path: absolute path of the media file.
        corpus: corpus name (``ravdess``, ``cremad``, ``tess``, ``emodb``, ``folder`` …).
        speaker: speaker id, unique within the corpus; folds are built from these.
        emotion: canonical emotion name (see :mod:`avemo.labels`).
        attributes: anything else the corpus records (modality, intensity, gender, split …).
    """

    id: str
    path: str
    corpus: str
    speaker: str
    emotion: str
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recording":
        missing = [k for k in ("id", "path", "corpus", "speaker", "emotion") if k not in data]
        if missing:
            raise CorpusError(f"manifest entry {data.get('id', '?')!r} lacks {missing}; re-run `avemo prepare`")
        return cls(**{k: data[k] for k in ("id", "path", "corpus", "speaker", "emotion")},
                   attributes=dict(data.get("attributes", {})))


def write_manifest(recordings: Iterable[Recording], path: str | os.PathLike) -> Path:
    """Write recordings as JSON lines; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for rec in recordings:
            f.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
    return path


def read_manifest(path: str | os.PathLike) -> list[Recording]:
    """Read a JSON-lines manifest.

    Raises:
        CorpusError: when the file is missing or a line is not a valid recording.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: manifest not found; create it with `avemo prepare CORPUS DIR`")
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{n}: not valid JSON ({exc.msg}); re-run `avemo prepare`") from None
            if not isinstance(data, dict):
                raise CorpusError(f"{path}:{n}: expected one JSON object per line, got {type(data).__name__}; "
                                  "re-run `avemo prepare`")
            try:
                out.append(Recording.from_dict(data))
            except CorpusError as exc:
                raise CorpusError(f"{path}:{n}: {exc}") from None
    return out


def source_file(path: str) -> str:
    """The file behind a recording path: ``table.csv#12`` (row 12 of a table such as fer2013.csv) is in
    ``table.csv``; any other path is itself."""
    base, sep, row = path.rpartition("#")
    return base if sep and row.isdigit() and base.lower().endswith(".csv") else path


def validate_manifest(recordings: list[Recording]) -> list[Recording]:
    """Check ids are unique and every file exists.

    Raises:
        CorpusError: naming the first problems found.
    """
    if not recordings:
        raise CorpusError("no recordings found; check the corpus folder and its layout")
    seen: set[str] = set()
    dupes = [r.id for r in recordings if r.id in seen or seen.add(r.id)]
    if dupes:
        raise CorpusError(f"duplicate recording ids {dupes[:3]}; a corpus folder was probably given twice")
    missing = [r.path for r in recordings if not os.path.exists(source_file(r.path))]
    if missing:
        raise CorpusError(f"{len(missing)} manifest files do not exist, e.g. {missing[0]}")
    return recordings
