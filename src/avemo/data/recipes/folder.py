"""A generic corpus: ``<root>/<emotion>/<file>``, the emotion being the folder name.

Speakers are unknown in such a folder unless ``speaker_pattern`` (a regular expression with one group,
matched against the file stem) says where the speaker id is; without it every file gets speaker
``"unknown"`` and only random splits are possible.
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.manifest import Recording
from avemo.data.recipes.common import MEDIA_EXTENSIONS, IMAGE_EXTENSIONS, media_files, require_some
from avemo.data.recipes.registry import Corpus
from avemo.errors import CorpusError, ParameterError
from avemo.labels import canonical_emotion


def prepare_folder(corpus_dir: Path, speaker_pattern: str | None = None,
                   include_images: bool = False) -> list[Recording]:
    """Recordings of an emotion-per-folder corpus.

    Raises:
        ParameterError: for an invalid ``speaker_pattern``.
        CorpusError: for a folder name that is not an emotion, or no files at all.
    """
    root = Path(corpus_dir)
    try:
        pattern = re.compile(speaker_pattern) if speaker_pattern else None
    except re.error as exc:
        raise ParameterError(f"invalid speaker_pattern {speaker_pattern!r}: {exc}") from None
    extensions = MEDIA_EXTENSIONS | (IMAGE_EXTENSIONS if include_images else set())
    out = []
    for path in media_files(root, extensions):
        folder = path.relative_to(root.resolve()).parts[0]
        if folder == path.name:
            continue  # files directly in root carry no label
        try:
            emotion = canonical_emotion(folder)
        except ParameterError:
            raise CorpusError(f"{root / folder}: folder name is not an emotion; "
                              "name the folders neutral, happy, sad, angry, fear, disgust, surprise …") from None
        speaker = "unknown"
        if pattern:
            m = pattern.search(path.stem)
            if not m:
                raise CorpusError(f"{path.name}: speaker_pattern {pattern.pattern!r} does not match the file name")
            speaker = m.group(1) if m.groups() else m.group(0)
        rel = path.relative_to(root.resolve())
        out.append(Recording(id=str(rel.with_suffix("")), path=str(path), corpus=CORPUS.name, speaker=speaker,
                             emotion=emotion))
    return require_some(out, root, "<root>/<emotion>/<file>")


#: The user's own ``<root>/<emotion>/<file>`` folder: no label codes (the folders name the emotions), no usual place.
CORPUS = Corpus(name="folder", prepare=prepare_folder, modalities=("speech", "face", "audio-visual"))
