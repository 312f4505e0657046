"""CREMA-D (Cao et al. 2014): names ``<actor>_<sentence>_<emotion>_<level>.ext``, e.g. ``1001_DFA_ANG_XX.wav``.

The published release has ``AudioWAV/``, ``AudioMP3/``, ``VideoFlash/`` folders; any of them works.
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.manifest import Recording
from avemo.data.recipes.common import media_files, require_some
from avemo.labels import corpus_label

NAME = re.compile(r"^(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_(XX|LO|MD|HI|X)$")
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified", "X": "unspecified"}


def prepare_cremad(corpus_dir: Path, extensions: tuple[str, ...] | None = None) -> list[Recording]:
    """Recordings of a CREMA-D folder. If both audio and video copies of a take exist, pass ``extensions``
    (e.g. ``(".wav",)``) to keep one; otherwise the first copy found (sorted path order) is kept.

    Raises:
        CorpusError: when no CREMA-D file names are found.
    """
    out, seen = [], set()
    for path in media_files(Path(corpus_dir)):
        m = NAME.match(path.stem)
        if not m or (extensions and path.suffix.lower() not in extensions) or path.stem in seen:
            continue
        seen.add(path.stem)
        actor, sentence, emo, level = m.groups()
        out.append(Recording(id=path.stem, path=str(path), corpus="cremad", speaker=actor,
                             emotion=corpus_label("cremad", emo),
                             attributes={"sentence": sentence, "intensity": LEVELS[level]}))
    return require_some(out, Path(corpus_dir), "1001_DFA_ANG_XX.wav")
