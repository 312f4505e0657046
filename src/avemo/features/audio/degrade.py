"""Recording conditions of real use, applied to 16 kHz mono float32 signals: additive noise at a given SNR,
reverberation, gain, the telephone band and a lossy codec. Used to test robustness (named conditions) and to
augment training data (a random chain per clip, seeded by the clip's content so that features stay cacheable).
``voice`` is an augmentation of another kind: the clip played faster or slower (:func:`change_voice`), which moves
its pitch and formants as a different voice would.

Every function but :func:`change_voice` returns a new float32 signal of the same length, clipped to [-1, 1].
"""

from __future__ import annotations

import zlib

import numpy as np

from avemo.errors import ParameterError
from avemo.io.audio import TARGET_SAMPLING_RATE

SR = TARGET_SAMPLING_RATE


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def add_noise(signal: np.ndarray, snr_db: float, rng: np.random.Generator, colour: str = "pink") -> np.ndarray:
    """``signal`` plus white or pink noise at ``snr_db`` dB below the signal's power."""
    n = len(signal)
    white = rng.standard_normal(n)
    if colour == "pink":  # 1/f power: shape white noise in the frequency domain
        spectrum = np.fft.rfft(white)
        spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1.0))
        noise = np.fft.irfft(spectrum, n)
    elif colour == "white":
        noise = white
    else:
        raise ParameterError(f"noise colour must be 'pink' or 'white', got {colour!r}")
    power = np.mean(np.asarray(signal, np.float64) ** 2)
    if power <= 0:
        return _clip(signal)
    noise *= np.sqrt(power / 10 ** (snr_db / 10) / max(np.mean(noise ** 2), 1e-20))
    return _clip(signal + noise)


def reverberate(signal: np.ndarray, rt60: float, rng: np.random.Generator, wet: float = 0.5) -> np.ndarray:
    """``signal`` through a synthetic room: an exponentially decaying noise impulse response (``rt60`` seconds to
    -60 dB), mixed ``wet`` with the direct sound, at the input's RMS."""
    from scipy.signal import fftconvolve

    t = np.arange(int(rt60 * SR)) / SR
    rir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
    rir[0] = 0.0
    rir /= np.sqrt(np.sum(rir ** 2)) + 1e-12
    wet_part = fftconvolve(signal, rir)[: len(signal)]
    out = (1 - wet) * signal + wet * wet_part
    scale = np.sqrt(np.mean(signal ** 2) / max(np.mean(out ** 2), 1e-20))
    return _clip(out * scale)


def apply_gain(signal: np.ndarray, gain_db: float) -> np.ndarray:
    """``signal`` scaled by ``gain_db`` dB (clipped, as a recorder would)."""
    return _clip(signal * 10 ** (gain_db / 20))


def telephone(signal: np.ndarray) -> np.ndarray:
    """``signal`` band-limited to 300-3400 Hz and through 8 kHz, as a phone call carries it."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    sos = butter(6, [300, 3400], btype="bandpass", fs=SR, output="sos")
    narrow = resample_poly(sosfiltfilt(sos, signal), 1, 2)
    return _clip(resample_poly(narrow, 2, 1)[: len(signal)])


def lossy_codec(signal: np.ndarray, codec: str = "libopus", bitrate: int = 12000) -> np.ndarray:
    """``signal`` encoded and decoded by a lossy codec (PyAV: ``libopus`` or ``libmp3lame``) at ``bitrate``
    bits per second."""
    import io

    import av

    buffer = io.BytesIO()
    container_format = {"libopus": "ogg", "libmp3lame": "mp3"}.get(codec)
    if container_format is None:
        raise ParameterError(f"codec must be 'libopus' or 'libmp3lame', got {codec!r}")
    rate = SR  # libopus and libmp3lame both take 16 kHz
    with av.open(buffer, "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        samples = np.asarray(signal, np.float32)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buffer.seek(0)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SR)
    pieces = []
    with av.open(buffer, "r") as container:
        for decoded in container.decode(audio=0):
            pieces += [f.to_ndarray().reshape(-1) for f in resampler.resample(decoded)]
        pieces += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    decoded = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    out = np.zeros(len(signal), np.float32)
    out[: min(len(signal), len(decoded))] = decoded[: len(signal)]
    return _clip(out)


#: The speed factors of :func:`change_voice`: drawn uniformly from these two ranges (slower, faster).
VOICE_FACTORS = ((0.88, 0.95), (1.05, 1.12))
#: Random augmentations (not test conditions): a random chain of recording conditions, or another voice.
AUGMENTATIONS = ("random", "voice")


def change_voice(signal: np.ndarray, factor: float) -> np.ndarray:
    """``signal`` played ``factor`` times faster (``len / factor`` samples): pitch and formants scale by
    ``factor``, as in a smaller (> 1) or larger (< 1) vocal tract, and the tempo with them (speed perturbation)."""
    from scipy.signal import resample_poly

    up, down = 100, int(round(100 * factor))
    return _clip(resample_poly(np.asarray(signal, np.float32), up, down).astype(np.float32))


#: Named test conditions: ``name -> function(signal, rng)``.
CONDITIONS = {
    "clean": lambda x, rng: np.asarray(x, np.float32),
    "noise-20db": lambda x, rng: add_noise(x, 20, rng),
    "noise-10db": lambda x, rng: add_noise(x, 10, rng),
    "noise-5db": lambda x, rng: add_noise(x, 5, rng),
    "reverb": lambda x, rng: reverberate(x, 0.6, rng),
    "gain-20db": lambda x, rng: apply_gain(x, -20),
    "telephone": lambda x, rng: telephone(x),
    "codec": lambda x, rng: lossy_codec(x, "libopus", 12000),
}


def content_seed(signal: np.ndarray) -> int:
    """A seed from the signal's samples, so that a degradation of a clip is the same every time."""
    return zlib.crc32(np.ascontiguousarray(signal, np.float32).tobytes())


def degrade(signal: np.ndarray, condition: str, seed: int | None = None) -> np.ndarray:
    """``signal`` under a named condition (:data:`CONDITIONS`) or an augmentation (:data:`AUGMENTATIONS`):
    ``random`` (a random gain, then with probability 1/2 each: reverberation, noise at 5-30 dB SNR, then one of
    telephone band or codec with probability 1/4 each) or ``voice`` (:func:`change_voice` at a factor drawn from
    :data:`VOICE_FACTORS`); the randomness is seeded by ``seed`` (default: the signal's content).

    Raises:
        ParameterError: for an unknown condition.
    """
    rng = np.random.default_rng(content_seed(signal) if seed is None else seed)
    if condition in CONDITIONS:
        return CONDITIONS[condition](signal, rng)
    if condition == "voice":
        low, high = VOICE_FACTORS[int(rng.integers(len(VOICE_FACTORS)))]
        return change_voice(signal, rng.uniform(low, high))
    if condition != "random":
        raise ParameterError(f"unknown recording condition {condition!r}; choose one of "
                             f"{sorted(CONDITIONS) + list(AUGMENTATIONS)}")
    x = apply_gain(signal, rng.uniform(-12, 6))
    if rng.random() < 0.5:
        x = reverberate(x, rng.uniform(0.2, 0.9), rng)
    if rng.random() < 0.5:
        x = add_noise(x, rng.uniform(5, 30), rng, colour=str(rng.choice(["pink", "white"])))
    draw = rng.random()
    if draw < 0.25:
        x = telephone(x)
    elif draw < 0.5:
        x = lossy_codec(x, "libopus", int(rng.choice([8000, 12000, 24000])))
    return x
