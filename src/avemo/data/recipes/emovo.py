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

from avemo.data.manifest import Recording
from avemo.data.recipes.common import AUDIO_EXTENSIONS, media_files
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings, SkipLog
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
    root = Path(corpus_dir)
    skips = SkipLog(CORPUS.name)
    out, seen = [], set()
    for path in media_files(root, AUDIO_EXTENSIONS):
        m = NAME.match(path.stem)
        if not m:
            skips.skip("unrecognised file name", path.name)
            continue
        emo, sex, number, sentence = m.groups()
        emotion = LABELS.get(emo.lower())
        if emotion is None:
            skips.skip("unknown label code", path.name)
            continue
        if path.stem in seen:
            skips.skip("same take in another format", path.name)
            continue
        seen.add(path.stem)
        speaker = f"{sex.lower()}{int(number)}"
        out.append(Recording(id=path.stem, path=str(path), corpus=CORPUS.name, speaker=f"{CORPUS.name}:{speaker}",
                             emotion=emotion,
                             attributes={"language": LANGUAGE, "gender": "female" if sex.lower() == "f" else "male",
                                         "sentence": sentence.lower()}))
    return skips.finish(out, root, EXPECTED)


CORPUS = Corpus(name="emovo", prepare=prepare_emovo, modalities=("speech",), labels=LABELS,
                folders=("emovo",),
                language="Italian",
                licence="research use (free for research)",
                speakers="6 actors (3 female, 3 male)",
                multi_corpus_order=2)
