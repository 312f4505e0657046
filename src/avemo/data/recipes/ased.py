"""ASED (Retta et al. 2023, ACM TALLIP; "freely available", cite it): acted Amharic emotional speech, 65 speakers,
5 classes.

Layout (as published): ``<root>/{01Neutral,02Fearful,03Happy,04Sad,05Angry}/{e}{n}-{yy}-{aa}-{gg}-{bb}.wav`` (or
any audio extension, e.g. the 16 kHz Opus ``.ogg`` copies): the folder is the class and ``e`` its letter (n, f, h,
s, a; either case), ``yy`` the sentence, ``aa`` the repetition, ``gg`` the gender (01 female, 02 male), ``bb`` the
speaker number (01-65). Five speaker numbers (09, 15, 21, 23, 25) occur with both gender codes, so a speaker is
keyed by gender and number: ``ased:F09`` and ``ased:M09`` are two people.

A file whose letter disagrees with its folder, a folder that is not a class, an unknown gender code or a name not of
that form is skipped and counted (see :mod:`avemo.data.recipes.skips`).
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.recipes.common import CorpusWalk
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings
from avemo.labels import ANGRY, FEARFUL, HAPPY, NEUTRAL, SAD

#: The letter that starts a file name (its class folder agrees).
LABELS = {"n": NEUTRAL, "f": FEARFUL, "h": HAPPY, "s": SAD, "a": ANGRY}
LANGUAGE = "am"
NAME = re.compile(r"^([a-z])(\d+)-(\d+)-(\d+)-(\d+)-(\d+)$", re.IGNORECASE)
GENDERS = {1: "F", 2: "M"}
CLASS_FOLDERS = "01Neutral, 02Fearful, 03Happy, 04Sad, 05Angry"
EXPECTED = "{01Neutral,02Fearful,03Happy,04Sad,05Angry}/{e}{n}-{yy}-{aa}-{gg}-{bb}.wav, e.g. 05Angry/a5-01-01-01-01.wav"


def prepare_ased(corpus_dir: Path) -> RecipeRecordings:
    """Recordings of an ASED folder.

    Returns:
        the recordings (a list) with ``.skipped`` counts by reason.

    Raises:
        CorpusError: when the folder is missing or holds no ASED files.
    """
    walk = CorpusWalk(CORPUS.name, corpus_dir, NAME, LABELS, code_group=1, class_folders=CLASS_FOLDERS)
    for take in walk:
        _, _, sentence, repetition, gender, number = take.match.groups()
        sex = GENDERS.get(int(gender))
        if sex is None:
            walk.skip(take, "unknown gender code (01 female, 02 male)")
            continue
        walk.keep(take, recording_id=f"{CORPUS.name}-{take.path.stem}", speaker=f"{sex}{int(number):02d}",
                  attributes={"language": LANGUAGE, "gender": "female" if sex == "F" else "male",
                              "sentence": sentence, "repetition": repetition})
    return walk.finish(EXPECTED)


CORPUS = Corpus(name="ased", prepare=prepare_ased, modalities=("speech",), labels=LABELS,
                folders=("ased",),
                language="Amharic",
                licence="no licence stated (freely available; cite Retta et al. 2023)",
                speakers="65 speakers (keyed by gender and number)",
                multi_corpus_order=7)
