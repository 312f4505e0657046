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

from avemo.data.manifest import Recording
from avemo.data.recipes.common import AUDIO_EXTENSIONS, class_folder, media_files
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings, SkipLog
from avemo.labels import ANGRY, HAPPY, NEUTRAL, SAD

#: The letter before the clip number (``SM1_F1_A01``); the folders Angry, Happy, Neutral, Sad agree.
LABELS = {"A": ANGRY, "H": HAPPY, "N": NEUTRAL, "S": SAD}
LANGUAGE = "ur"
NAME = re.compile(r"^S([MF])(\d+)_F(\d+)_([A-Z])(\d+)$", re.IGNORECASE)
EXPECTED = "{Angry,Happy,Neutral,Sad}/S{M|F}<n>_F<k>_{A|H|N|S}<m>.wav, e.g. Angry/SM1_F1_A01.wav"


def prepare_urdu(corpus_dir: Path) -> RecipeRecordings:
    """Recordings of an URDU folder.

    Returns:
        the recordings (a list) with ``.skipped`` counts by reason.

    Raises:
        CorpusError: when the folder is missing or holds no URDU files.
    """
    root = Path(corpus_dir)
    classes = set(LABELS.values())
    skips = SkipLog(CORPUS.name)
    out, seen = [], set()
    for path in media_files(root, AUDIO_EXTENSIONS):
        rel = path.relative_to(root.resolve())
        folder = class_folder(root, path)
        if folder not in classes:
            skips.skip("not in a class folder (Angry, Happy, Neutral, Sad)", str(rel))
            continue
        m = NAME.match(path.stem)
        if not m:
            skips.skip("unrecognised file name", str(rel))
            continue
        sex, number, _, letter, _ = m.groups()
        emotion = LABELS.get(letter.upper())
        if emotion is None:
            skips.skip("unknown label code", str(rel))
            continue
        if emotion != folder:
            skips.skip("label letter disagrees with the folder", str(rel))
            continue
        key = str(rel.with_suffix(""))
        if key in seen:
            skips.skip("same take in another format", str(rel))
            continue
        seen.add(key)
        speaker = f"S{sex.upper()}{int(number)}"
        out.append(Recording(id=path.stem, path=str(path), corpus=CORPUS.name, speaker=f"{CORPUS.name}:{speaker}",
                             emotion=emotion,
                             attributes={"language": LANGUAGE, "gender": "male" if sex.upper() == "M" else "female"}))
    return skips.finish(out, root, EXPECTED)


CORPUS = Corpus(name="urdu", prepare=prepare_urdu, modalities=("speech",), labels=LABELS,
                folders=("urdu",),
                language="Urdu",
                licence="research use",
                speakers="guests of Urdu TV talk shows (29 speaker codes in the file names)",
                multi_corpus_order=4)
