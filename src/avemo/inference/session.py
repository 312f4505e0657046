"""One live stream (a microphone and a camera, a WebSocket client, a file played as if live): audio chunks and
video frames go in as they arrive; each time a speech window completes, a :class:`WindowResult` comes out (to
the caller and to the optional callback), fusing the window's speech with the main face over the same span.

>>> session = engine.open_session(sampling_rate=16000, on_result=print)
>>> session.add_frame(0.04, rgb)                   # faces of one frame at 0.04 s (returned at once)
>>> session.add_audio(chunk)                       # results of the windows this chunk completed
>>> session.close()                                # the last, partial window, if it is long enough
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from avemo.errors import AvemoError, ParameterError
from avemo.inference.face import FaceStream, pool_frames
from avemo.inference.results import FrameResult, FusedResult, ModalityResult, Status
from avemo.inference.stream_windows import SpeechWindows
from avemo.io.audio import TARGET_SAMPLING_RATE, resample

if TYPE_CHECKING:
    from avemo.inference.adaptation import SpeakerAdaptation
    from avemo.inference.face_adaptation import FaceAdaptation
    from avemo.inference.engine import InferenceEngine, PredictOptions


@dataclasses.dataclass
class WindowResult:
    """The result of one completed window of a stream, ``start`` to ``end`` seconds of stream time."""

    start: float
    end: float
    result: FusedResult | ModalityResult

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), **self.result.to_dict()}


class StreamSession:
    """Per-stream state over a shared :class:`~avemo.inference.engine.InferenceEngine`: an audio ring buffer
    holding the last window, the face stream (detector in video mode + tracker) and the stream clock.

    Windows of ``options.window`` seconds end every ``options.step`` seconds of audio (the first when one
    window of audio has arrived); a stream with frames and no audio gives a face result per step instead.
    Calls on one session must come from one thread at a time (a lock enforces it); sessions are independent.

    Raises:
        ParameterError: for a non-positive sampling rate.
    """

    def __init__(self, engine: "InferenceEngine", sampling_rate: int, options: "PredictOptions",
                 on_result: Callable[[WindowResult], None] | None = None, name: str = "stream",
                 adaptation: "SpeakerAdaptation | None" = None,
                 face_adaptation: "FaceAdaptation | None" = None) -> None:
        if not isinstance(sampling_rate, int) or sampling_rate <= 0:
            raise ParameterError(f"sampling_rate must be a positive integer in Hz, got {sampling_rate!r}")
        self.engine, self.sampling_rate, self.options, self.on_result, self.name = (
            engine, sampling_rate, options, on_result, name)
        self.adaptation = adaptation               # running statistics of the speaker, fed with every window
        self.face_adaptation = face_adaptation     # running statistics of the face, fed with every window
        self._windows = SpeechWindows(options.window, options.step)  # the last window of audio, at 16 kHz
        self._faces = FaceStream(engine.video_detectors, engine.face, name) if engine.face is not None else None
        self._frames_used = 0
        self._lock = threading.Lock()
        self.closed = False

    @property
    def time(self) -> float:
        """Seconds of audio received so far."""
        return self._windows.time

    def add_frame(self, time_s: float, image: np.ndarray) -> FrameResult:
        """The faces of one video frame at ``time_s`` seconds of stream time (times must increase).

        Raises:
            ParameterError: when the engine has no face model, the session is closed, or for a bad frame.
        """
        with self._lock:
            self._check_open()
            if self._faces is None:
                raise ParameterError("this engine has no face model loaded; frames cannot be analysed")
            return self._faces.add_frame(time_s, image)

    def add_audio(self, samples: np.ndarray) -> list[WindowResult]:
        """Append mono audio (float in [-1, 1], or int16 PCM) at the session's rate; returns the results of the
        windows it completed (each also passed to ``on_result``).

        Raises:
            ParameterError: for a closed session or samples that are not a 1-D array of numbers.
        """
        with self._lock:
            self._check_open()
            chunk = np.asarray(samples)
            if chunk.ndim != 1 or not (np.issubdtype(chunk.dtype, np.floating)
                                       or np.issubdtype(chunk.dtype, np.integer)):
                raise ParameterError(f"audio chunks must be 1-D arrays of samples, got {chunk.dtype} {chunk.shape}")
            if np.issubdtype(chunk.dtype, np.integer):
                chunk = chunk.astype(np.float32) / 32768.0
            chunk = chunk.astype(np.float32)
            if self.sampling_rate != TARGET_SAMPLING_RATE and len(chunk):
                chunk = resample(chunk, self.sampling_rate, TARGET_SAMPLING_RATE)
            return [self._emit(*window) for window in self._windows.add(chunk, TARGET_SAMPLING_RATE)]

    def close(self) -> list[WindowResult]:
        """End the stream: the last, partial window (when it holds at least the speech minimum of audio since
        the last result, or new frames); frees the face detector. Idempotent."""
        with self._lock:
            if self.closed:
                return []
            out = []
            last = self._windows.flush()
            if last is not None:
                out.append(self._emit(*last))
            elif self.time == 0 and self._faces is not None and len(self._faces.frames) > self._frames_used:
                end = self._faces.frames[-1].time
                out.append(self._emit(max(0.0, end - self.options.window), end, None))
            if self._faces is not None:
                self._faces.close()
            self.closed = True
            return out

    def __enter__(self) -> "StreamSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- internals ---------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ParameterError(f"session {self.name!r} is closed; open a new one")

    def _emit(self, start: float, end: float, audio: np.ndarray | None) -> WindowResult:
        """The result of the window ``start``-``end`` s over its ``audio`` (16 kHz; ``None``: none received)."""
        speech = self._speech(audio)
        face = self._face(start, end)
        if face is None:
            result = speech if not isinstance(speech, AvemoError) else ModalityResult(
                None, {}, end - start, Status.UNAVAILABLE, " ".join(str(speech).split()))
        elif speech is None:
            result = face
        else:
            result = self.engine.fuse(None, speech, face)
        window = WindowResult(start, end, result)
        if self.on_result is not None:
            self.on_result(window)
        return window

    def _speech(self, piece: np.ndarray | None) -> ModalityResult | AvemoError | None:
        if self.engine.speech is None or piece is None:
            return None
        try:
            if self.adaptation is None:
                return self.engine.predict_signal(piece, TARGET_SAMPLING_RATE, self.options)
            return self.adaptation.predict_signal(piece, TARGET_SAMPLING_RATE, self.options, learn=True)
        except AvemoError as exc:
            return exc

    def _face(self, start: float, end: float) -> ModalityResult | None:
        if self._faces is None:
            return None
        frames = [f for f in self._faces.frames if start <= f.time < end or f.time == end]
        self._frames_used = len(self._faces.frames)
        if not frames and not self._faces.frames:
            return None
        result = pool_frames(frames, self._faces.classifier.classes, None, end - start)
        if self.face_adaptation is None:
            return result
        return self.face_adaptation.adapt_and_learn(result)  # with the windows before this one
