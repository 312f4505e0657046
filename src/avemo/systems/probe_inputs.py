"""The rows a speech probe (:class:`~avemo.systems.speech_probe.SpeechProbeSystem`) is fitted on and applied to:
clip statistics of Whisper encoder layers (:data:`FEATURE`), with each row's corpus and speaker, and for an
attentive global head each clip's frames (:data:`FRAMES`)."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from avemo.errors import ParameterError

#: The feature the probe reads (:class:`~avemo.features.audio.whisper_layers.WhisperStatsExtractor`).
FEATURE = "whisper_stats"
#: The frames an attentive global head pools (:class:`~avemo.features.audio.whisper_layers.WhisperFramesExtractor`).
FRAMES = "whisper_frames"


@dataclasses.dataclass
class CorpusInputs:
    """Rows of recordings from one or several corpora: ``x`` ``(n, D)`` :data:`FEATURE` vectors of the layers
    ``layers`` (layer-major, ``[mean, std]`` per layer), each row's ``corpus`` and ``speaker``, and ``frames``:
    ``None``, or an ``(n,)`` object array of each row's ``(frames, width)`` :data:`FRAMES` features (``None`` for a
    row without them, e.g. a degraded training copy)."""

    x: np.ndarray
    corpus: np.ndarray
    speaker: np.ndarray
    layers: tuple[int, ...]
    frames: np.ndarray | None = None

    @classmethod
    def create(cls, x: Any, corpus: Sequence[str], speaker: Sequence[str], layers: Sequence[int],
               frames: Sequence[np.ndarray | None] | None = None) -> "CorpusInputs":
        """Validate and convert.

        Raises:
            ParameterError: for rows of different lengths, a width that does not fit ``layers`` or frames that are
                not ``(frames >= 1, width)`` arrays.
        """
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        corpus, speaker = np.asarray(corpus, dtype=object), np.asarray(speaker, dtype=object)
        if x.ndim != 2 or not len(x) == len(corpus) == len(speaker):
            raise ParameterError(f"features {x.shape}, corpora ({len(corpus)}) and speakers ({len(speaker)}) must "
                                 "describe the same recordings")
        layers = tuple(int(i) for i in layers)
        if not layers or x.shape[1] % (2 * len(layers)):
            raise ParameterError(f"features of width {x.shape[1]} do not hold [mean, std] blocks of layers {layers}")
        if frames is not None:
            if len(frames) != len(x):
                raise ParameterError(f"frames of {len(frames)} recordings for {len(x)} rows of features")
            frames = frames_array([None if f is None else np.asarray(f, np.float32) for f in frames])
            for i, f in enumerate(frames):
                if f is not None and (f.ndim != 2 or not len(f)):
                    raise ParameterError(f"row {i}: frames must be a (frames >= 1, width) array, got shape {f.shape}")
        return cls(x, corpus, speaker, layers, frames)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def width(self) -> int:
        return self.x.shape[1] // (2 * len(self.layers))

    def take(self, index: Sequence[int]) -> "CorpusInputs":
        idx = np.asarray(index, dtype=np.int64)
        return dataclasses.replace(self, x=self.x[idx], corpus=self.corpus[idx], speaker=self.speaker[idx],
                                   frames=None if self.frames is None else self.frames[idx])

    def has_frames(self) -> np.ndarray:
        """``(n,)`` bool: the rows with :data:`FRAMES` features."""
        if self.frames is None:
            return np.zeros(len(self), bool)
        return np.array([f is not None for f in self.frames], bool)

    def is_copy(self) -> np.ndarray:
        """``(n,)`` bool: the rows of a degraded copy of a clip (their speaker names the condition:
        ``speaker#condition``, as :func:`~avemo.shipping.corpora.load_corpora` names them)."""
        return np.array(["#" in str(s) for s in self.speaker], bool)

    def without_copy_frames(self) -> "CorpusInputs":
        """These rows with the frames of the degraded copies (:meth:`is_copy`) set aside (``None``)."""
        if self.frames is None or not self.is_copy().any():
            return self
        frames = self.frames.copy()
        frames[self.is_copy()] = None
        return dataclasses.replace(self, frames=frames)

    def columns(self, layers: Sequence[int]) -> np.ndarray:
        """The ``(n, 2 * width * len(layers))`` columns of ``layers``.

        Raises:
            ParameterError: for a layer these inputs lack.
        """
        missing = [i for i in layers if i not in self.layers]
        if missing:
            raise ParameterError(f"layers {missing} are not in the features (layers {list(self.layers)})")
        block = 2 * self.width
        if tuple(layers) == self.layers:
            return self.x
        cols = np.concatenate([np.arange(self.layers.index(i) * block, (self.layers.index(i) + 1) * block)
                               for i in layers])
        return self.x[:, cols]


def frames_array(frames: Sequence[np.ndarray | None]) -> np.ndarray:
    """An ``(n,)`` object array holding each clip's frames (or ``None``) as they are (``np.asarray`` would stack
    frames of one length into one array)."""
    out = np.empty(len(frames), dtype=object)
    for i, f in enumerate(frames):
        out[i] = f
    return out


def layer_columns(matrix: np.ndarray, matrix_layers: Sequence[int], layers: Sequence[int]) -> np.ndarray:
    """The columns of ``layers`` of a ``(k, D)`` matrix laid out like :class:`CorpusInputs` rows of
    ``matrix_layers`` (e.g. class offsets)."""
    n = len(matrix)
    return CorpusInputs.create(matrix, ["?"] * n, ["?"] * n, matrix_layers).columns(layers)
