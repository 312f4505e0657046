"""Turn per-recording extractor outputs into model inputs: frame pooling, vector features, standardisation.

``features`` below is a dict mapping an extractor name to one array per recording (frames ``(T, D)`` or
functionals ``(D,)``), in the same recording order for every extractor.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from avemo.errors import ParameterError

Features = dict[str, list[np.ndarray]]
POOLINGS = ("mean", "meanstd", "std")


def take(features: Features, index: Sequence[int]) -> Features:
    """The subset of recordings ``index`` of every extractor's outputs."""
    return {name: [arrays[i] for i in index] for name, arrays in features.items()}


def pool_frames(frames: np.ndarray, factor: int) -> np.ndarray:
    """Average-pool a ``(T, D)`` frame matrix over time by ``factor`` (the last partial group is kept)."""
    if factor <= 1 or len(frames) == 0:
        return frames
    t = len(frames)
    pad = (-t) % factor
    padded = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)]) if pad else frames
    return padded.reshape(-1, factor, frames.shape[1]).mean(axis=1)


def vector_feature(spec: str, features: Features) -> np.ndarray:
    """``(n, D)`` matrix of one vector feature: ``name`` (functionals) or ``name:pooling`` (pooled frames).

    Raises:
        ParameterError: for an unknown pooling or a frames extractor used without one.
    """
    name, _, pooling = spec.partition(":")
    if name not in features:
        raise ParameterError(f"vector feature {spec!r} needs extractor {name!r}, which was not computed")
    arrays = features[name]
    if not pooling:
        if arrays and arrays[0].ndim != 1:
            raise ParameterError(f"{name!r} gives frames; name a pooling, e.g. {name}:meanstd")
        return np.stack(arrays).astype(np.float32)
    if pooling not in POOLINGS:
        raise ParameterError(f"unknown pooling {pooling!r} in {spec!r}; choose one of {POOLINGS}")
    rows = []
    for a in arrays:
        parts = {"mean": [a.mean(0)], "std": [a.std(0)], "meanstd": [a.mean(0), a.std(0)]}[pooling]
        rows.append(np.concatenate(parts))
    return np.stack(rows).astype(np.float32)


def vector_matrix(specs: Sequence[str], features: Features) -> np.ndarray:
    """Horizontal concatenation of several vector features, ``(n, sum D)``."""
    return np.hstack([vector_feature(s, features) for s in specs]).astype(np.float32)


class Standardizer:
    """Per-dimension z-scoring with statistics from training data (frames pooled over all frames)."""

    def __init__(self, eps: float = 1e-5) -> None:
        self.eps = eps

    def fit(self, arrays: Sequence[np.ndarray] | np.ndarray) -> "Standardizer":
        stacked = np.concatenate(list(arrays)) if not isinstance(arrays, np.ndarray) else arrays
        self.mean_ = stacked.mean(axis=0).astype(np.float32)
        self.std_ = (stacked.std(axis=0) + self.eps).astype(np.float32)
        return self

    def transform(self, array: np.ndarray) -> np.ndarray:
        return ((array - self.mean_) / self.std_).astype(np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "std": self.std_}

    @classmethod
    def from_state(cls, mean: np.ndarray, std: np.ndarray) -> "Standardizer":
        out = cls()
        out.mean_, out.std_ = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        return out


