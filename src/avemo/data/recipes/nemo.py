"""nEMO (Christop 2024, LREC-COLING; CC BY-NC-SA 4.0): acted Polish emotional speech, 9 actors, 6 classes.

Layout (as published): ``<root>/data.tsv`` and ``<root>/samples/<file_id>``. ``data.tsv`` is tab-separated
with the columns ``file_id, emotion, raw_text, normalized_text, speaker_id, gender, age`` (values may carry stray
whitespace). ``file_id`` names a ``.wav``; a converted copy with another audio extension (e.g. the 16 kHz Opus
``.ogg`` copies) is found under the same stem. Speakers become ``nemo:<speaker_id>``.

Rows whose file is missing, whose emotion is not one of anger, fear, happiness, neutral, sadness, surprised, or
that lack a speaker are skipped and counted (see :mod:`avemo.data.recipes.skips`).
"""

from __future__ import annotations

import csv
from pathlib import Path

from avemo.data.manifest import Recording
from avemo.data.recipes.common import AUDIO_EXTENSIONS
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings, SkipLog
from avemo.errors import CorpusError
from avemo.labels import ANGRY, FEARFUL, HAPPY, NEUTRAL, SAD, SURPRISED

#: The ``emotion`` column of data.tsv.
LABELS = {"anger": ANGRY, "fear": FEARFUL, "happiness": HAPPY, "neutral": NEUTRAL, "sadness": SAD,
          "surprised": SURPRISED}
LANGUAGE = "pl"
COLUMNS = ("file_id", "emotion", "speaker_id")
EXPECTED = "data.tsv (file_id, emotion, ..., speaker_id, gender, age) beside samples/<SPK>_<emotion>_<n>.wav"


def _audio_by_stem(root: Path) -> dict[str, Path]:
    """Audio files of ``samples/`` (or of the root itself) by stem; the first in sorted order wins."""
    out: dict[str, Path] = {}
    for folder in (root / "samples", root):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file() and not path.name.startswith("."):
                out.setdefault(path.stem, path.resolve())
    return out


def prepare_nemo(corpus_dir: Path) -> RecipeRecordings:
    """Recordings of a nEMO folder.

    Returns:
        the recordings (a list) with ``.skipped`` counts by reason.

    Raises:
        CorpusError: when ``data.tsv`` is missing or lacks the needed columns, or no row could be used.
    """
    root = Path(corpus_dir)
    table = root / "data.tsv"
    if not table.is_file():
        raise CorpusError(f"{root}: nEMO's data.tsv not found; expected {EXPECTED}")
    files = _audio_by_stem(root)
    skips = SkipLog(CORPUS.name)
    out, listed = [], set()
    with open(table, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [(name or "").strip() for name in (reader.fieldnames or [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise CorpusError(f"{table}: lacks column(s) {missing}; expected {EXPECTED}")
        reader.fieldnames = header
        for n, row in enumerate(reader, 2):
            row = {k: (v or "").strip() for k, v in row.items() if k is not None}
            file_id = row.get("file_id", "")
            stem = Path(file_id).stem
            name = file_id or f"data.tsv line {n}"
            listed.add(stem)
            emotion = LABELS.get(row.get("emotion", "").lower())
            if not stem:
                skips.skip("row without file_id", name)
            elif emotion is None:
                skips.skip("unknown label code", f"{name} ({row.get('emotion', '')!r})")
            elif not row.get("speaker_id"):
                skips.skip("row without speaker_id", name)
            elif stem not in files:
                skips.skip("missing file", name)
            else:
                attributes = {"language": LANGUAGE}
                gender = row.get("gender", "").lower()
                if gender in ("male", "female"):
                    attributes["gender"] = gender
                if row.get("age", "").isdigit():
                    attributes["age"] = int(row["age"])
                if row.get("raw_text"):
                    attributes["text"] = row["raw_text"]
                out.append(Recording(id=stem, path=str(files[stem]), corpus=CORPUS.name,
                                     speaker=f"{CORPUS.name}:{row['speaker_id']}", emotion=emotion,
                                     attributes=attributes))
    for stem in sorted(set(files) - listed):
        skips.skip("audio file not listed in data.tsv", files[stem].name)
    return skips.finish(out, root, EXPECTED)


CORPUS = Corpus(name="nemo", prepare=prepare_nemo, modalities=("speech",), labels=LABELS,
                folders=("nemo",),
                language="Polish",
                licence="CC BY-NC-SA 4.0",
                speakers="9 actors",
                multi_corpus_order=1)
