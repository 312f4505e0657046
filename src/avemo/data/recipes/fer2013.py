"""FER2013 (Goodfellow et al. 2013) in both published forms.

- The image-folder release: ``train/<class>/*.jpg`` (Training) and ``test/<class>/{PublicTest,PrivateTest}_*.jpg``.
- The original Kaggle file ``fer2013.csv`` with columns ``emotion,pixels,Usage`` (48x48 gray pixels as text;
  Usage is Training, PublicTest or PrivateTest).

Both become :class:`Recording` s with ``attributes["split"]``; a CSV row is addressed as ``<csv path>#<row>``.
The protocol: train on Training, select on PublicTest, report PrivateTest. Faces carry no person id, so every
recording gets speaker ``"unknown"``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from avemo.data.manifest import Recording
from avemo.data.recipes.common import IMAGE_EXTENSIONS, media_files, require_some
from avemo.data.recipes.registry import Corpus
from avemo.errors import CorpusError, ParameterError
from avemo.labels import ANGRY, DISGUST, FEARFUL, HAPPY, NEUTRAL, SAD, SURPRISED, canonical_emotion

SPLITS = ("Training", "PublicTest", "PrivateTest")
FER_SIDE = 48
_TEST_NAME = re.compile(r"^(PublicTest|PrivateTest)_", re.IGNORECASE)
CSV_ROW = "#"
#: The CSV's emotion indices 0-6 and the image-folder release's class folders.
LABELS = {"0": ANGRY, "1": DISGUST, "2": FEARFUL, "3": HAPPY, "4": SAD, "5": SURPRISED, "6": NEUTRAL,
          "angry": ANGRY, "disgust": DISGUST, "fear": FEARFUL, "happy": HAPPY, "sad": SAD, "surprise": SURPRISED,
          "neutral": NEUTRAL}


def prepare_fer2013(corpus_dir: Path) -> list[Recording]:
    """Recordings of a FER2013 folder (image-folder release) or of ``fer2013.csv`` (the file or its folder).

    Raises:
        CorpusError: when neither layout is found, or for a class folder / CSV label that is not an emotion.
    """
    root = Path(corpus_dir)
    csv_path = root if root.suffix.lower() == ".csv" else root / "fer2013.csv"
    if csv_path.is_file():
        return _prepare_csv(csv_path)
    if not root.is_dir():
        raise CorpusError(f"{root}: FER2013 not found; give the folder with train/ and test/ or the fer2013.csv file")
    out = []
    for path in media_files(root, IMAGE_EXTENSIONS):
        rel = path.relative_to(root.resolve())
        if len(rel.parts) < 3 or rel.parts[0].lower() not in ("train", "test"):
            continue
        try:
            emotion = canonical_emotion(rel.parts[1])
        except ParameterError:
            raise CorpusError(f"{root / rel.parts[0] / rel.parts[1]}: class folder is not an emotion; FER2013's "
                              "folders are angry, disgust, fear, happy, neutral, sad, surprise") from None
        if rel.parts[0].lower() == "train":
            split = "Training"
        else:
            m = _TEST_NAME.match(path.name)
            split = {"publictest": "PublicTest", "privatetest": "PrivateTest"}[m.group(1).lower()] if m else "Test"
        out.append(Recording(id=str(rel.with_suffix("")), path=str(path), corpus=CORPUS.name, speaker="unknown",
                             emotion=emotion,
                             attributes={"split": split}))
    return require_some(out, root, "train/<class>/*.jpg and test/<class>/PrivateTest_*.jpg")


def _prepare_csv(path: Path) -> list[Recording]:
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
        if missing:
            raise CorpusError(f"{path}: lacks column(s) {sorted(missing)}; FER2013's CSV has emotion,pixels,Usage")
        for i, row in enumerate(reader):
            emotion = LABELS.get(row["emotion"].strip())
            if emotion is None:
                raise CorpusError(f"{path}: row {i + 2} has emotion {row['emotion']!r}; expected 0-6")
            split = row["Usage"].strip()
            if split not in SPLITS:
                raise CorpusError(f"{path}: row {i + 2} has Usage {split!r}; expected one of {list(SPLITS)}")
            out.append(Recording(id=f"{split}_{i}", path=f"{path.resolve()}{CSV_ROW}{i}", corpus=CORPUS.name,
                                 speaker="unknown", emotion=emotion, attributes={"split": split}))
    return require_some(out, path, "rows of emotion,pixels,Usage")


def read_csv_pixels(path: str | Path) -> dict[int, np.ndarray]:
    """Every row's 48x48 uint8 image of a ``fer2013.csv``, by row number.

    Raises:
        CorpusError: for a row whose pixels are not 2304 numbers in 0-255.
    """
    images = {}
    with open(path, newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            try:
                values = np.array(row["pixels"].split(), dtype=np.int32)
            except (ValueError, KeyError, AttributeError):
                values = np.zeros(0, dtype=np.int32)
            if values.size != FER_SIDE * FER_SIDE or values.min() < 0 or values.max() > 255:
                raise CorpusError(f"{path}: row {i + 2} does not hold {FER_SIDE}x{FER_SIDE} pixel values in 0-255")
            images[i] = values.astype(np.uint8).reshape(FER_SIDE, FER_SIDE)
    return images


CORPUS = Corpus(name="fer2013", prepare=prepare_fer2013, modalities=("face",), labels=LABELS,
                folders=("fer2013",),
                licence="research use (ICML 2013 representation-learning challenge)",
                speakers="faces found by web image search; no person ids")