@dataclasses.dataclass
class AVInputs:
    """The inputs of the audio-visual systems, one row per recording: ``speech`` ``(n, D)`` speech vector
    features, ``au`` ``(n, 35)`` clip-mean OpenFace action units, ``au_present`` ``(n,)`` (False where a
    recording has no tracked face; its AU row is ignored), ``person`` ``(n,)`` who each recording is of (for
    per-person adaptation; ``None`` when unknown) and ``speech_copies``: for training only, the speech vectors of
    copies of every recording, one ``(n, D)`` matrix per copy (e.g. each clip played faster or slower, as another
    voice), row ``i`` a copy of recording ``i``; the global speech regression trains on them beside the recordings."""

    speech: np.ndarray
    au: np.ndarray
    au_present: np.ndarray
    person: np.ndarray | None = None
    speech_copies: tuple[np.ndarray, ...] = ()

    @classmethod
    def create(cls, speech: np.ndarray, au: np.ndarray, au_present: np.ndarray | None = None,
               person: Sequence[str] | None = None) -> "AVInputs":
        """Validate and convert (``au_present=None``: rows without NaN).

        Raises:
            ParameterError: for arrays of the wrong shape or of different lengths.
        """
        xs, xa = np.asarray(speech, np.float32), np.asarray(au, np.float32)
        if xs.ndim == 1:
            xs = xs[None, :]
        if xa.ndim == 1:
            xa = xa[None, :]
        if xs.ndim != 2 or xa.ndim != 2:
            raise ParameterError(f"speech and AUs must be (n, D) matrices, got {xs.shape} and {xa.shape}")
        present = ~np.isnan(xa).any(axis=1) if au_present is None else np.asarray(au_present, bool)
        people = None if person is None else np.asarray([str(p) for p in person], dtype=object)
        if not len(xs) == len(xa) == len(present) == (len(xs) if people is None else len(people)):
            raise ParameterError(f"speech ({len(xs)}), AUs ({len(xa)}), the AU mask ({len(present)}) and the "
                                 f"people ({'-' if people is None else len(people)}) must describe the same "
                                 "recordings")
        return cls(xs, xa, present, people)

    def __len__(self) -> int:
        return len(self.speech)

    def take(self, index: Sequence[int]) -> "AVInputs":
        """The rows ``index``."""
        idx = np.asarray(index, dtype=np.int64)
        return AVInputs(self.speech[idx], self.au[idx], self.au_present[idx],
                        None if self.person is None else self.person[idx], tuple(c[idx] for c in self.speech_copies))

    def with_people(self, person: Sequence[str]) -> "AVInputs":
        """The same rows with ``person`` ``(n,)`` saying who each is of.

        Raises:
            ParameterError: for a wrong length.
        """
        return dataclasses.replace(AVInputs.create(self.speech, self.au, self.au_present, person),
                                   speech_copies=self.speech_copies)

    def with_speech_copies(self, copies: Sequence[np.ndarray]) -> "AVInputs":
        """The same rows with ``copies`` (see the class docstring) to train the speech regression on too.

        Raises:
            ParameterError: for a copy whose shape is not that of ``speech``.
        """
        copies = tuple(np.asarray(c, np.float32) for c in copies)
        bad = [c.shape for c in copies if c.shape != self.speech.shape]
        if bad:
            raise ParameterError(f"each speech copy must be {self.speech.shape} (one row per recording), got {bad}")
        return dataclasses.replace(self, speech_copies=copies)

    def per_person(self, priors: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None, tau: float = 0.0,
                   min_recordings: int = 2) -> tuple["AVInputs", dict[str, np.ndarray]]:
        """Each person's speech rows, and AU rows with a face, standardised by that person's own statistics
        (:func:`~avemo.systems.person_stats.standardise_by_speaker`, shrunk towards ``priors[modality]`` by
        ``tau`` recordings), and ``{"speech": mask, "action_units": mask}`` of the rows that were (people with
        fewer than ``min_recordings`` (at least two) such rows keep their raw values: the caller scores them with its
        global model).

        Raises:
            ParameterError: when the inputs do not say who each row is of.
        """
        from avemo.systems.person_stats import standardise_by_speaker

        if self.person is None:
            raise ParameterError("per-person adaptation needs to know who each recording is of; build the inputs "
                                 "with person=... (e.g. a speaker key)")
        priors = priors or {}
        speech, speech_done = standardise_by_speaker(self.speech, self.person, priors.get("speech"), tau)
        au, au_done = standardise_by_speaker(self.au, self.person, priors.get("action_units"), tau,
                                             stats_rows=self.au_present)
        au_done &= self.au_present
        if min_recordings > 2:
            people, index = np.unique(self.person, return_inverse=True)
            for done in (speech_done, au_done):
                done &= np.bincount(index, weights=done, minlength=len(people))[index] >= min_recordings
        return (AVInputs(speech, np.where(au_done[:, None], au, self.au), self.au_present, self.person),
                {"speech": speech_done, "action_units": au_done})  # no copies: they have statistics of their own
