"""Spectral frame features with librosa: log-mel spectrogram, MFCC (+ deltas) and chroma.

All take float32 mono at 16 kHz and return ``(frames, dim)`` float32 at ``1000 / hop_ms`` frames per
second (centred frames: ``1 + n_samples // hop`` of them). Signals shorter than one analysis window are
zero-padded to one window (and the extra frames dropped), so even a 0.05 s clip gives frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avemo.errors import ParameterError
from avemo.features.base import ExtractorConfig, FeatureExtractor, register_extractor
from avemo.io.audio import TARGET_SAMPLING_RATE

_SR = TARGET_SAMPLING_RATE


def _check_positive(config: ExtractorConfig, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not value > 0:
            raise ParameterError(f"{type(config).__name__}.{name} must be > 0, got {value!r}")


def _pad_to(signal: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad at the end to at least ``n`` samples."""
    return np.pad(signal, (0, n - signal.size)) if signal.size < n else signal


def _n_frames(n_samples: int, hop_length: int) -> int:
    """Frames of a centred STFT of ``n_samples`` samples."""
    return 1 + n_samples // hop_length


def _n_fft(win_length: int) -> int:
    return 1 << (int(win_length) - 1).bit_length()


@dataclasses.dataclass(frozen=True)
class LogMelConfig(ExtractorConfig):
    """Log-mel settings: ``n_mels`` bands between ``fmin`` and ``fmax`` Hz, window and hop in milliseconds."""

    n_mels: int = 64
    win_ms: float = 25.0
    hop_ms: float = 10.0
    fmin: float = 20.0
    fmax: float = 8000.0

    def __post_init__(self) -> None:
        _check_positive(self, "n_mels", "win_ms", "hop_ms", "fmax")
        if not 0 <= self.fmin < self.fmax <= _SR / 2:
            raise ParameterError(f"need 0 <= fmin < fmax <= {_SR // 2} Hz, got fmin={self.fmin}, fmax={self.fmax}")
        if self.hop_ms > self.win_ms:
            raise ParameterError(f"hop_ms ({self.hop_ms}) must not exceed win_ms ({self.win_ms})")

    @property
    def win_length(self) -> int:
        return int(round(self.win_ms * _SR / 1000))

    @property
    def hop_length(self) -> int:
        return max(1, int(round(self.hop_ms * _SR / 1000)))


def _mel_power(signal: np.ndarray, cfg: LogMelConfig) -> np.ndarray:
    """Mel power spectrogram ``(n_mels, frames)``; the window is zero-padded to the next power of two."""
    import librosa

    n_fft = _n_fft(cfg.win_length)
    n_frames = _n_frames(signal.size, cfg.hop_length)
    mel = librosa.feature.melspectrogram(
        y=_pad_to(signal, n_fft), sr=_SR, n_fft=n_fft, win_length=cfg.win_length, hop_length=cfg.hop_length,
        n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, power=2.0, center=True)
    return mel[:, :n_frames]


@register_extractor
class LogMelExtractor(FeatureExtractor):
    """Log-mel spectrogram ``log(power + 1e-6)``, shape ``(frames, n_mels)`` at 100 frames/s by default."""

    name = "logmel"
    config_class = LogMelConfig
    kind = "frames"
    config: LogMelConfig

    @property
    def dim(self) -> int:
        return self.config.n_mels

    @property
    def frame_rate(self) -> float:
        return _SR / self.config.hop_length

    def _extract(self, signal: np.ndarray) -> np.ndarray:
        return np.log(_mel_power(signal, self.config) + 1e-6).T


@dataclasses.dataclass(frozen=True)
class MfccConfig(LogMelConfig):
    """MFCC settings: ``n_mfcc`` cepstra of a log-mel spectrogram, plus deltas and delta-deltas if ``deltas``."""

    n_mfcc: int = 40
    deltas: bool = True
    delta_width: int = 9

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self, "n_mfcc")
        if self.n_mfcc > self.n_mels:
            raise ParameterError(f"n_mfcc ({self.n_mfcc}) must not exceed n_mels ({self.n_mels})")
        if self.delta_width < 3 or self.delta_width % 2 == 0:
            raise ParameterError(f"delta_width must be an odd integer >= 3, got {self.delta_width}")


@register_extractor
class MfccExtractor(FeatureExtractor):
    """MFCCs (dB log-mel, DCT-II ortho), shape ``(frames, n_mfcc)``, or ``(frames, 3 * n_mfcc)`` with deltas.

    Columns with deltas: ``[mfcc, delta, delta-delta]``; deltas use edge-replicated (``nearest``) padding, so
    any number of frames works.
    """

    name = "mfcc"
    config_class = MfccConfig
    kind = "frames"
    config: MfccConfig

    @property
    def dim(self) -> int:
        return self.config.n_mfcc * (3 if self.config.deltas else 1)

    @property
    def frame_rate(self) -> float:
        return _SR / self.config.hop_length

    def _extract(self, signal: np.ndarray) -> np.ndarray:
        import librosa

        cfg = self.config
        log_mel = librosa.power_to_db(_mel_power(signal, cfg))
        mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=cfg.n_mfcc)
        if cfg.deltas:
            d1 = librosa.feature.delta(mfcc, width=cfg.delta_width, order=1, mode="nearest")
            d2 = librosa.feature.delta(mfcc, width=cfg.delta_width, order=2, mode="nearest")
            mfcc = np.concatenate([mfcc, d1, d2], axis=0)
        return mfcc.T


@dataclasses.dataclass(frozen=True)
class ChromaConfig(ExtractorConfig):
    """Chroma settings: STFT size ``n_fft`` samples (2048 = 128 ms, for pitch resolution), hop in milliseconds.

    ``tuning`` is the reference deviation in fractions of a bin (0 = A440; ``None`` estimates it per clip,
    which is slower).
    """

    n_fft: int = 2048
    hop_ms: float = 10.0
    n_chroma: int = 12
    tuning: float | None = 0.0

    def __post_init__(self) -> None:
        _check_positive(self, "n_fft", "hop_ms", "n_chroma")

    @property
    def hop_length(self) -> int:
        return max(1, int(round(self.hop_ms * _SR / 1000)))


@register_extractor
class ChromaExtractor(FeatureExtractor):
    """Chromagram (``librosa.feature.chroma_stft``), shape ``(frames, 12)``, each frame max-normalised to 1.

    Column 0 is C, 9 is A. Silent frames are all zeros.
    """

    name = "chroma"
    config_class = ChromaConfig
    kind = "frames"
    config: ChromaConfig

    @property
    def dim(self) -> int:
        return self.config.n_chroma

    @property
    def frame_rate(self) -> float:
        return _SR / self.config.hop_length

    def _extract(self, signal: np.ndarray) -> np.ndarray:
        import librosa

        cfg = self.config
        n_frames = _n_frames(signal.size, cfg.hop_length)
        chroma = librosa.feature.chroma_stft(y=_pad_to(signal, cfg.n_fft), sr=_SR, n_fft=cfg.n_fft,
                                             hop_length=cfg.hop_length,
                                             n_chroma=cfg.n_chroma, tuning=cfg.tuning, center=True)
        return chroma[:, :n_frames].T
