"""Generated media for the live tests: a tone-and-noise signal the VAD takes for no speech, and mp4 writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from media import write_av

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SR = 16000


def tone_and_noise(seconds: float, seed: int = 0) -> np.ndarray:
    """A 220 Hz tone with a little noise: loud enough to pass the level check, but no speech for the VAD."""
    t = np.arange(int(seconds * SR)) / SR
    noise = np.random.default_rng(seed).normal(0, 0.01, len(t))
    return (0.2 * np.sin(2 * np.pi * 220 * t) + noise).astype(np.float32)


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10, audio: np.ndarray | None = None) -> Path:
    """An mp4 of ``frames`` (mpeg4) and, when given, a 16 kHz AAC track of ``audio``."""
    return write_av(path, frames, fps, audio, SR)
