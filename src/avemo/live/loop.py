"""The live loop: events from the sources into a :class:`~avemo.inference.session.StreamSession` (with the voice-
activity gate and smoothing: :data:`LIVE_STREAM`), one result out per analysed frame (its faces, a
:class:`~avemo.inference.results.FrameResult`) and per completed speech window (a
:class:`~avemo.inference.session.WindowResult`).

>>> summary = run_live(engine, VideoFileSource("clip.mp4"), AudioFileSource("clip.mp4"),
...                    on_update=lambda result, latency_ms, image: print(stream_message(result)))
"""

from __future__ import annotations

import collections
import dataclasses
import sys
import time
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from avemo.errors import ParameterError
from avemo.inference.engine import InferenceEngine, PredictOptions
from avemo.inference.results import PREDICTED, FrameResult
from avemo.inference.session import StreamOptions, WindowResult
from avemo.io.audio import TARGET_SAMPLING_RATE, resample
from avemo.io.files import short_error
from avemo.live.schedule import RealTimeEvents, SourceStopped, in_stream_order
from avemo.live.sources import AudioChunk, Frame, StreamClock

#: The speech windows of ``avemo live``: 2 s every 1 s.
LIVE_OPTIONS = PredictOptions(window=2.0, step=1.0)
#: The stream settings of ``avemo live``: a window needs 0.25 s of speech (Silero VAD) for the speech model to run;
#: faces and voice smoothed with a time constant of 0.5 s.
LIVE_STREAM = StreamOptions(vad=True, min_speech=0.25, vad_threshold=0.5, smoothing=0.5)

#: ``on_update(result, stage times in milliseconds, latest frame RGB or None)`` for each analysed frame's
#: :class:`FrameResult` and each window's :class:`WindowResult`; returning ``False`` stops the loop.
UpdateCallback = Callable[[FrameResult | WindowResult, dict[str, float], "np.ndarray | None"], "bool | None"]


@dataclasses.dataclass
class LiveSummary:
    """What a run did: frames analysed and skipped (stale, when the loop fell behind real time), speech windows
    (and how many were silent: no speech distribution), seconds of stream and of wall clock, why it stopped, the
    emotion of each window's result, and the raw timings: ``face_ms`` per frame, ``label_latency_ms`` (end of each
    speech window to its result) and ``label_times`` (``time.perf_counter()`` of each speech window's result)."""

    frames: int = 0
    dropped_frames: int = 0
    speech_windows: int = 0
    silent_windows: int = 0
    stream_seconds: float = 0.0
    wall_seconds: float = 0.0
    stopped: str = "end of input"
    fused_labels: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    face_ms: list[float] = dataclasses.field(default_factory=list)
    label_latency_ms: list[float] = dataclasses.field(default_factory=list)
    label_times: list[float] = dataclasses.field(default_factory=list)

    def line(self) -> str:
        """One line for the user, e.g. ``57 frames (0 skipped), 2 speech windows (1 silent) over 1.9 s ...``."""
        windows = f"{self.speech_windows} speech window{'s' * (self.speech_windows != 1)}"
        mostly = f"; mostly {self.fused_labels.most_common(1)[0][0]}" if self.fused_labels else ""
        return (f"avemo live: {self.frames} frames ({self.dropped_frames} skipped), {windows} ({self.silent_windows} "
                f"silent) over {self.stream_seconds:.1f} s of stream in {self.wall_seconds:.1f} s "
                f"({self.stopped}){mostly}")


def print_warning(message: str) -> None:
    print(f"avemo live: {message}", file=sys.stderr, flush=True)


def run_live(engine: InferenceEngine, frames=None, audio=None, options: PredictOptions = LIVE_OPTIONS,
             stream_options: StreamOptions = LIVE_STREAM, on_update: UpdateCallback | None = None, pace: bool = True,
             duration: float | None = None, clock: StreamClock | None = None,
             warn: Callable[[str], None] = print_warning, warm_up: bool = True) -> LiveSummary:
    """Run the live loop until the sources end, ``duration`` seconds of stream have passed, ``on_update`` returns
    ``False``, or Ctrl-C; the sources are closed at the end.

    Args:
        frames, audio: a frame source and an audio source (:mod:`avemo.live.sources`, or any iterables of
            :class:`Frame` / :class:`AudioChunk`); either may be ``None``.
        options, stream_options: the session's speech windows and its VAD gate and smoothing.
        pace: play file sources at real time (``False``: as fast as they decode; files only).
        warn: receives one line when a source fails (the loop goes on with the other one).
        warm_up: run the models once before the stream starts (see :meth:`StreamSession.warm_up`).

    Raises:
        ParameterError: for no source, ``pace=False`` with a device, or a bad ``duration``.
    """
    if frames is None and audio is None:
        raise ParameterError("nothing to analyse: give a frame source, an audio source, or both")
    if duration is not None and not duration > 0:
        raise ParameterError(f"--duration must be > 0 seconds, got {duration}")
    names = {kind: getattr(source, "kind", default) for kind, source, default in
             (("frames", frames, "video"), ("audio", audio, "audio")) if source is not None}
    run = _Run(engine, options, stream_options, on_update, warn, names, real_time=pace, duration=duration)
    if warm_up:
        run.session.warm_up()
    started = time.perf_counter()
    # BLAS (numpy's mel filter banks) on one thread: its idle threads spin between windows and hold a second core
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            if pace:
                with RealTimeEvents(frames, audio, clock or StreamClock()) as events:
                    running = events.running
                    while running and not run.stopped:
                        batch = events.next_batch(timeout=0.5)
                        running -= sum(isinstance(e, SourceStopped) for e in batch)
                        run.handle(batch)
            else:
                for event in in_stream_order(frames, audio):
                    run.handle([event])
                    if run.stopped:
                        break
            if run.summary.stopped in ("end of input", "duration"):
                run.finish()
        except KeyboardInterrupt:
            run.summary.stopped = "interrupted"
        finally:
            run.session.close()
            for source in (frames, audio):
                if source is not None and hasattr(source, "close"):
                    source.close()
    run.summary.wall_seconds = time.perf_counter() - started
    return run.summary


