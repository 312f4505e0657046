"""One interface for every feature extractor, built from a small config dataclass and registered by name.

An extractor turns a mono float32 signal into either a frame matrix ``(frames, dim)`` (``kind="frames"``,
at ``frame_rate`` frames per second) or a functionals vector ``(dim,)`` (``kind="functionals"``).
The config's dict, with the extractor's ``version``, is the cache key.
"""

from __future__ import annotations

import dataclasses
import os
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

import numpy as np

from avemo.errors import ParameterError
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio, validate_signal

if TYPE_CHECKING:
    from avemo.features.store import FeatureStore


@dataclasses.dataclass(frozen=True)
class ExtractorConfig:
    """Base of every extractor's settings; subclasses add fields with defaults.

    ``trim_db``: when set, leading and trailing audio quieter than this many dB below the clip's peak is cut
    before extraction, so pooled statistics describe the speech rather than the silence around it.
    """

    trim_db: float | None = None


class FeatureExtractor(ABC):
    """Base class: ``process_signal``, ``process_file`` and ``process_files`` all return arrays of one kind."""

    name: ClassVar[str]
    config_class: ClassVar[type[ExtractorConfig]] = ExtractorConfig
    kind: ClassVar[str] = "frames"  # "frames" or "functionals"
    version: ClassVar[int] = 1  # bump when the output changes for the same config
    sampling_rate: ClassVar[int] = TARGET_SAMPLING_RATE
    min_duration: ClassVar[float] = 0.0  # seconds of audio needed at least

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        base = config if config is not None else self.config_class()
        try:
            self.config = dataclasses.replace(base, **overrides)
        except TypeError as exc:
            fields = [f.name for f in dataclasses.fields(self.config_class)]
            raise ParameterError(f"extractor {self.name!r}: {exc}; its settings are {fields}") from None

    @property
    @abstractmethod
    def dim(self) -> int:
        """Feature dimension (columns of a frame matrix, or length of a functionals vector)."""

    @property
    def frame_rate(self) -> float | None:
        """Frames per second for ``kind="frames"``; ``None`` for functionals."""
        return None

    @abstractmethod
    def _extract(self, signal: np.ndarray) -> np.ndarray:
        """Compute features of a validated float32 mono signal at ``self.sampling_rate``."""

    def process_signal(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        """Features of an in-memory signal: ``(frames, dim)`` or ``(dim,)`` float32.

        Raises:
            ParameterError, MediaDecodeError: for a bad signal (NaN, wrong shape, too short).
        """
        from avemo.io.audio import resample

        signal = validate_signal(signal, sampling_rate)
        if sampling_rate != self.sampling_rate:
            signal = resample(signal, sampling_rate, self.sampling_rate)
        if self.config.trim_db is not None:
            signal = trim_silence(signal, self.config.trim_db, self.sampling_rate)
        validate_signal(signal, self.sampling_rate, self.min_duration)
        out = np.asarray(self._extract(signal), dtype=np.float32)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)

    def process_file(self, path: str | os.PathLike, start: float | None = None,
                     end: float | None = None) -> np.ndarray:
        """Features of a file (or a segment of it, bounds in seconds)."""
        signal = load_audio(path, self.sampling_rate, start=start, end=end)
        try:
            return self.process_signal(signal, self.sampling_rate)
        except ParameterError as exc:
            raise type(exc)(f"{path}: {exc}") from None

    def process_files(self, paths: Iterable[str | os.PathLike], store: "FeatureStore | None" = None,
                      progress: bool = True, jobs: int = 1) -> list[np.ndarray]:
        """Features of many files, through the cache when ``store`` is given; in input order."""
        from avemo.features.store import FeatureStore

        store = store or FeatureStore(None)
        return store.get_many(self, list(paths), progress=progress, jobs=jobs)

    def cache_key(self) -> dict[str, Any]:
        """A JSON-able dict that identifies this extractor's output exactly."""
        settings = dataclasses.asdict(self.config)
        if settings.get("trim_db") is None:
            settings.pop("trim_db", None)  # untrimmed keys stay as they were before trimming existed
        return {"extractor": self.name, "version": self.version, "sampling_rate": self.sampling_rate, **settings}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"


def trim_silence(signal: np.ndarray, top_db: float, sampling_rate: int, min_duration: float = 0.25) -> np.ndarray:
    """Cut leading/trailing parts quieter than ``top_db`` below the peak (25 ms frames, 10 ms hop); the result is
    never shorter than ``min_duration`` seconds (the loudest part is kept when the speech is shorter)."""
    import librosa

    frame, hop = int(0.025 * sampling_rate), int(0.010 * sampling_rate)
    if len(signal) <= frame:
        return signal
    _, (start, end) = librosa.effects.trim(signal, top_db=top_db, frame_length=frame, hop_length=hop)
    need = int(min_duration * sampling_rate)
    if end - start < need:
        centre = (start + end) // 2
        start = max(0, min(centre - need // 2, len(signal) - need))
        end = min(len(signal), start + need)
    return signal[start:end]


_REGISTRY: dict[str, type[FeatureExtractor]] = {}


def register_extractor(cls: type[FeatureExtractor]) -> type[FeatureExtractor]:
    """Class decorator: make an extractor available to :func:`create_extractor` under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    import avemo.features.audio  # noqa: F401  (registers the audio extractors)


def list_extractors() -> list[str]:
    """Names of every registered extractor."""
    _load_builtin()
    return sorted(_REGISTRY)


def create_extractor(name: str, **overrides: Any) -> FeatureExtractor:
    """Build a registered extractor by name, with config overrides.

    Raises:
        ParameterError: for an unknown name or setting.
    """
    _load_builtin()
    if name not in _REGISTRY:
        raise ParameterError(f"unknown feature extractor {name!r}; choose one of {sorted(_REGISTRY)}")
    return _REGISTRY[name](**overrides)
