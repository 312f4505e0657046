"""TurEV-DB (Canpolat, Ormanoğlu & Zeyrek 2020; CC BY-NC-ND 4.0): acted Turkish emotional speech (single
words), 6 speakers, 4 classes.

Layout (as published): ``<root>/{Angry,Calm,Happy,Sad}/{spk}_{tag}_{word}.wav`` (or any audio extension, e.g.
the 16 kHz Opus ``.ogg`` copies). The class is the folder; the speaker is the number before the first ``_``
(``turev:1157``). Some speakers lack some classes.

Files in a folder that is not one of the four classes, or whose name does not start with ``<number>_``, are
skipped and counted (see :mod:`avemo.data.recipes.skips`).
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.recipes.common import CorpusWalk
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings
from avemo.labels import ANGRY, CALM, HAPPY, SAD

#: The class folders Angry, Calm, Happy, Sad (matched in lower case).
LABELS = {"angry": ANGRY, "calm": CALM, "happy": HAPPY, "sad": SAD}
LANGUAGE = "tr"
NAME = re.compile(r"^(\d+)_(.+)$")
CLASS_FOLDERS = "Angry, Calm, Happy, Sad"
EXPECTED = "{Angry,Calm,Happy,Sad}/<speaker number>_<tag>_<word>.wav, e.g. Angry/1157_kz_acik.wav"


def prepare_turev(corpus_dir: Path) -> RecipeRecordings:
    """Recordings of a TurEV-DB folder.

    Returns:
        the recordings (a list) with ``.skipped`` counts by reason.

    Raises:
        CorpusError: when the folder is missing or holds no TurEV-DB files.
    """
    walk = CorpusWalk(CORPUS.name, corpus_dir, NAME, LABELS, class_folders=CLASS_FOLDERS)
    for take in walk:
        speaker, rest = take.match.groups()
        tag, _, word = rest.partition("_")
        walk.keep(take, recording_id=f"{take.path.parent.name}/{take.path.stem}", speaker=speaker,
                  attributes={"language": LANGUAGE, "tag": tag, "word": word})
    return walk.finish(EXPECTED)


CORPUS = Corpus(name="turev", prepare=prepare_turev, modalities=("speech",), labels=LABELS,
                folders=("turev",),
                language="Turkish",
                licence="CC BY-NC-ND 4.0",
                speakers="6 speakers (not every one in every class)",
                multi_corpus_order=3)
