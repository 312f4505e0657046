"""Synthesise a short voice-like clip (a glottal pulse train through vowel formants) for the demo, benchmarks and tests.

Usage: ``python -m avemo.io.synth OUT.wav [--seconds 3] [--pitch 140]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

#: Formant frequencies and bandwidths (Hz) of the vowels /a/, /i/, /u/ (Peterson & Barney-like values).
VOWELS = {"a": ((730, 90), (1090, 110), (2440, 170)), "i": ((270, 60), (2290, 100), (3010, 170)),
          "u": ((300, 60), (870, 90), (2240, 170))}


def synth_voice(seconds: float = 3.0, pitch: float = 140.0, sampling_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """A voice-like float32 signal ``(seconds * sampling_rate,)``: pitch contour with vibrato, three vowels."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sampling_rate)
    t = np.arange(n) / sampling_rate
    f0 = pitch * (1 + 0.15 * np.sin(2 * np.pi * 0.7 * t) + 0.02 * np.sin(2 * np.pi * 5.5 * t))
    phase = np.cumsum(f0) / sampling_rate
    source = np.diff(np.floor(phase), prepend=0.0) + 0.02 * rng.standard_normal(n)
    out = np.zeros(n)
    for k, vowel in enumerate(VOWELS.values()):
        seg = slice(k * n // 3, (k + 1) * n // 3)
        y = source[seg]
        for freq, bw in vowel:
            r = np.exp(-np.pi * bw / sampling_rate)
            y = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * freq / sampling_rate), r * r], y)
        out[seg] = y
    envelope = np.minimum(1, np.minimum(t, seconds - t) / 0.05)
    out *= envelope
    return (0.3 * out / (np.abs(out).max() + 1e-9)).astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="wav file to write")
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--pitch", type=float, default=140.0)
    args = p.parse_args()
    sf.write(args.out, synth_voice(args.seconds, args.pitch), 16000)
    print(f"wrote {args.out} ({args.seconds:.1f} s synthetic voice)")


if __name__ == "__main__":
    main()
