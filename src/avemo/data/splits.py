"""Folds by explicit speaker ids: no speaker is ever in two of (train, validation, test).

The default protocol for RAVDESS is the EmoBox 6-fold split (Interspeech 2024). Validation speakers (for
early stopping and calibration) are drawn from each fold's training speakers. Leave-one-speaker-out and a
random (speaker-leaking) split exist to show the leakage gap, nothing else.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from typing import Sequence

import numpy as np

from avemo.data.manifest import Recording
from avemo.errors import ParameterError

#: EmoBox RAVDESS 6-fold protocol: test actors of each fold.
RAVDESS_6FOLD: tuple[tuple[str, ...], ...] = (
    ("01", "11", "20", "21"), ("04", "10", "12", "14"), ("08", "09", "19", "23"),
    ("03", "05", "07", "24"), ("02", "15", "16", "18"), ("06", "13", "17", "22"),
)


@dataclasses.dataclass(frozen=True)
class Fold:
    """Indices into a recording list for one fold, and the speakers behind them."""

    name: str
    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]
    test_speakers: tuple[str, ...]
    val_speakers: tuple[str, ...]


def speaker_folds(recordings: Sequence[Recording], test_groups: Sequence[Sequence[str]],
                  n_val_speakers: int = 2, seed: int = 0) -> list[Fold]:
    """Folds whose test speakers are given explicitly; validation speakers come from the rest.

    Validation speakers are balanced by the ``gender`` attribute when the corpus records it.

    Raises:
        ParameterError: if a test speaker is absent from the recordings or a fold would have no training data.
    """
    by_speaker: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(recordings):
        by_speaker[r.speaker].append(i)
    gender = {r.speaker: r.attributes.get("gender", "") for r in recordings}
    folds = []
    for k, group in enumerate(test_groups):
        missing = [s for s in group if s not in by_speaker]
        if missing:
            raise ParameterError(f"fold {k + 1}: test speakers {missing} have no recordings; "
                                 "is the corpus complete?")
        rest = sorted(s for s in by_speaker if s not in group)
        val = _pick_validation(rest, gender, n_val_speakers, random.Random(seed * 1000 + k))
        train = [s for s in rest if s not in val]
        if not train:
            raise ParameterError(f"fold {k + 1}: no training speakers left; use fewer validation speakers")
        folds.append(Fold(name=f"fold{k + 1}", train=_indices(by_speaker, train), val=_indices(by_speaker, val),
                          test=_indices(by_speaker, group), test_speakers=tuple(group), val_speakers=tuple(val)))
    return folds


def ravdess_6fold(recordings: Sequence[Recording], n_val_speakers: int = 2, seed: int = 0) -> list[Fold]:
    """The EmoBox RAVDESS 6-fold speaker-independent protocol."""
    return speaker_folds(recordings, RAVDESS_6FOLD, n_val_speakers, seed)


def leave_one_speaker_out(recordings: Sequence[Recording], n_val_speakers: int = 2, seed: int = 0) -> list[Fold]:
    """One fold per speaker, that speaker being the test set."""
    speakers = sorted({r.speaker for r in recordings})
    if len(speakers) < n_val_speakers + 2:
        raise ParameterError(f"leave-one-speaker-out needs at least {n_val_speakers + 2} speakers, "
                             f"found {len(speakers)}")
    return speaker_folds(recordings, [(s,) for s in speakers], n_val_speakers, seed)


def random_split(recordings: Sequence[Recording], n_folds: int = 6, val_fraction: float = 0.1,
                 seed: int = 0) -> list[Fold]:
    """Stratified random folds that IGNORE speakers: speakers leak into the test set. Only to show the gap."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    labels = np.array([r.emotion for r in recordings])
    folds = []
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(skf.split(np.zeros(len(labels)), labels)):
        train, val = train_test_split(train, test_size=val_fraction, stratify=labels[train], random_state=seed)
        folds.append(Fold(name=f"random{k + 1}", train=tuple(sorted(train)), val=tuple(sorted(val)),
                          test=tuple(sorted(test)), test_speakers=("random",), val_speakers=("random",)))
    return folds


PROTOCOLS = {"ravdess-6fold": ravdess_6fold, "loso": leave_one_speaker_out, "random": random_split}


def make_folds(protocol: str, recordings: Sequence[Recording], **options) -> list[Fold]:
    """Folds of a named protocol: ``ravdess-6fold`` (default for RAVDESS), ``loso`` or ``random``.

    Raises:
        ParameterError: for an unknown protocol.
    """
    if protocol not in PROTOCOLS:
        raise ParameterError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[protocol](recordings, **options)


def _pick_validation(speakers: list[str], gender: dict[str, str], n: int, rng: random.Random) -> list[str]:
    groups: dict[str, list[str]] = defaultdict(list)
    for s in speakers:
        groups[gender.get(s, "")].append(s)
    for g in groups.values():
        rng.shuffle(g)
    order = [s for batch in zip(*groups.values()) for s in batch] if len(groups) > 1 else groups[""]
    leftovers = [s for g in groups.values() for s in g if s not in order]
    return sorted((order + leftovers)[:n])


def _indices(by_speaker: dict[str, list[int]], speakers: Sequence[str]) -> tuple[int, ...]:
    return tuple(sorted(i for s in speakers for i in by_speaker[s]))
