"""URDU (Latif et al. 2018, FIT; research use): emotional speech from Urdu TV talk shows, 4 classes.

Layout (as published): ``<root>/{Angry,Happy,Neutral,Sad}/S{G}{n}_F{k}_{E}{m}.wav`` (or any audio extension, e.g.
the 16 kHz Opus ``.ogg`` copies): ``S{G}{n}`` is the speaker (``SM1`` = male speaker 1, ``SF3`` = female
speaker 3; ids become ``urdu:SM1``), ``E`` the emotion letter A/H/N/S. The paper counts 38 speakers; the
published file names hold 29 distinct speaker codes, and those are what folds can use.

The letter must agree with the folder; a file where it does not, a folder that is not a class, or a name not of
that form is skipped and counted (see :mod:`avemo.data.recipes.skips`).
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.recipes.common import CorpusWalk
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings
from avemo.labels import ANGRY, HAPPY, NEUTRAL, SAD

#: The letter before the clip number (``SM1_F1_A01``); the folders Angry, Happy, Neutral, Sad agree.
LABELS = {"A": ANGRY, "H": HAPPY, "N": NEUTRAL, "S": SAD}
LANGUAGE = "ur"
NAME = re.compile(r"^S([MF])(\d+)_F(\d+)_([A-Z])(\d+)$", re.IGNORECASE)
CLASS_FOLDERS = "Angry, Happy, Neutral, Sad"
EXPECTED = "{Angry,Happy,Neutral,Sad}/S{M|F}<n>_F<k>_{A|H|N|S}<m>.wav, e.g. Angry/SM1_F1_A01.wav"


def prepare_urdu(corpus_dir: Path) -> RecipeRecordings:
    """Recordings of an URDU folder.

    Returns:
        the recordings (a list) with ``.skipped`` counts by reason.

    Raises:
        CorpusError: when the folder is missing or holds no URDU files.
    """
    walk = CorpusWalk(CORPUS.name, corpus_dir, NAME, LABELS, code_group=4, class_folders=CLASS_FOLDERS)
    for take in walk:
        sex, number = take.match.group(1, 2)
        walk.keep(take, recording_id=take.path.stem, speaker=f"S{sex.upper()}{int(number)}",
                  attributes={"language": LANGUAGE, "gender": "male" if sex.upper() == "M" else "female"})
    return walk.finish(EXPECTED)


CORPUS = Corpus(name="urdu", prepare=prepare_urdu, modalities=("speech",), labels=LABELS,
                folders=("urdu",),
                language="Urdu",
                licence="research use",
                speakers="guests of Urdu TV talk shows (29 speaker codes in the file names)",
                multi_corpus_order=4)
