"""SAVEE (Haq & Jackson 2010; research use): acted British English emotional speech, 4 male speakers, 7 classes.

Layout (as published): ``<root>/{DC,JE,JK,KL}/{SPK}_{emo}{NN}.wav`` (or any audio extension, e.g. the 16 kHz Opus
``.ogg`` copies), ``emo`` one of a (anger), d (disgust), f (fear), h (happiness), n (neutral), sa (sadness),
su (surprise); ``sa``/``su`` are read before the single letters. The published "AudioData" release names files
``{SPK}/{emo}{NN}.wav`` (no speaker prefix): the speaker then comes from the folder. Speakers become
``savee:DC``.

Files with an unknown emotion code, a name not of that form, or a speaker prefix that disagrees with its folder are
skipped and counted (see :mod:`avemo.data.recipes.skips`).
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.recipes.common import CorpusWalk
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings
from avemo.labels import ANGRY, DISGUST, FEARFUL, HAPPY, NEUTRAL, SAD, SURPRISED

#: The file-name codes: anger, disgust, fear, happiness, neutral, sadness, surprise.
LABELS = {"a": ANGRY, "d": DISGUST, "f": FEARFUL, "h": HAPPY, "n": NEUTRAL, "sa": SAD, "su": SURPRISED}
LANGUAGE = "en"
NAME = re.compile(r"^(?:([A-Za-z]{2})_)?(sa|su|[a-z])(\d+)$", re.IGNORECASE)
EXPECTED = "{DC,JE,JK,KL}/{SPK}_{a|d|f|h|n|sa|su}<NN>.wav, e.g. DC/DC_sa01.wav"


def prepare_savee(corpus_dir: Path) -> RecipeRecordings:
    """Recordings of a SAVEE folder.

    Returns:
        the recordings (a list) with ``.skipped`` counts by reason.

    Raises:
        CorpusError: when the folder is missing or holds no SAVEE file names.
    """
    walk = CorpusWalk(CORPUS.name, corpus_dir, NAME, LABELS)
    for take in walk:
        prefix, emo, number = take.match.groups()
        folder = take.path.parent.name.upper() if len(take.rel.parts) >= 2 else None
        speaker = (prefix or folder or "").upper()
        if not speaker:
            walk.skip(take, "missing speaker id (no SPK_ prefix and no speaker folder)")
            continue
        if prefix and folder and len(folder) == 2 and folder.isalpha() and folder != prefix.upper():
            walk.skip(take, "speaker prefix disagrees with the folder")
            continue
        emotion = walk.label(take, emo)  # read after the speaker: the speaker's rules come first
        if emotion is None:
            continue
        key = f"{speaker}_{emo.lower()}{number}"
        walk.keep(take, recording_id=key, speaker=speaker, emotion=emotion, key=key,
                  attributes={"language": LANGUAGE, "gender": "male"})
    return walk.finish(EXPECTED)


CORPUS = Corpus(name="savee", prepare=prepare_savee, modalities=("speech",), labels=LABELS,
                folders=("savee",),
                language="English (British)",
                licence="research use (University of Surrey; not redistributable)",
                speakers="4 male speakers",
                multi_corpus_order=6)
