"""Voice-activity trimming with Silero VAD (MIT; the ONNX model shipped in the ``silero-vad`` wheel, run here with
ONNX Runtime: neither the wheel's torch code nor torchaudio is imported).

The model reads 16 kHz audio in 512-sample chunks (32 ms), each preceded by the last 64 samples of the one
before, carrying a ``(2, 1, 128)`` state, and gives a speech probability per chunk.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from avemo.errors import AssetNotFoundError
from avemo.io.audio import TARGET_SAMPLING_RATE

CHUNK, CONTEXT = 512, 64
INSTALL = "pip install --no-deps silero-vad==6.2.3"
_SESSIONS: dict[int, object] = {}
_LOCK = threading.Lock()


def silero_model_path() -> Path:
    """The ``silero_vad.onnx`` of the installed ``silero-vad`` wheel.

    Raises:
        AssetNotFoundError: when the wheel (or its model) is not installed.
    """
    spec = importlib.util.find_spec("silero_vad")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "data" / "silero_vad.onnx"
        if path.is_file():
            return path
    raise AssetNotFoundError(f"the Silero VAD model is not installed; run `{INSTALL}` (or `make install`)")


def _session():
    import os

    import onnxruntime

    with _LOCK:  # one session per process (a forked worker builds its own)
        session = _SESSIONS.get(os.getpid())
        if session is None:
            options = onnxruntime.SessionOptions()
            options.inter_op_num_threads = options.intra_op_num_threads = 1
            session = onnxruntime.InferenceSession(str(silero_model_path()), sess_options=options,
                                                   providers=["CPUExecutionProvider"])
            _SESSIONS[os.getpid()] = session
        return session


def speech_probabilities(signal: np.ndarray) -> np.ndarray:
    """Speech probability of every 32 ms chunk ``(ceil(samples / 512),)`` of a 16 kHz mono signal."""
    session = _session()
    x = np.asarray(signal, dtype=np.float32)
    n = -(-len(x) // CHUNK)
    x = np.pad(x, (0, n * CHUNK - len(x)))
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros((1, CONTEXT), np.float32)
    sr = np.array(TARGET_SAMPLING_RATE, dtype=np.int64)
    out = np.zeros(n, np.float32)
    for i in range(n):
        chunk = np.concatenate([context, x[None, i * CHUNK:(i + 1) * CHUNK]], axis=1)
        prob, state = session.run(None, {"input": chunk, "state": state, "sr": sr})
        out[i] = float(prob.reshape(-1)[0])
        context = chunk[:, -CONTEXT:]
    return out


def trim_to_speech(signal: np.ndarray, threshold: float = 0.5, pad: float = 0.1,
                   min_duration: float = 0.25) -> np.ndarray:
    """The part of a 16 kHz signal from the first to the last chunk of speech, ``pad`` seconds wider on each side;
    the whole signal when no chunk reaches ``threshold`` or the speech is shorter than ``min_duration``."""
    probs = speech_probabilities(signal)
    voiced = np.flatnonzero(probs >= threshold)
    if not len(voiced):
        return signal
    margin = int(pad * TARGET_SAMPLING_RATE)
    start = max(0, voiced[0] * CHUNK - margin)
    end = min(len(signal), (voiced[-1] + 1) * CHUNK + margin)
    if end - start < min_duration * TARGET_SAMPLING_RATE:
        return signal
    return signal[start:end]
