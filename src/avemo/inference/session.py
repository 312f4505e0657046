"""One live stream (a microphone and a camera, a WebSocket client, a file played as if live), running mode
:attr:`~avemo.inference.modes.RunningMode.STREAM`: audio chunks and video frames go in as they arrive; each time a
speech window completes, a :class:`WindowResult` comes out (to the caller and to the optional callback), fusing
the window's speech with the main face over the same span.

:class:`StreamOptions` adds what a live stream needs and a clip does not: a voice-activity gate on the speech
windows and smoothing over stream time.

>>> session = engine.open_session(sampling_rate=16000, on_result=print,
...                               stream_options=StreamOptions(vad=True, smoothing=0.5))
>>> session.add_frame(0.04, rgb)                   # faces of one frame at 0.04 s (returned at once)
>>> session.add_audio(chunk)                       # results of the windows this chunk completed
>>> session.close()                                # the last, partial window, if it is long enough
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from avemo.errors import AvemoError, ParameterError
from avemo.inference.face import FaceStream, pool_frames
from avemo.inference.modes import RunningMode
from avemo.inference.results import PREDICTED, FrameResult, FusedResult, Modality, ModalityResult, Status
from avemo.inference.smoothing import ExponentialSmoother, FaceSmoothers
from avemo.inference.stream_windows import SpeechWindows
from avemo.io.audio import TARGET_SAMPLING_RATE, resample

if TYPE_CHECKING:
    from avemo.inference.adaptation import SpeakerAdaptation
    from avemo.inference.face_adaptation import FaceAdaptation
    from avemo.inference.engine import InferenceEngine, PredictOptions

#: Frames are kept at most this many seconds behind the newest one (for a stream whose audio lags its frames).
FRAME_HISTORY = 60.0


@dataclasses.dataclass(frozen=True)
class StreamOptions:
    """What a stream adds to :class:`~avemo.inference.engine.PredictOptions` (the defaults change nothing):

    - ``vad``: gate each speech window by voice activity (Silero VAD, run on the audio as it arrives): a window
      with less than ``min_speech`` seconds of speech (32 ms chunks whose speech probability is at least
      ``vad_threshold``) is not given to the speech model; its speech status is ``silence``.
    - ``smoothing``: ``None``, each window on its own (its speech, and its main face pooled over the window's
      frames); a time constant in seconds (0: no averaging), results as the stream's current state: each face's
      probabilities smoothed over its track frame by frame, the voice smoothed over the windows since the last
      silent one, and a window's faces those of the latest frame at or before its end.

    Raises:
        ParameterError: for values out of range.
    """

    vad: bool = False
    min_speech: float = 0.25
    vad_threshold: float = 0.5
    smoothing: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.vad, bool):
            raise ParameterError(f"vad must be true or false, got {self.vad!r}")
        if not (_is_number(self.min_speech) and math.isfinite(self.min_speech) and self.min_speech >= 0):
            raise ParameterError(f"min_speech must be seconds >= 0, got {self.min_speech!r}")
        if not (_is_number(self.vad_threshold) and 0 < self.vad_threshold < 1):
            raise ParameterError(f"vad_threshold must lie in (0, 1), got {self.vad_threshold!r}")
        if self.smoothing is not None:
            if not _is_number(self.smoothing):
                raise ParameterError(f"smoothing must be a time constant in seconds or null, got {self.smoothing!r}")
            ExponentialSmoother(self.smoothing)  # validates the time constant


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclasses.dataclass
class WindowResult:
    """The result of one completed window of a stream, ``start`` to ``end`` seconds of stream time; ``voiced``:
    the seconds of speech the VAD heard in it (``None`` without the VAD gate); ``latency_ms``: the time of each
    stage in milliseconds (``vad``, ``speech`` when the speech model ran, ``fusion``), not part of the JSON."""

    start: float
    end: float
    result: FusedResult | ModalityResult
    voiced: float | None = None
    latency_ms: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def speech(self) -> ModalityResult | None:
        """The speech part of the result (``None`` when the window had no speech result)."""
        if isinstance(self.result, FusedResult):
            return self.result.modalities.get("speech")
        return self.result if self.result.modality == Modality.SPEECH else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": round(self.start, 3), "end": round(self.end, 3)}
        if self.voiced is not None:
            out["voiced"] = round(self.voiced, 2)
        return {**out, **self.result.to_dict()}


def stream_message(item: FrameResult | WindowResult) -> dict[str, Any]:
    """The JSON message of one result of a stream, as the WebSocket sends it and ``avemo live --headless`` prints it:
    ``{"type": "frame", "time", "faces"}`` or ``{"type": "result", "start", "end", ...}`` (the JSON of ``avemo
    predict`` with the window's times)."""
    return {"type": "frame" if isinstance(item, FrameResult) else "result", **item.to_dict()}


class StreamSession:
    """Per-stream state over a shared :class:`~avemo.inference.engine.InferenceEngine`: an audio ring buffer
    holding the last window, the face stream (detector in video mode + tracker, from the first frame on), the
    stream clock, and with :class:`StreamOptions` the VAD and the smoothers.

    Windows of ``options.window`` seconds end every ``options.step`` seconds of audio (the first when one
    window of audio has arrived); a stream with frames and no audio gives one face result at :meth:`close`.
    Calls on one session must come from one thread at a time (a lock enforces it); sessions are independent.

    Raises:
        ParameterError: for a non-positive sampling rate, or ``min_speech`` longer than the window.
        AssetNotFoundError: with ``vad``, when the Silero VAD model is not installed.
    """

    running_mode = RunningMode.STREAM

    def __init__(self, engine: "InferenceEngine", sampling_rate: int, options: "PredictOptions",
                 on_result: Callable[[WindowResult], None] | None = None, name: str = "stream",
                 adaptation: "SpeakerAdaptation | None" = None, face_adaptation: "FaceAdaptation | None" = None,
                 stream_options: StreamOptions | None = None) -> None:
        if not isinstance(sampling_rate, int) or sampling_rate <= 0:
            raise ParameterError(f"sampling_rate must be a positive integer in Hz, got {sampling_rate!r}")
        stream_options = stream_options or StreamOptions()
        if stream_options.min_speech > options.window:
            raise ParameterError(f"min_speech ({stream_options.min_speech} s) must be at most the window "
                                 f"({options.window} s)")
        self.engine, self.sampling_rate, self.options, self.on_result, self.name = (
            engine, sampling_rate, options, on_result, name)
        self.stream_options = stream_options
        self.adaptation = adaptation               # running statistics of the speaker, fed with every window
        self.face_adaptation = face_adaptation     # running statistics of the face, fed with every window
        self._windows = SpeechWindows(options.window, options.step)  # the last window of audio, at 16 kHz
        self._face_stream: FaceStream | None = None
        self._frames: collections.deque[FrameResult] = collections.deque()  # those a window may still use
        self._frames_received = self._frames_used = 0
        smoothing = stream_options.smoothing
        self._face_smoothers = FaceSmoothers(smoothing) if smoothing is not None else None
        self._speech_smoother = ExponentialSmoother(smoothing) if smoothing is not None else None
        self._vad = None
        if stream_options.vad and engine.speech is not None:
            from avemo.inference.vad import StreamingVad

            self._vad = StreamingVad(history=options.window + 1.0)
        self._lock = threading.Lock()
        self.closed = False

    @property
    def time(self) -> float:
        """Seconds of audio received so far."""
        return self._windows.time

    def warm_up(self) -> None:
        """Run each model once on dummy input (a model's first call is several times slower: sessions, caches),
        so that the stream's first frame and first window are on time.

        Raises:
            ParameterError: once audio or frames have arrived (call it before the stream starts).
        """
        with self._lock:
            self._check_open()
            if self.time > 0 or self._frames_received:
                raise ParameterError("warm_up() must come before the stream's first audio or frame")
            face = self.engine.face
            if face is not None:
                with FaceStream(self.engine.video_detectors, face, "warm-up") as stream:
                    stream.add_frame(0.0, np.full((240, 320, 3), 128, np.uint8))
                side = face.system.spec.side
                face.system.predict_proba(np.full((1, side, side), 128, np.uint8), tta=face.video_tta)
            if self.engine.speech is not None:
                noise = np.random.default_rng(0).normal(0, 0.05, int(self.options.window * TARGET_SAMPLING_RATE))
                if self._vad is not None:
                    self._vad.add(noise[:TARGET_SAMPLING_RATE // 4])
                    self._vad.reset()
                self.engine.predict_signal(noise.astype(np.float32), TARGET_SAMPLING_RATE, self.options)

    def add_frame(self, time_s: float, image: np.ndarray) -> FrameResult:
        """The faces of one video frame at ``time_s`` seconds of stream time (times must increase); with
        smoothing, each face's probabilities are smoothed over its track.

        Raises:
            ParameterError: when the engine has no face model, the session is closed, or for a bad frame.
        """
        with self._lock:
            self._check_open()
            if self.engine.face is None:
                raise ParameterError("this engine has no face model loaded; frames cannot be analysed")
            if self._face_stream is None:
                self._face_stream = FaceStream(self.engine.video_detectors, self.engine.face, self.name)
            frame = self._face_stream.add_frame(time_s, image)
            self._face_stream.frames.clear()  # the session keeps the frames its windows still need
            if self._face_smoothers is not None:
                frame = self._face_smoothers.smooth(frame)
            self._frames.append(frame)
            self._frames_received += 1
            self._forget_frames()
            return frame

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
            vad_ms = self._listen(chunk)
            windows = [self._emit(*window, vad_ms) for window in self._windows.add(chunk, TARGET_SAMPLING_RATE)]
            self._forget_frames()
            return windows

    def close(self) -> list[WindowResult]:
        """End the stream: the last, partial window (when it holds at least the speech minimum of audio since
        the last result, or new frames); frees the face detector. Idempotent."""
        with self._lock:
            if self.closed:
                return []
            out = []
            vad_ms = self._listen(None)
            last = self._windows.flush()
            if last is not None:
                out.append(self._emit(*last, vad_ms))
            elif self.time == 0 and self._frames_received > self._frames_used:
                end = self._frames[-1].time
                out.append(self._emit(max(0.0, end - self.options.window), end, None))
            if self._face_stream is not None:
                self._face_stream.close()
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

    def _listen(self, chunk: np.ndarray | None) -> float:
        """Run the VAD on a 16 kHz chunk (``None``: the end of the stream); its time in milliseconds."""
        if self._vad is None:
            return 0.0
        start = time.perf_counter()
        if chunk is None:
            self._vad.flush()
        else:
            self._vad.add(chunk)
        return 1000 * (time.perf_counter() - start)

    def _forget_frames(self) -> None:
        """Drop the frames no window can use any more: those before the one in effect at the earliest start of a
        window still to come (or ``FRAME_HISTORY`` seconds before the newest frame)."""
        if self._frames:
            keep_from = max(self._windows.earliest_start, self._frames[-1].time - FRAME_HISTORY)
            while len(self._frames) > 1 and self._frames[1].time <= keep_from:
                self._frames.popleft()

    def _emit(self, start: float, end: float, audio: np.ndarray | None, vad_ms: float = 0.0) -> WindowResult:
        """The result of the window ``start``-``end`` s over its ``audio`` (16 kHz; ``None``: none received)."""
        latency: dict[str, float] = {}
        voiced = self._voiced(start, end, vad_ms, latency) if audio is not None else None
        speech = self._speech(start, end, audio, voiced, latency)
        began = time.perf_counter()
        face = self._face(start, end)
        if face is None:
            result = speech if not isinstance(speech, AvemoError) else ModalityResult(
                None, {}, end - start, Status.UNAVAILABLE, " ".join(str(speech).split()))
        elif speech is None:
            result = face
        else:
            result = self.engine.fuse(None, speech, face)
        latency["fusion"] = 1000 * (time.perf_counter() - began)
        window = WindowResult(start, end, result, voiced, latency)
        if self.on_result is not None:
            self.on_result(window)
        return window

    def _voiced(self, start: float, end: float, vad_ms: float, latency: dict[str, float]) -> float | None:
        """Seconds of speech in the window by the VAD (``None`` without it); its time goes to ``latency``."""
        if self._vad is None:
            return None
        began = time.perf_counter()
        voiced = self._vad.voiced(start, end, self.stream_options.vad_threshold)
        latency["vad"] = vad_ms + 1000 * (time.perf_counter() - began)
        return voiced

    def _speech(self, start: float, end: float, piece: np.ndarray | None, voiced: float | None,
                latency: dict[str, float]) -> ModalityResult | AvemoError | None:
        """The window's speech result: ``silence`` under the VAD gate, else the speech model's (smoothed)."""
        if self.engine.speech is None or piece is None:
            return None
        minimum = self.stream_options.min_speech
        if voiced is not None and not (voiced >= minimum and voiced > 0):
            self._smooth_speech(end, None)  # the next utterance starts afresh
            return ModalityResult(None, {}, end - start, Status.SILENCE,
                                  f"no speech: {voiced:.2f} s voiced, under min_speech {minimum} s")
        began = time.perf_counter()
        result: ModalityResult | AvemoError
        try:
            if self.adaptation is None:
                result = self.engine.predict_signal(piece, TARGET_SAMPLING_RATE, self.options)
            else:
                result = self.adaptation.predict_signal(piece, TARGET_SAMPLING_RATE, self.options, learn=True)
        except AvemoError as exc:
            result = exc
        smoothed = self._smooth_speech(end, result if isinstance(result, ModalityResult) else None)
        latency["speech"] = 1000 * (time.perf_counter() - began)
        return smoothed if smoothed is not None else result

    def _smooth_speech(self, end: float, result: ModalityResult | None) -> ModalityResult | None:
        """``result`` with its probabilities smoothed over the windows before it (when smoothing is on); a window
        without a distribution (``None``, silence, too short) resets the smoothing."""
        if self._speech_smoother is None:
            return result
        if result is None or result.status not in PREDICTED:
            self._speech_smoother.reset()
            return result
        return dataclasses.replace(result, probabilities=self._speech_smoother.update(end, result.probabilities))

    def _face(self, start: float, end: float) -> ModalityResult | None:
        """The faces of the window: without smoothing, pooled over its frames; with, those of the latest frame at or
        before its end (already smoothed over the frames before it)."""
        if self.engine.face is None or not self._frames_received:
            return None
        self._frames_used = self._frames_received
        if self._face_smoothers is None:
            frames = [f for f in self._frames if start <= f.time < end or f.time == end]
        else:
            frames = [f for f in self._frames if f.time <= end][-1:]
        result = pool_frames(frames, self.engine.face.classes, None, end - start)
        if self.face_adaptation is None:
            return result
        return self.face_adaptation.adapt_and_learn(result)  # with the windows before this one
