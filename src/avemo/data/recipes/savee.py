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

from avemo.data.manifest import Recording
from avemo.data.recipes.common import AUDIO_EXTENSIONS, media_files
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings, SkipLog
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
    root = Path(corpus_dir)
    skips = SkipLog(CORPUS.name)
    out, seen = [], set()
    for path in media_files(root, AUDIO_EXTENSIONS):
        rel = path.relative_to(root.resolve())
        m = NAME.match(path.stem)
        if not m:
            skips.skip("unrecognised file name", str(rel))
            continue
        prefix, emo, number = m.groups()
        folder = path.parent.name.upper() if len(rel.parts) >= 2 else None
        speaker = (prefix or folder or "").upper()
        if not speaker:
            skips.skip("missing speaker id (no SPK_ prefix and no speaker folder)", str(rel))
            continue
        if prefix and folder and len(folder) == 2 and folder.isalpha() and folder != prefix.upper():
            skips.skip("speaker prefix disagrees with the folder", str(rel))
            continue
        emotion = LABELS.get(emo.lower())
        if emotion is None:
            skips.skip("unknown label code", str(rel))
            continue
        key = f"{speaker}_{emo.lower()}{number}"
        if key in seen:
            skips.skip("same take in another format", str(rel))
            continue
        seen.add(key)
        out.append(Recording(id=key, path=str(path), corpus=CORPUS.name, speaker=f"{CORPUS.name}:{speaker}",
                             emotion=emotion, attributes={"language": LANGUAGE, "gender": "male"}))
    return skips.finish(out, root, EXPECTED)


CORPUS = Corpus(name="savee", prepare=prepare_savee, modalities=("speech",), labels=LABELS,
                folders=("savee",),
                language="English (British)",
                licence="research use (University of Surrey; not redistributable)",
                speakers="4 male speakers",
                multi_corpus_order=6)