class _Run:
    """The state of one run of the loop (the session, the stream clock reached so far, the summary)."""

    def __init__(self, engine: InferenceEngine, options: PredictOptions, stream_options: StreamOptions, on_update,
                 warn, names: dict[str, str], real_time: bool, duration: float | None) -> None:
        self.on_update, self.warn, self.names = on_update, warn, names
        self.real_time, self.duration = real_time, duration
        ready: collections.deque[float] = collections.deque()  # when each window's result was ready
        # a closure over the deque, not a bound method: no reference cycle keeps the engine alive after the run
        self.session = engine.open_session(TARGET_SAMPLING_RATE, options, lambda window: ready.append(
            time.perf_counter()), "live", stream_options=stream_options)
        self._ready = ready
        self.summary = LiveSummary()
        self.time = 0.0
        self.stopped = False
        self.image: np.ndarray | None = None
        self._last_frame: float | None = None
        self._last_chunk: AudioChunk | None = None

    def handle(self, batch: list) -> None:
        """Analyse one batch of events: every audio chunk in order, then the latest frame (older ones are stale)."""
        frames = []
        for event in batch:
            if self.stopped:
                return
            if isinstance(event, SourceStopped):
                self._stopped(event)
            elif self._past_duration(event.end if isinstance(event, AudioChunk) else event.time):
                return
            elif isinstance(event, AudioChunk):
                windows = self.session.add_audio(resample(event.samples, event.sampling_rate, TARGET_SAMPLING_RATE))
                self._last_chunk = event
                self.time = max(self.time, event.end)
                for window in windows:
                    self._window(window, event)
            else:
                frames.append(event)
        if frames and not self.stopped:
            self.summary.dropped_frames += len(frames) - 1
            self._frame(frames[-1])

    def finish(self) -> None:
        """The last, shorter window at the end of the stream."""
        for window in self.session.close():
            self._window(window, self._last_chunk)

    def _frame(self, frame: Frame) -> None:
        """Analyse one frame, unless its time is not at least 1 ms after the previous one's (then it is skipped)."""
        if self._last_frame is not None and frame.time < self._last_frame + 1e-3:
            return
        start = time.perf_counter()
        result = self.session.add_frame(frame.time, frame.image)
        face_ms = 1000 * (time.perf_counter() - start)
        self._last_frame = frame.time
        self.summary.frames += 1
        self.summary.face_ms.append(face_ms)
        self.time = max(self.time, frame.time)
        self.image = frame.image
        self._emit(result, {"decode": frame.decode_ms, "face": face_ms})

    def _window(self, window: WindowResult, chunk: AudioChunk | None) -> None:
        """Count a window and time it from the moment its end was available to its result."""
        done = self._ready.popleft()
        latency = dict(window.latency_ms)
        if window.speech is not None and chunk is not None:
            # the chunk's last sample arrived at chunk.arrival; on a real-time stream, the window's end before that
            lag = max(0.0, chunk.end - window.end) if self.real_time else 0.0
            ready = (chunk.arrival if chunk.arrival is not None else done) - lag
            self.summary.speech_windows += 1
            self.summary.silent_windows += window.speech.status not in PREDICTED
            self.summary.label_latency_ms.append(1000 * (done - ready))
            self.summary.label_times.append(done)
            latency["window_end_to_label"] = self.summary.label_latency_ms[-1]
        if window.result.emotion is not None:
            self.summary.fused_labels[window.result.emotion] += 1
        self._emit(window, latency)

    def _emit(self, result: FrameResult | WindowResult, latency: dict[str, float]) -> None:
        self.summary.stream_seconds = self.time
        if self.on_update is not None and self.on_update(result, latency, self.image) is False:
            self.summary.stopped = "quit"
            self.stopped = True

    def _stopped(self, event: SourceStopped) -> None:
        if event.error is None:
            self.names.pop(event.kind, None)
            return
        name = self.names.pop(event.kind, event.kind)
        rest = {"frames": "; going on with faces only", "audio": "; going on with the voice only"}
        self.warn(f"the {name} stopped ({short_error(event.error)}){''.join(rest[k] for k in self.names)}")

    def _past_duration(self, stream_time: float) -> bool:
        if self.duration is not None and stream_time > self.duration + 1e-9:
            self.summary.stopped = "duration"
            self.stopped = True
            return True
        return False
