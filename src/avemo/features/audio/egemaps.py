"""eGeMAPS v02 acoustic parameters with openSMILE: 88 functionals per clip, or 25 low-level descriptors per frame.

The ``opensmile.Smile`` object is created on first use and cached on the instance, but never pickled, so
extractors can be sent to worker processes. Clips shorter than openSMILE's 60 ms pitch window are
zero-padded to 0.06 s (openSMILE would otherwise return all-NaN rows).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from avemo.features.base import ExtractorConfig, FeatureExtractor, register_extractor

#: Shortest input openSMILE's eGeMAPS configs give finite values for (one 60 ms pitch window).
MIN_SAMPLES = 960


@dataclasses.dataclass(frozen=True)
class EgemapsConfig(ExtractorConfig):
    """eGeMAPS has no tunable settings; the feature set version is fixed at v02."""


class _SmileExtractor(FeatureExtractor):
    """Shared lazy-``Smile`` plumbing for the two eGeMAPS levels."""

    config_class = EgemapsConfig
    _feature_level: str = "Functionals"

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._smile = None

    @property
    def smile(self):
        """The ``opensmile.Smile`` object, built on first access."""
        if self._smile is None:
            import opensmile

            self._smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                          feature_level=getattr(opensmile.FeatureLevel, self._feature_level))
        return self._smile

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_smile"] = None
        return state

    def _run(self, signal: np.ndarray) -> np.ndarray:
        if signal.size < MIN_SAMPLES:
            signal = np.pad(signal, (0, MIN_SAMPLES - signal.size))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Segment too short")
            return self.smile.process_signal(signal, self.sampling_rate).to_numpy(dtype=np.float32)


@register_extractor
class EgemapsExtractor(_SmileExtractor):
    """eGeMAPSv02 functionals of the whole clip: shape ``(88,)`` (openSMILE's units: Hz, dB, semitones, ...)."""

    name = "egemaps"
    kind = "functionals"
    _feature_level = "Functionals"

    @property
    def dim(self) -> int:
        return 88

    def _extract(self, signal: np.ndarray) -> np.ndarray:
        return self._run(signal)[0]


@register_extractor
class EgemapsLldExtractor(_SmileExtractor):
    """eGeMAPSv02 low-level descriptors: shape ``(frames, 25)`` at 100 frames/s.

    Frames are 10 ms apart; openSMILE emits about ``(duration - 0.04 s) * 100`` of them (its 60 ms pitch
    window), e.g. 96 for 1 s.
    """

    name = "egemaps_lld"
    kind = "frames"
    _feature_level = "LowLevelDescriptors"

    @property
    def dim(self) -> int:
        return 25

    @property
    def frame_rate(self) -> float:
        return 100.0

    def _extract(self, signal: np.ndarray) -> np.ndarray:
        return self._run(signal)

