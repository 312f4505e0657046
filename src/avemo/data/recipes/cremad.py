"""CREMA-D (Cao et al. 2014; ODbL): names ``<actor>_<sentence>_<emotion>_<level>.ext``, e.g. ``1001_DFA_ANG_XX.wav``.

The published release has ``AudioWAV/``, ``AudioMP3/``, ``VideoFlash/`` folders, and the 16 kHz Opus copies of
``../shared/data/cremad`` lie in one folder per actor (``1002/1002_DFA_ANG_XX.ogg``); any of them works. The
actor id (1001-1091) is the speaker.

A file with an unknown emotion or level code, or a name not of that form, is skipped and counted (see
:mod:`avemo.data.recipes.skips`); files with no media extension (the ``meta/`` tables) are not looked at.
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.manifest import Recording
from avemo.data.recipes.common import media_files
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings, SkipLog
from avemo.labels import ANGRY, DISGUST, FEARFUL, HAPPY, NEUTRAL, SAD

#: The emotion codes (the third field of a name).
LABELS = {"ANG": ANGRY, "DIS": DISGUST, "FEA": FEARFUL, "HAP": HAPPY, "NEU": NEUTRAL, "SAD": SAD}
NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$", re.IGNORECASE)
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified", "X": "unspecified"}
EXPECTED = "<actor>_<sentence>_<emotion>_<level>.wav, e.g. 1001_DFA_ANG_XX.wav"


def prepare_cremad(corpus_dir: Path, extensions: tuple[str, ...] | None = None) -> RecipeRecordings:
    """Recordings of a CREMA-D folder. If both audio and video copies of a take exist, pass ``extensions``
    (e.g. ``(".wav",)``) to keep one; otherwise the first copy found (sorted path order) is kept.

    Returns:
        the recordings (a list) with ``.skipped`` counts by reason.

    Raises:
        CorpusError: when the folder is missing or holds no CREMA-D file names.
    """
    root = Path(corpus_dir)
    skips = SkipLog(CORPUS.name)
    out, seen = [], set()
    for path in media_files(root):
        if extensions and path.suffix.lower() not in extensions:
            continue
        m = NAME.match(path.stem)
        if not m:
            skips.skip("unrecognised file name", path.name)
            continue
        actor, sentence, emo, level = (g.upper() for g in m.groups())
        if emo not in LABELS:
            skips.skip("unknown label code", path.name)
            continue
        if level not in LEVELS:
            skips.skip("unknown intensity code", path.name)
            continue
        stem = f"{actor}_{sentence}_{emo}_{level}"
        if stem in seen:
            continue  # the same take as audio and as video: the first copy is kept
        seen.add(stem)
        out.append(Recording(id=stem, path=str(path), corpus=CORPUS.name, speaker=actor, emotion=LABELS[emo],
                             attributes={"sentence": sentence, "intensity": LEVELS[level]}))
    return skips.finish(out, root, EXPECTED)


CORPUS = Corpus(name="cremad", prepare=prepare_cremad, modalities=("speech", "audio-visual"), labels=LABELS,
                folders=("cremad",),
                language="English (North American, varied ages and ethnicities)",
                licence="ODbL 1.0 (contents: DbCL 1.0)",
                speakers="91 actors of varied age, sex and ethnicity (ids 1001-1091)",
                multi_corpus_order=5)
