"""The live loop: events from the sources into a :class:`~avemo.live.analyser.LiveAnalyser`, one
:class:`~avemo.live.analyser.LiveUpdate` out per analysed frame or completed speech window.

>>> summary = run_live(engine, VideoFileSource("clip.mp4"), AudioFileSource("clip.mp4"), on_update=print)
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
from avemo.inference.engine import InferenceEngine
from avemo.io.files import short_error
from avemo.live.analyser import LiveAnalyser, LiveConfig, LiveUpdate, SpeechWindow
from avemo.live.schedule import RealTimeEvents, SourceStopped, in_stream_order
from avemo.live.sources import AudioChunk, StreamClock

#: ``on_update(update, latest frame RGB or None)``; returning ``False`` stops the loop.
UpdateCallback = Callable[[LiveUpdate, "np.ndarray | None"], "bool | None"]


@dataclasses.dataclass
class LiveSummary:
    """What a run did: frames analysed and skipped (stale, when the loop fell behind real time), speech windows
    (and how many were silent), seconds of stream and of wall clock, why it stopped, the top fused label of each
    update, and the raw timings: ``face_ms`` per frame, ``label_latency_ms`` (end of each speech window to its
    label) and ``label_times`` (``time.perf_counter()`` of each speech label)."""

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


def run_live(engine: InferenceEngine, frames=None, audio=None, config: LiveConfig | None = None,
             on_update: UpdateCallback | None = None, pace: bool = True, duration: float | None = None,
             clock: StreamClock | None = None, warn: Callable[[str], None] = print_warning,
             warm_up: bool = True) -> LiveSummary:
    """Run the live loop until the sources end, ``duration`` seconds of stream have passed, ``on_update`` returns
    ``False``, or Ctrl-C; the sources are closed at the end.

    Args:
        frames, audio: a frame source and an audio source (:mod:`avemo.live.sources`, or any iterables of
            :class:`Frame` / :class:`AudioChunk`); either may be ``None``.
        pace: play file sources at real time (``False``: as fast as they decode; files only).
        warn: receives one line when a source fails (the loop goes on with the other one).
        warm_up: run the models once before the stream starts (see :meth:`LiveAnalyser.warm_up`).

    Raises:
        ParameterError: for no source, ``pace=False`` with a device, or a bad ``duration``.
    """
    if frames is None and audio is None:
        raise ParameterError("nothing to analyse: give a frame source, an audio source, or both")
    if duration is not None and not duration > 0:
        raise ParameterError(f"--duration must be > 0 seconds, got {duration}")
    names = {kind: getattr(source, "kind", default) for kind, source, default in
             (("frames", frames, "video"), ("audio", audio, "audio")) if source is not None}
    analyser = LiveAnalyser(engine, config or LiveConfig())
    if warm_up:
        analyser.warm_up()
    run = _Run(analyser, on_update, warn, names, real_time=pace, duration=duration)
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
            run.analyser.close()
            for source in (frames, audio):
                if source is not None and hasattr(source, "close"):
                    source.close()
    run.summary.wall_seconds = time.perf_counter() - started
    return run.summary


class _Run:
    """The state of one run of the loop (the analyser, the stream clock reached so far, the summary)."""

    def __init__(self, analyser: LiveAnalyser, on_update, warn, names: dict[str, str], real_time: bool,
                 duration: float | None) -> None:
        self.analyser, self.on_update, self.warn, self.names = analyser, on_update, warn, names
        self.real_time, self.duration = real_time, duration
        self.summary = LiveSummary()
        self.time = 0.0
        self.stopped = False
        self.image: np.ndarray | None = None
        self._last_chunk: AudioChunk | None = None

    def handle(self, batch: list) -> None:
        """Analyse one batch of events: every audio chunk in order, then the latest frame (older ones are stale)."""
        latency: dict[str, float] = {}
        changed = False
        frames = []
        for event in batch:
            if isinstance(event, SourceStopped):
                self._stopped(event)
            elif self._past_duration(event.end if isinstance(event, AudioChunk) else event.time):
                return
            elif isinstance(event, AudioChunk):
                windows = self.analyser.add_audio(event)
                self._last_chunk = event
                self.time = max(self.time, event.end)
                if windows:
                    latency.update(self._record(windows, event))
                    changed = True
            else:
                frames.append(event)
        if frames:
            self.summary.dropped_frames += len(frames) - 1
            stages = self.analyser.add_frame(frames[-1])
            if stages is not None:
                self.summary.frames += 1
                self.summary.face_ms.append(stages["face"])
                self.time = max(self.time, frames[-1].time)
                self.image = frames[-1].image
                latency.update(stages)
                changed = True
        if changed:
            self._emit(latency)

    def finish(self) -> None:
        """The last, shorter speech window at the end of the stream."""
        windows = self.analyser.finish()
        if windows and self._last_chunk is not None:
            self._emit(self._record(windows, self._last_chunk))

    def _emit(self, latency: dict[str, float]) -> None:
        update = self.analyser.update(self.time, latency)
        self.summary.stream_seconds = self.time
        if update.fused is not None:
            self.summary.fused_labels[update.fused.label] += 1
        if self.on_update is not None and self.on_update(update, self.image) is False:
            self.summary.stopped = "quit"
            self.stopped = True

    def _record(self, windows: list[SpeechWindow], chunk: AudioChunk) -> dict[str, float]:
        """Count the windows and time each from the moment its end was available to its label; the stage times of
        the last one."""
        for window in windows:
            # the chunk's last sample arrived at chunk.arrival; on a real-time stream, the window's end before that
            lag = max(0.0, chunk.end - window.end) if self.real_time else 0.0
            ready = (chunk.arrival if chunk.arrival is not None else window.done) - lag
            self.summary.speech_windows += 1
            self.summary.silent_windows += window.estimate is None
            self.summary.label_latency_ms.append(1000 * (window.done - ready))
            self.summary.label_times.append(window.done)
        return {**windows[-1].latency_ms, "window_end_to_label": self.summary.label_latency_ms[-1]}

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
