"""Berlin EmoDB (Burkhardt et al. 2005): names like ``03a01Fa.wav``: speaker 03, text a01, emotion F, version a.

Emotion letters are German initials (W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral).
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.manifest import Recording
from avemo.data.recipes.common import AUDIO_EXTENSIONS, media_files, require_some
from avemo.labels import corpus_label

NAME = re.compile(r"^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])$")
MALE_SPEAKERS = {"03", "10", "11", "12", "15"}


def prepare_emodb(corpus_dir: Path) -> list[Recording]:
    """Recordings of an EmoDB folder (the published ``wav/`` folder or its parent).

    Raises:
        CorpusError: when no EmoDB file names are found.
    """
    out = []
    for path in media_files(Path(corpus_dir), AUDIO_EXTENSIONS):
        m = NAME.match(path.stem)
        if not m:
            continue
        speaker, text, emo, version = m.groups()
        out.append(Recording(id=path.stem, path=str(path), corpus="emodb", speaker=speaker,
                             emotion=corpus_label("emodb", emo),
                             attributes={"text": text, "version": version,
                                         "gender": "male" if speaker in MALE_SPEAKERS else "female"}))
    return require_some(out, Path(corpus_dir), "03a01Fa.wav")
