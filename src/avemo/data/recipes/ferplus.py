"""FER+ (Barsoum et al. 2016, MIT licence): FER2013's images, each with the votes of ten annotators.

The votes file is ``ferplus.csv`` (or FER+'s own name, ``fer2013new.csv``): columns ``Usage, Image name,
neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF`` (NF = not a face), one row
per row of FER2013's ``fer2013.csv``, in that order; an empty ``Image name`` marks an image FER+ dropped.
The images come from one of three layouts of the corpus folder:

1. ``fer2013.csv`` (``emotion,pixels,Usage``) beside the votes file: row i of one is row i of the other.
2. FER+'s own folders ``FER2013Train/``, ``FER2013Valid/``, ``FER2013Test/``, each with ``label.csv`` (no header:
   image name, face box, the ten votes) and the PNGs FER+'s script writes there; no votes file is needed.
3. FER2013's image-folder release (``train/<class>/Training_<k>.jpg``, ``test/<class>/PublicTest_<k>.jpg`` …)
   with ``ferplus_map.csv`` beside it: one row per jpg, ``path`` (relative to the folder), ``usage``,
   ``ferplus_image`` (the FER+ image it is; empty where none matched), the match's ``match_corr`` and FER+'s ten
   vote counts. This is how ``../shared/data/fer2013`` is joined: its names are random numbers, and the map was
   built by matching pixel ranks. Images without a match are skipped and counted; each recording keeps its
   folder's FER2013 label (``fer2013_emotion``) and ``match_corr``.
4. The same image-folder release *without* a map, when ``k`` is the image's index within its split: the indices of
   a split must be exactly 0..n-1 (or 1..n) for the n rows of that split in the votes file; other names cannot
   be joined and get an error that says to add the map.

Cleaning: rows with an empty ``Image name`` and images whose majority vote is ``unknown`` or ``NF`` are skipped
and counted (:class:`~avemo.data.recipes.skips.RecipeRecordings`). The majority is the most-voted of the ten
columns, a tie going to the earlier column, so an image is dropped only when unknown or NF has strictly more
votes than every emotion. Each :class:`Recording` has the majority emotion (a ``ferplus8`` class) and, in
``attributes``: ``split`` (Training = FER+ Train, PublicTest = FER+ Valid, PrivateTest = FER+ Test), ``votes``
(the ten counts in the column order above), ``index`` (within the split) and, where the layout has it,
``fer2013_emotion`` (FER2013's original single label, a fer7 class). :func:`vote_targets` turns them into
training targets: the majority label, or the vote distribution over the eight emotions.

Bad input is an error naming the row or column: a votes file lacking columns, a vote that is not a count, a row
whose ten votes are all zero, a Usage that is not a split, and a votes file whose row count differs from the
images'.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from avemo.data.manifest import Recording
from avemo.data.recipes.common import IMAGE_EXTENSIONS, media_files
from avemo.data.recipes.fer2013 import SPLITS, prepare_fer2013
from avemo.data.recipes.registry import Corpus
from avemo.data.recipes.skips import RecipeRecordings, SkipLog
from avemo.errors import CorpusError, ParameterError
from avemo.labels import (ANGRY, CONTEMPT, DISGUST, FEARFUL, HAPPY, NEUTRAL, SAD, SURPRISED, canonical_emotion,
                          label_set)

#: The ten vote columns, in the votes file's order: FER+'s eight emotions, then unknown and NF (not a face).
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown",
                "NF")
EMOTION_COLUMNS = VOTE_COLUMNS[:8]
VOTES_FILES = ("ferplus.csv", "fer2013new.csv")
#: FER+'s folders (layout 2) and the FER2013 split each holds.
FERPLUS_FOLDERS = {"FER2013Train": "Training", "FER2013Valid": "PublicTest", "FER2013Test": "PrivateTest"}
_INDEXED_NAME = re.compile(r"^(Training|PublicTest|PrivateTest)_(\d+)$", re.IGNORECASE)
_SKIP_EMPTY = "dropped by FER+ (empty Image name)"
#: The join of FER2013's image-folder release to FER+ (layout 3).
MAP_FILE = "ferplus_map.csv"
MAP_COLUMNS = ("path", "usage", "ferplus_image", "match_corr")
_SKIP_NO_MATCH = f"no FER+ image matched ({MAP_FILE})"
_SKIP_MISSING = "image missing"
_SKIP_REASONS = {"unknown": "majority vote unknown", "NF": "majority vote not a face (NF)"}
#: The eight emotion vote columns (``unknown`` and ``NF``, not-a-face, are not emotions: images whose majority
#: is one of them are dropped).
LABELS = {"neutral": NEUTRAL, "happiness": HAPPY, "surprise": SURPRISED, "sadness": SAD, "anger": ANGRY,
          "disgust": DISGUST, "fear": FEARFUL, "contempt": CONTEMPT}


def prepare_ferplus(corpus_dir: Path, votes: str | Path | None = None) -> RecipeRecordings:
    """Recordings of FER+ in any of the three layouts above; ``votes`` overrides where the votes file is
    (default: ``ferplus.csv`` or ``fer2013new.csv`` in ``corpus_dir``).

    Raises:
        CorpusError: when no layout is found, for a malformed votes file (naming the row or column), or when the
            votes cannot be joined to the images (naming the split and the counts).
    """
    root = Path(corpus_dir)
    if not root.is_dir():
        raise CorpusError(f"{root}: FER+ folder not found; give the folder holding ferplus.csv and FER2013's images")
    log = SkipLog("ferplus")
    if all((root / name / "label.csv").is_file() for name in FERPLUS_FOLDERS):
        return log.finish(_from_ferplus_folders(root, log), root, "FER2013Train/label.csv and its images")
    if votes is None and (root / MAP_FILE).is_file():
        return log.finish(_from_map(root, root / MAP_FILE, log), root, f"{MAP_FILE} and FER2013's image folders")
    votes_path = Path(votes) if votes is not None else next((root / n for n in VOTES_FILES if (root / n).is_file()),
                                                            None)
    if votes_path is None or not votes_path.is_file():
        raise CorpusError(f"{root}: no FER+ votes found; put ferplus.csv (FER+'s fer2013new.csv) there, or use "
                          "FER+'s FER2013Train/, FER2013Valid/, FER2013Test/ folders with their label.csv")
    rows = read_votes(votes_path)
    if (root / "fer2013.csv").is_file():
        images = _csv_images(root / "fer2013.csv", rows, votes_path)
    elif (root / "train").is_dir() or (root / "test").is_dir():
        images = _indexed_images(root, rows, votes_path)
    else:
        raise CorpusError(f"{root}: FER+ votes but no images; put FER2013's fer2013.csv, or its train/ and test/ "
                          "folders with per-split indices in the names, beside the votes file")
    out = []
    for (line, split, index, name, counts), (path, fer_emotion) in zip(rows, images):
        rec = _recording(line, split, index, name, counts, path, log, votes_path)
        if rec is not None:
            if fer_emotion:
                rec.attributes["fer2013_emotion"] = fer_emotion
            out.append(rec)
    return log.finish(out, root, "ferplus.csv with fer2013.csv or FER2013's train/ and test/ folders")


# --- votes ------------------------------------------------------------------------------------------------------

VoteRow = tuple[int, str, int, str, list[int]]  # (line in the file, split, index in the split, image name, votes)


def read_votes(path: str | Path) -> list[VoteRow]:
    """The rows of a FER+ votes file, each ``(line, split, index within the split, image name, ten votes)``.

    Raises:
        CorpusError: for a missing column, a Usage that is not a split, or a vote that is not a count.
    """
    path = Path(path)
    out: list[VoteRow] = []
    per_split: dict[str, int] = defaultdict(int)
    columns = ("Usage", "Image name", *VOTE_COLUMNS)
    for line, split, row in _split_rows(path, "Usage", columns, f"FER+'s votes file has {', '.join(columns)}"):
        counts = parse_votes([row[c] for c in VOTE_COLUMNS], f"{path}: line {line}")
        out.append((line, split, per_split[split], (row["Image name"] or "").strip(), counts))
        per_split[split] += 1
    if not out:
        raise CorpusError(f"{path}: no rows; expected one row per FER2013 image")
    return out


def _split_rows(path: Path, usage: str, columns: Sequence[str], what: str):
    """``(line, split, row)`` of every row of a CSV whose split column ``usage`` names a FER2013 split.

    Raises:
        CorpusError: for a missing column (``what`` says which the file should have) or an unknown split.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise CorpusError(f"{path}: lacks column(s) {missing}; {what}")
        for i, row in enumerate(reader):
            line = i + 2
            split = (row[usage] or "").strip()
            if split not in SPLITS:
                raise CorpusError(f"{path}: line {line} has {usage} {split!r}; expected one of {list(SPLITS)}")
            yield line, split, row


