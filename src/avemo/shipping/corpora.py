"""Several acted-speech corpora side by side, as the multi-corpus speech system and the cross-corpus benchmark read
them: the recordings of each corpus (through its recipe), their class indices on one label set, and the clip
statistics of Whisper layers (:class:`~avemo.systems.probe_inputs.CorpusInputs`).

``data_root`` is a folder holding one folder per corpus, as ``../shared/data`` does: ``ravdess/speech16k`` (or
``ravdess/``), ``nemo/``, ``emovo/``, ``turev/``, ``urdu/``, ``cremad/``, ``savee/``, ``ased/`` (each corpus's
``folders``, declared in its recipe module: :mod:`avemo.data.recipes.registry`).
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Sequence

import numpy as np

from avemo.data.manifest import Recording
from avemo.data.recipes.registry import CorpusTable, corpora, get_corpus
from avemo.data.recipes.skips import RecipeRecordings
from avemo.errors import ParameterError
from avemo.labels import label_set
from avemo.systems.probe_inputs import FEATURE, FRAMES, CorpusInputs, frames_array

log = logging.getLogger("avemo.shipping.corpora")

#: The corpora of the multi-corpus system (those with a ``multi_corpus_order``, in that order), and where each lives
#: under ``data_root``.
CORPUS_FOLDERS: CorpusTable[tuple[str, ...]] = CorpusTable(
    lambda c: c.folders if c.multi_corpus_order is not None else None, order=lambda c: c.multi_corpus_order)
#: Languages, for model cards.
LANGUAGES: CorpusTable[str] = CorpusTable(lambda c: c.language)


def corpus_folder(data_root: str | os.PathLike, corpus: str) -> Path:
    """The folder of ``corpus`` under ``data_root`` (the first of its ``folders`` that exists).

    Raises:
        ParameterError: for an unknown corpus, one with no usual folder, or a missing folder.
    """
    folders = get_corpus(corpus).folders
    if not folders:
        raise ParameterError(f"{corpus}: has no usual folder under a data root; choose among "
                             f"{sorted(n for n, c in corpora().items() if c.folders)}")
    for sub in folders:
        if (Path(data_root) / sub).is_dir():
            return Path(data_root) / sub
    raise ParameterError(f"{corpus}: no folder {folders[0]!r} under {str(data_root)!r}; give the "
                         "folder that holds the corpora (e.g. ../shared/data)")


def load_corpora(data_root: str | os.PathLike, corpora: Sequence[str] = tuple(CORPUS_FOLDERS),
                 labels: str = "ravdess8", model: str = "base", loudness_db: float | None = -23.0,
                 cache: str | None = "default", jobs: int = 1, condition: str | None = None, vad: bool = False,
                 backend: str = "torch", frames: bool = False
                 ) -> tuple[list[Recording], np.ndarray, CorpusInputs, dict[str, float]]:
    """Recordings, class indices, :class:`CorpusInputs` (every layer of ``model``) and the seconds spent extracting
    each corpus's features (0 when cached). ``condition``: the recordings under a recording condition
    (:mod:`avemo.features.audio.degrade`); their speakers are then named ``speaker#condition``. ``vad``: each clip
    trimmed to its speech first (Silero VAD). ``backend``: what runs the Whisper encoder (``torch``, the reference
    every model is trained on, or ``onnx-f32`` / ``onnx-int8``, cached apart). ``frames``: each clip's
    :data:`~avemo.systems.probe_inputs.FRAMES` features too (for an attentive global head; their seconds are added
    to the corpus's).

    What a corpus holds that cannot be used is skipped, counted and logged, never guessed: files its recipe does
    not recognise (unknown label codes, names without a speaker) and clips that cannot be decoded. The returned
    recordings list is a :class:`~avemo.data.recipes.skips.RecipeRecordings` whose ``skipped`` maps
    ``"corpus: reason"`` to a count and ``skipped_examples`` to the first few files.

    Raises:
        ParameterError: for a missing corpus folder or labels outside ``labels``.
    """
    from avemo.data.recipes import prepare
    from avemo.data.recipes.skips import SkipLog
    from avemo.features.base import create_extractor
    from avemo.features.store import FeatureStore, extract_all

    classes = label_set(labels)
    extractor = create_extractor(FEATURE, model=model, loudness_db=loudness_db, condition=condition, vad=vad,
                                 backend=backend)
    extractors = {FEATURE: extractor}
    if frames:
        extractors[FRAMES] = create_extractor(FRAMES, model=model, loudness_db=loudness_db, condition=condition,
                                              vad=vad, backend=backend)
    store = FeatureStore(cache)
    recordings: list[Recording] = []
    vectors: list[np.ndarray] = []
    clip_frames: list[np.ndarray] = []
    seconds: dict[str, float] = {}
    skips = SkipLog("multi-corpus")
    for corpus in corpora:
        options = {"modalities": ("audio-only",), "vocal_channels": ("speech",)} if corpus == "ravdess" else {}
        found = prepare(corpus, corpus_folder(data_root, corpus), **options)
        for reason, count in getattr(found, "skipped", {}).items():  # what the recipe could not read
            skips.counts[f"{corpus}: {reason}"] += count
            skips.examples[f"{corpus}: {reason}"] = list(found.skipped_examples.get(reason, []))
        bad = sorted({r.emotion for r in found} - set(classes))
        if bad:
            raise ParameterError(f"{corpus}: labels {bad} are not in the label set {labels}")
        errors: dict[int, str] = {}
        features, took = extract_all(found, extractors, store, jobs, errors=errors)
        for _, message in sorted(errors.items()):
            skips.skip(f"{corpus}: unreadable clip", message)
        seconds[corpus] = round(sum(took.values()), 1)
        recordings += [r for i, r in enumerate(found) if i not in errors]
        vectors += [v for i, v in enumerate(features[FEATURE]) if i not in errors]
        if frames:
            clip_frames += [v for i, v in enumerate(features[FRAMES]) if i not in errors]
    if skips.counts:
        log.warning("skipped %d entries of the corpora: %s", sum(skips.counts.values()), skips.summary())
    recordings = RecipeRecordings(recordings, "multi-corpus", dict(skips.counts),
                                  {k: list(v) for k, v in skips.examples.items()})
    y = np.array([classes.index(r.emotion) for r in recordings], dtype=np.int64)
    inputs = CorpusInputs.create(np.stack(vectors), [r.corpus for r in recordings],
                                 [(r.speaker if ":" in r.speaker else f"{r.corpus}:{r.speaker}")
                                  + (f"#{condition}" if condition else "") for r in recordings],
                                 extractor.config.layer_list, clip_frames if frames else None)
    return recordings, y, inputs, seconds


def stack_inputs(parts: Sequence[CorpusInputs]) -> CorpusInputs:
    """The rows of ``parts`` one after the other (features of the same layers: e.g. the corpora's clips and then
    their degraded copies); frames where any part has them (``None`` for the rows of a part without)."""
    frames = None
    if any(p.frames is not None for p in parts):
        frames = frames_array([f for p in parts for f in (p.frames if p.frames is not None else [None] * len(p))])
    return CorpusInputs(np.concatenate([p.x for p in parts]), np.concatenate([p.corpus for p in parts]),
                        np.concatenate([p.speaker for p in parts]), parts[0].layers, frames)


def validation_speakers(inputs: CorpusInputs, rows: np.ndarray, fraction: float, seed: int) -> set[str]:
    """About ``fraction`` of the speakers of each corpus among ``rows`` (at least one), drawn with ``seed``."""
    chosen: set[str] = set()
    for corpus in sorted(set(inputs.corpus[rows])):
        speakers = sorted(set(inputs.speaker[rows][inputs.corpus[rows] == corpus]))
        random.Random(f"{seed}:{corpus}").shuffle(speakers)
        chosen |= set(speakers[: max(1, round(fraction * len(speakers)))])
    return chosen
