"""Voice activity over a stream, the VAD gate of a :class:`~avemo.inference.session.StreamSession`: Silero VAD
(the model of :mod:`avemo.features.audio.vad`) run on the audio as it arrives, its recurrent state carried from
chunk to chunk, so that a window's speech is counted from probabilities already computed (the VAD costs nothing at
the end of a window, and each sample is seen once although windows overlap)."""

from __future__ import annotations

import collections
import math

import numpy as np

from avemo.features.audio.vad import CHUNK, CONTEXT, silero_model_path
from avemo.io.audio import TARGET_SAMPLING_RATE

#: Seconds of audio in one VAD chunk (512 samples at 16 kHz).
CHUNK_SECONDS = CHUNK / TARGET_SAMPLING_RATE


class StreamingVad:
    """Speech probability of every 32 ms chunk of a 16 kHz stream, for the last ``history`` seconds.

    >>> vad = StreamingVad(history=2.0)
    >>> vad.add(samples)                      # any number of samples, in order
    >>> vad.voiced(0.0, 2.0, threshold=0.5)   # seconds of speech in that span

    Raises:
        AssetNotFoundError: when the Silero VAD model is not installed.
    """

    def __init__(self, history: float) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = options.intra_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(silero_model_path()), sess_options=options,
                                                     providers=["CPUExecutionProvider"])
        self._rate = np.array(TARGET_SAMPLING_RATE, dtype=np.int64)
        self._history = math.ceil(history / CHUNK_SECONDS) + 2
        self.reset()

    def reset(self) -> None:
        """Start a new stream (at time 0, with the model's initial state)."""
        self._pending = np.zeros(0, np.float32)
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros((1, CONTEXT), np.float32)
        self._chunks = 0
        self.probabilities: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=self._history)  # (chunk start s, speech probability)

    def add(self, samples: np.ndarray) -> None:
        """Run the model on every whole chunk of audio received so far (16 kHz float)."""
        self._pending = np.concatenate([self._pending, np.asarray(samples, np.float32).reshape(-1)])
        while len(self._pending) >= CHUNK:
            self._run(self._pending[:CHUNK])
            self._pending = self._pending[CHUNK:]

    def flush(self) -> None:
        """At the end of the stream: the last, partial chunk, padded with zeros."""
        if len(self._pending):
            self._run(np.pad(self._pending, (0, CHUNK - len(self._pending))))
            self._pending = self._pending[:0]

    def voiced(self, start: float, end: float, threshold: float = 0.5) -> float:
        """Seconds of speech (chunks with probability >= ``threshold``) among the chunks starting in [start, end)."""
        return CHUNK_SECONDS * sum(1 for t, p in self.probabilities if start - 1e-9 <= t < end - 1e-9 and
                                   p >= threshold)

    def _run(self, chunk: np.ndarray) -> None:
        x = np.concatenate([self._context, chunk[None, :]], axis=1)
        prob, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": self._rate})
        self._context = x[:, -CONTEXT:]
        self.probabilities.append((self._chunks * CHUNK_SECONDS, float(np.asarray(prob).reshape(-1)[0])))
        self._chunks += 1