def parse_votes(values: Sequence[str], where: str) -> list[int]:
    """Ten vote counts from their text (``where`` names the row in errors).

    Raises:
        CorpusError: naming the column of a value that is not a non-negative integer.
    """
    counts = []
    for column, value in zip(VOTE_COLUMNS, values):
        text = (value or "").strip()
        if not text.isdigit():
            raise CorpusError(f"{where}: column {column!r} is {value!r}; votes are counts (0-10)")
        counts.append(int(text))
    return counts


def majority_column(votes: Sequence[int]) -> str:
    """The most-voted of the ten columns (a tie goes to the earlier column)."""
    return VOTE_COLUMNS[int(np.argmax(np.asarray(votes)))]


def vote_distribution(votes: Sequence[int], drop_single_votes: bool = False) -> np.ndarray:
    """The eight emotion votes as a probability distribution ``(8,)`` float32 in ``ferplus8`` order (unknown and
    NF votes left out). ``drop_single_votes``: first zero every emotion with one vote (FER+'s outlier removal)
    unless that leaves none.

    Raises:
        ParameterError: when no emotion has a vote.
    """
    counts = np.asarray(votes[:8], dtype=np.float64)
    if drop_single_votes and (counts > 1).any():
        counts = np.where(counts > 1, counts, 0.0)
    total = counts.sum()
    if total <= 0:
        raise ParameterError(f"votes {list(votes)} give no emotion a vote")
    return (counts / total).astype(np.float32)


