"""TESS (Toronto emotional speech set): names ``<speaker>_<word>_<emotion>.wav``, e.g. ``OAF_back_ps.wav``.

Two speakers, OAF (older) and YAF (younger); ``ps`` / "pleasant surprise" maps to ``surprised``.
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.manifest import Recording
from avemo.data.recipes.common import AUDIO_EXTENSIONS, named_files, require_some
from avemo.data.recipes.registry import Corpus
from avemo.labels import ANGRY, DISGUST, FEARFUL, HAPPY, NEUTRAL, SAD, SURPRISED

NAME = re.compile(r"^(OAF|YAF)_([A-Za-z]+)_([A-Za-z_]+)$", re.IGNORECASE)
#: The emotion words that end a name ("ps" / "pleasant surprise" is surprised).
LABELS = {"angry": ANGRY, "disgust": DISGUST, "fear": FEARFUL, "happy": HAPPY, "neutral": NEUTRAL, "ps": SURPRISED,
          "pleasant_surprise": SURPRISED, "pleasant_surprised": SURPRISED, "surprise": SURPRISED,
          "surprised": SURPRISED, "sad": SAD}


def prepare_tess(corpus_dir: Path) -> list[Recording]:
    """Recordings of a TESS folder (any sub-folder layout).

    Raises:
        CorpusError: when no TESS file names are found.
    """
    out = []
    for path, m in named_files(Path(corpus_dir), NAME, AUDIO_EXTENSIONS):
        if m.group(3).lower() not in LABELS:
            continue
        speaker, word, emo = m.group(1).upper(), m.group(2).lower(), m.group(3).lower()
        out.append(Recording(id=path.stem, path=str(path), corpus=CORPUS.name, speaker=speaker,
                             emotion=LABELS[emo], attributes={"word": word}))
    return require_some(out, Path(corpus_dir), "OAF_back_angry.wav")


CORPUS = Corpus(name="tess", prepare=prepare_tess, modalities=("speech",), labels=LABELS,
                folders=("tess",),
                language="English (North American)",
                licence="CC BY-NC-ND 4.0",
                speakers="2 actresses, aged 26 (YAF) and 64 (OAF)")
