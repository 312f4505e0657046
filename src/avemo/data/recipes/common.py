"""Shared helpers of the corpus recipes: finding a corpus's files and walking them with the shared skip rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Mapping

from avemo.data.manifest import Recording
from avemo.data.recipes.skips import RecipeRecordings, SkipLog
from avemo.errors import CorpusError
from avemo.io.files import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, MEDIA_EXTENSIONS, VIDEO_EXTENSIONS

__all__ = ["AUDIO_EXTENSIONS", "IMAGE_EXTENSIONS", "MEDIA_EXTENSIONS", "VIDEO_EXTENSIONS", "CorpusWalk", "Take",
           "class_folder", "media_files", "named_files", "require_some"]


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


def named_files(root: Path, name: re.Pattern[str],
                extensions: set[str] = MEDIA_EXTENSIONS) -> Iterator[tuple[Path, re.Match[str]]]:
    """Each file of :func:`media_files` whose stem ``name`` matches, with the match; the others are passed over
    silently (a recipe that counts what it skips walks with :class:`CorpusWalk`).

    Raises:
        CorpusError: if ``root`` is not a folder.
    """
    for path in media_files(root, extensions):
        match = name.match(path.stem)
        if match:
            yield path, match


def class_folder(root: Path, path: Path) -> str | None:
    """The emotion the folder of ``path`` names (``Angry``, ``05Angry``: a leading number is ignored; any spelling
    of :data:`avemo.labels.SYNONYMS`), or None for a file directly in ``root`` or a folder that names no emotion."""
    from avemo.labels import SYNONYMS

    if len(path.relative_to(root.resolve()).parts) < 2:
        return None
    return SYNONYMS.get(re.sub(r"^\d+", "", path.parent.name).lower())


def require_some(recordings: list, root: Path, expected: str) -> list:
    """Raise a CorpusError that shows the expected file names when a recipe found nothing."""
    if not recordings:
        raise CorpusError(f"{root}: no files named like {expected} found; is this the right corpus folder?")
    return recordings


@dataclass(frozen=True)
class Take:
    """One audio file of a corpus folder that passed a :class:`CorpusWalk`'s shared rules.

    Attributes:
        path: the file, resolved.
        rel: its path relative to the corpus folder.
        match: its stem matched by the recipe's file-name pattern (the groups are the recipe's to parse).
        emotion: the canonical class its label code or its class folder names; None when the walk reads neither
            (the recipe looks its label code up itself).
    """

    path: Path
    rel: Path
    match: re.Match[str]
    emotion: str | None


class CorpusWalk:
    """A recipe's walk over the audio files of a corpus folder (sorted), applying and counting the shared skip rules.

    Iterating yields a :class:`Take` for each file that passes, in this order:

    1. with ``class_folders``: it lies in a folder of one of the corpus's classes, else it is skipped as
       ``"not in a class folder (<class_folders>)"``;
    2. its stem matches ``name``, else ``"unrecognised file name"``;
    3. with ``code_group``: that group of the name is a label code (:meth:`label`), else ``"unknown label
       code"``; with class folders too, its class is the folder's, else
       ``"label letter disagrees with the folder"``.

    The recipe then applies its own rules (:meth:`skip`) and hands each take it keeps to :meth:`keep`, which skips
    ``"same take in another format"``; :meth:`finish` returns the recordings with the skip counts.

    Args:
        corpus: the corpus name (the recordings' ``corpus``, the prefix of their speakers, in messages).
        corpus_dir: the corpus folder.
        name: the file-name pattern, matched against each file's stem.
        labels: the corpus's label codes -> canonical classes.
        code_group: the group of ``name`` that holds the label code; None when the name holds none.
        class_folders: the published class folders in words, for the skip reason (``"Angry, Happy, Neutral,
            Sad"``); empty when the classes are not folders. With ``code_group`` a folder's class is the emotion
            its name spells (:func:`class_folder`); without, the folder name is the label code.
        relative_names: skipped files are named by their path relative to the corpus folder (False: by file name).
    """

    def __init__(self, corpus: str, corpus_dir: str | Path, name: re.Pattern[str], labels: Mapping[str, str], *,
                 code_group: int | None = None, class_folders: str = "", relative_names: bool = True) -> None:
        self.corpus = corpus
        self.root = Path(corpus_dir)
        self.name = name
        self.code_group = code_group
        self.class_folders = class_folders
        self.relative_names = relative_names
        self._labels = {code.lower(): emotion for code, emotion in labels.items()}
        self._skips = SkipLog(corpus)
        self._recordings: list[Recording] = []
        self._kept: set[str] = set()

    def __iter__(self) -> Iterator[Take]:
        resolved = self.root.resolve()
        for path in media_files(self.root, AUDIO_EXTENSIONS):
            rel = path.relative_to(resolved)
            folder = self._folder_class(path, rel) if self.class_folders else None
            if self.class_folders and folder is None:
                self._skip(path, rel, f"not in a class folder ({self.class_folders})")
                continue
            match = self.name.match(path.stem)
            if not match:
                self._skip(path, rel, "unrecognised file name")
                continue
            take = Take(path, rel, match, folder)
            if self.code_group is not None:
                emotion = self.label(take, match.group(self.code_group))
                if emotion is None:
                    continue
                if folder is not None and emotion != folder:
                    self.skip(take, "label letter disagrees with the folder")
                    continue
                take = replace(take, emotion=emotion)
            yield take

    def _folder_class(self, path: Path, rel: Path) -> str | None:
        """The class of the folder ``path`` lies in, when it is one of the corpus's classes."""
        if len(rel.parts) < 2:
            return None
        if self.code_group is None:
            return self._labels.get(path.parent.name.lower())
        folder = class_folder(self.root, path)
        return folder if folder in self._labels.values() else None

    def _skip(self, path: Path, rel: Path, reason: str) -> None:
        self._skips.skip(reason, str(rel) if self.relative_names else path.name)

    def skip(self, take: Take, reason: str) -> None:
        """Count ``take`` as skipped for a rule of the recipe's own (``reason``: what is wrong, in words)."""
        self._skip(take.path, take.rel, reason)

    def label(self, take: Take, code: str) -> str | None:
        """The class label ``code`` (any case) names; None when it is not one of the corpus's codes, and ``take`` is
        then skipped as ``"unknown label code"``."""
        emotion = self._labels.get(code.lower())
        if emotion is None:
            self.skip(take, "unknown label code")
        return emotion

    def keep(self, take: Take, *, recording_id: str, speaker: str, attributes: dict[str, Any],
             emotion: str | None = None, key: str | None = None) -> None:
        """Keep ``take`` as a :class:`Recording` of this corpus: its file, ``emotion`` (default: the take's), speaker
        ``<corpus>:<speaker>``. A take whose ``key`` (default: its path relative to the corpus folder, without
        extension) was kept already is the same take in another format: it is skipped and counted."""
        key = str(take.rel.with_suffix("")) if key is None else key
        if key in self._kept:
            self.skip(take, "same take in another format")
            return
        self._kept.add(key)
        self._recordings.append(Recording(id=recording_id, path=str(take.path), corpus=self.corpus,
                                          speaker=f"{self.corpus}:{speaker}", emotion=emotion or take.emotion,
                                          attributes=attributes))

    def finish(self, expected: str) -> RecipeRecordings:
        """The kept recordings with ``.skipped`` counts by reason (a warning is logged when anything was skipped).

        Raises:
            CorpusError: when nothing was kept; the one-line message shows ``expected`` (the layout).
        """
        return self._skips.finish(self._recordings, self.root, expected)
