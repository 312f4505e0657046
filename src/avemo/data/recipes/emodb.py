"""Berlin EmoDB (Burkhardt et al. 2005): names like ``03a01Fa.wav``: speaker 03, text a01, emotion F, version a.

Emotion letters are German initials (W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral).
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.manifest import Recording
from avemo.data.recipes.common import AUDIO_EXTENSIONS, named_files, require_some
from avemo.data.recipes.registry import Corpus
from avemo.labels import ANGRY, BORED, DISGUST, FEARFUL, HAPPY, NEUTRAL, SAD

NAME = re.compile(r"^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])$")
MALE_SPEAKERS = {"03", "10", "11", "12", "15"}
#: The German initials of the emotions: Wut, Langeweile, Ekel, Angst, Freude, Trauer, Neutral.
LABELS = {"W": ANGRY, "L": BORED, "E": DISGUST, "A": FEARFUL, "F": HAPPY, "T": SAD, "N": NEUTRAL}


def prepare_emodb(corpus_dir: Path) -> list[Recording]:
    """Recordings of an EmoDB folder (the published ``wav/`` folder or its parent).

    Raises:
        CorpusError: when no EmoDB file names are found.
    """
    out = []
    for path, m in named_files(Path(corpus_dir), NAME, AUDIO_EXTENSIONS):
        speaker, text, emo, version = m.groups()
        out.append(Recording(id=path.stem, path=str(path), corpus=CORPUS.name, speaker=speaker,
                             emotion=LABELS[emo],
                             attributes={"text": text, "version": version,
                                         "gender": "male" if speaker in MALE_SPEAKERS else "female"}))
    return require_some(out, Path(corpus_dir), "03a01Fa.wav")


CORPUS = Corpus(name="emodb", prepare=prepare_emodb, modalities=("speech",), labels=LABELS,
                folders=("emodb",),
                language="German",
                licence="no licence stated (free to download; cite Burkhardt et al. 2005)",
                speakers="10 actors (5 female, 5 male)")