def vote_targets(recordings: Sequence[Recording], drop_single_votes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Training targets of FER+ recordings: the majority labels ``(n,)`` (indices into ``ferplus8``) and the vote
    distributions ``(n, 8)``.

    Raises:
        ParameterError: for a recording without ten ``votes`` (not from this recipe).
    """
    classes = label_set("ferplus8")
    labels, dists = [], []
    for rec in recordings:
        votes = rec.attributes.get("votes")
        if not isinstance(votes, (list, tuple)) or len(votes) != len(VOTE_COLUMNS):
            raise ParameterError(f"recording {rec.id!r} has no FER+ votes; prepare the corpus with the ferplus recipe")
        labels.append(classes.index(rec.emotion))
        dists.append(vote_distribution(votes, drop_single_votes))
    return np.asarray(labels, dtype=np.int64), np.stack(dists) if dists else np.zeros((0, 8), np.float32)


def _recording(line: int, split: str, index: int, name: str, counts: list[int], path: str, log: SkipLog,
               votes_path: Path, where: str | None = None) -> Recording | None:
    where = where or f"{split}_{index} (line {line})"
    if not name:
        log.skip(_SKIP_EMPTY, where)
        return None
    if not any(counts):
        raise CorpusError(f"{votes_path}: line {line} ({name}) has no votes (all ten columns are 0); every FER+ "
                          "image has ten votes: the file is damaged, use FER+'s original")
    majority = majority_column(counts)
    if majority in _SKIP_REASONS:
        log.skip(_SKIP_REASONS[majority], where)
        return None
    return Recording(id=f"{split}_{index}", path=path, corpus=CORPUS.name, speaker="unknown",
                     emotion=LABELS[majority],
                     attributes={"split": split, "votes": counts, "index": index, "image_name": name})


# --- images -----------------------------------------------------------------------------------------------------

def _csv_images(fer_csv: Path, rows: list[VoteRow], votes_path: Path) -> list[tuple[str, str]]:
    """(path, FER2013 label) of every votes row, from fer2013.csv's row of the same number."""
    fer = prepare_fer2013(fer_csv)
    if len(fer) != len(rows):
        raise CorpusError(f"{votes_path} has {len(rows)} rows but {fer_csv} has {len(fer)}; FER+'s rows are "
                          "fer2013.csv's rows in order, so both must be the published files")
    for (line, split, *_), rec in zip(rows, fer):
        if rec.attributes["split"] != split:
            raise CorpusError(f"{votes_path}: line {line} has Usage {split} but line {line} of {fer_csv} has "
                              f"{rec.attributes['split']}; the two files are not in the same row order")
    return [(rec.path, rec.emotion) for rec in fer]


def _indexed_images(root: Path, rows: list[VoteRow], votes_path: Path) -> list[tuple[str, str]]:
    """(path, FER2013 label) of every votes row, from the image-folder release whose names hold split indices."""
    found: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for path in media_files(root, IMAGE_EXTENSIONS):
        rel = path.relative_to(root.resolve())
        if len(rel.parts) != 3 or rel.parts[0].lower() not in ("train", "test"):
            continue
        m = _INDEXED_NAME.match(path.stem)
        if m is None:
            raise CorpusError(f"{path}: name lacks the split and index (Training_<k>, PublicTest_<k>, "
                              "PrivateTest_<k>), so it cannot be joined to the FER+ votes")
        try:
            emotion = canonical_emotion(rel.parts[1])
        except ParameterError:
            raise CorpusError(f"{path.parent}: class folder is not an emotion; FER2013's folders are angry, "
                              "disgust, fear, happy, neutral, sad, surprise") from None
        split = next(s for s in SPLITS if s.lower() == m.group(1).lower())
        found[split].append((int(m.group(2)), str(path), emotion))
    by_index: dict[str, dict[int, tuple[str, str]]] = {}
    for split in SPLITS:
        have = sorted(found.get(split, []))
        n_rows = sum(1 for r in rows if r[1] == split)
        if len(have) != n_rows:
            raise CorpusError(f"{root}: {len(have)} {split} images but {n_rows} {split} rows in {votes_path}; "
                              "the votes join the images by split and index, so the counts must match")
        low = have[0][0] if have else 0
        if [i for i, *_ in have] != list(range(low, low + len(have))) or low not in (0, 1):
            example = Path(have[-1][1]).name
            raise CorpusError(f"{root}: the {split} file names do not hold the per-split index (e.g. {example}, but "
                              f"{split} has {len(have)} rows), so the FER+ votes cannot be joined to these images; "
                              f"put the join {MAP_FILE} (or FER2013's original fer2013.csv) beside "
                              f"{votes_path.name}, or use FER+'s FER2013Train/, FER2013Valid/, FER2013Test/ folders")
        by_index[split] = {i - low: (path, emotion) for i, path, emotion in have}
    return [by_index[split][index] for _, split, index, *_ in rows]


def _from_map(root: Path, map_path: Path, log: SkipLog) -> list[Recording]:
    """Layout 3: FER2013's image folders joined to FER+ by ``ferplus_map.csv`` (one row per jpg)."""
    out = []
    per_split: dict[str, int] = defaultdict(int)
    what = "the map has path, usage, ferplus_image, match_corr, runner_up_corr and FER+'s ten vote columns"
    for line, split, row in _split_rows(map_path, "usage", (*MAP_COLUMNS, *VOTE_COLUMNS), what):
        rel = (row["path"] or "").strip()
        where = f"{rel} (line {line})"
        name = (row["ferplus_image"] or "").strip()
        if not name:
            log.skip(_SKIP_NO_MATCH, where)
            continue
        path = root / rel
        if not path.is_file():
            log.skip(_SKIP_MISSING, where)
            continue
        counts = parse_votes([row[c] for c in VOTE_COLUMNS], f"{map_path}: line {line}")
        rec = _recording(line, split, per_split[split], name, counts, str(path), log, map_path, where)
        per_split[split] += 1
        if rec is None:
            continue
        rec = dataclasses.replace(rec, id=str(Path(rel).with_suffix("")))
        parts = Path(rel).parts
        if len(parts) >= 3:
            try:
                rec.attributes["fer2013_emotion"] = canonical_emotion(parts[1])
            except ParameterError:
                pass  # a folder that is not an emotion: the FER+ label is what counts here
        rec.attributes["match_corr"] = float(row["match_corr"] or "nan")
        out.append(rec)
    return out


def _from_ferplus_folders(root: Path, log: SkipLog) -> list[Recording]:
    """Layout 2: FER+'s folders, each with a headerless label.csv of image name, face box and ten votes."""
    out = []
    for folder, split in FERPLUS_FOLDERS.items():
        label_csv = root / folder / "label.csv"
        with open(label_csv, newline="", encoding="utf-8-sig") as f:
            table = [fields for fields in csv.reader(f) if fields]
        n_images = sum(1 for _ in media_files(root / folder, IMAGE_EXTENSIONS))
        n_named = sum(1 for fields in table if fields[0].strip())
        if n_images != n_named:
            raise CorpusError(f"{label_csv} names {n_named} images but {root / folder} holds {n_images}; the images "
                              "and label.csv must come from the same FER+ generation run")
        for index, fields in enumerate(table):
            line = index + 1
            if len(fields) != 2 + len(VOTE_COLUMNS):
                raise CorpusError(f"{label_csv}: line {line} has {len(fields)} fields; expected image name, "
                                  f"face box and {len(VOTE_COLUMNS)} votes ({', '.join(VOTE_COLUMNS)})")
            name = fields[0].strip()
            counts = parse_votes(fields[2:], f"{label_csv}: line {line}")
            image = root / folder / name
            if name and not image.is_file():
                raise CorpusError(f"{label_csv}: line {line} names {name}, which is not in {root / folder}; "
                                  "the images and label.csv must come from the same FER+ generation run")
            rec = _recording(line, split, index, name, counts, str(image.resolve()), log, label_csv)
            if rec is not None:
                out.append(rec)
    return out


CORPUS = Corpus(name="ferplus", prepare=prepare_ferplus, modalities=("face",), labels=LABELS,
                folders=("fer2013",),
                licence="MIT (the votes; the images are FER2013's, research use)",
                speakers="FER2013's faces; no person ids")
