"""EMOVO (Costantini et al. 2014, LREC; free for research): acted Italian emotional speech, 6 actors, 7 classes.

Layout (as published): ``<root>/{f1,f2,f3,m1,m2,m3}/{emo}-{spk}-{sentence}.wav`` (or any audio extension, e.g.
the 16 kHz Opus ``.ogg`` copies), ``emo`` one of dis (disgust), gio (joy → happy), neu, pau (fear), rab (anger),
sor (surprise), tri (sadness). The speaker comes from the file name (``emovo:f1``), the gender from its letter.

Files with an unknown emotion code or a name not of that form are skipped and counted
(see :mod:`avemo.data.recipes.skips`).
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.recipes.common import CorpusWalk
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings
from avemo.labels import ANGRY, DISGUST, FEARFUL, HAPPY, NEUTRAL, SAD, SURPRISED

#: The file-name prefixes: disgusto, gioia, neutro, paura, rabbia, sorpresa, tristezza.
LABELS = {"dis": DISGUST, "gio": HAPPY, "neu": NEUTRAL, "pau": FEARFUL, "rab": ANGRY, "sor": SURPRISED,
          "tri": SAD}
LANGUAGE = "it"
NAME = re.compile(r"^([a-z]+)-([fm])(\d+)-(\w+)$", re.IGNORECASE)
EXPECTED = "{f1,...,m3}/{emo}-{spk}-{sentence}.wav, e.g. f1/dis-f1-b1.wav"


def prepare_emovo(corpus_dir: Path) -> RecipeRecordings:
    """Recordings of an EMOVO folder.

    Returns:
        the recordings (a list) with ``.skipped`` counts by reason.

    Raises:
        CorpusError: when the folder is missing or holds no EMOVO file names.
    """
    walk = CorpusWalk(CORPUS.name, corpus_dir, NAME, LABELS, code_group=1, relative_names=False)
    for take in walk:
        _, sex, number, sentence = take.match.groups()
        walk.keep(take, recording_id=take.path.stem, speaker=f"{sex.lower()}{int(number)}", key=take.path.stem,
                  attributes={"language": LANGUAGE, "gender": "female" if sex.lower() == "f" else "male",
                              "sentence": sentence.lower()})
    return walk.finish(EXPECTED)


CORPUS = Corpus(name="emovo", prepare=prepare_emovo, modalities=("speech",), labels=LABELS,
                folders=("emovo",),
                language="Italian",
                licence="research use (free for research)",
                speakers="6 actors (3 female, 3 male)",
                multi_corpus_order=2)
