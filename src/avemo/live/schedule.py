"""The events of a stream's sources in the order a live loop handles them.

- :func:`in_stream_order`: file sources as fast as they decode (``--no-pace``), one event at a time, frames
  by their time and audio chunks by their end time; nothing is dropped.
- :class:`RealTimeEvents`: devices, and files paced at real time (each file read in its own thread that sleeps
  to the stream clock). Each :meth:`RealTimeEvents.next_batch` gives everything that arrived since the last
  call, so a loop that falls behind skips stale frames (a camera's way) but never audio.

A source that raises yields a :class:`SourceStopped` with the error, and the other source goes on.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from typing import Iterable, Iterator

from avemo.errors import ParameterError
from avemo.live.sources import AudioChunk, Frame, StreamClock

@dataclasses.dataclass(frozen=True)
class SourceStopped:
    """A source ended (``error`` ``None``) or failed (``error`` is why); ``kind`` is ``"frames"`` or ``"audio"``."""

    kind: str
    error: BaseException | None = None


def _key(event: Frame | AudioChunk) -> float:
    """When an event is available in stream time: a frame at its time, an audio chunk at its end."""
    return event.end if isinstance(event, AudioChunk) else event.time


def _stamp(event, arrival: float):
    if isinstance(event, AudioChunk) and event.arrival is None:
        return dataclasses.replace(event, arrival=arrival)
    return event


def in_stream_order(frames: Iterable[Frame] | None, audio: Iterable[AudioChunk] | None
                    ) -> Iterator[Frame | AudioChunk | SourceStopped]:
    """Events of file sources merged by stream time, as fast as they decode (audio chunks stamped on arrival).

    Raises:
        ParameterError: when a source is a live device (a camera or microphone cannot run faster than real time).
    """
    sources = {kind: s for kind, s in (("frames", frames), ("audio", audio)) if s is not None}
    for source in sources.values():
        if getattr(source, "live", False):
            raise ParameterError("--no-pace is for file sources (--video / --audio); a camera or microphone "
                                 "runs at real time")
    iterators = {kind: iter(s) for kind, s in sources.items()}
    pending: dict[str, Frame | AudioChunk] = {}
    while iterators or pending:
        for kind in [k for k in iterators if k not in pending]:
            try:
                pending[kind] = next(iterators[kind])
            except StopIteration:
                del iterators[kind]
                yield SourceStopped(kind)
            except Exception as exc:  # a failing source stops alone; the other goes on
                del iterators[kind]
                yield SourceStopped(kind, exc)
        if not pending:
            return
        kind = min(pending, key=lambda k: _key(pending[k]))
        yield _stamp(pending.pop(kind), time.perf_counter())


class RealTimeEvents:
    """Sources read in background threads on the wall clock: devices as they deliver, files slept to the stream
    clock (``clock.wall(time)``). Use as a context manager (or call :meth:`stop`)."""

    def __init__(self, frames: Iterable[Frame] | None, audio: Iterable[AudioChunk] | None,
                 clock: StreamClock) -> None:
        self.clock = clock
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.running = 0
        self._threads = []
        clock.start()
        for kind, source in (("frames", frames), ("audio", audio)):
            if source is not None:
                thread = threading.Thread(target=self._pump, args=(kind, source), name=f"avemo-live-{kind}",
                                          daemon=True)
                self._threads.append(thread)
                self.running += 1
        for thread in self._threads:
            thread.start()

    def _pump(self, kind: str, source) -> None:
        paced = not getattr(source, "live", False)
        try:
            for event in source:
                if paced:
                    delay = self.clock.wall(_key(event)) - time.perf_counter()
                    if delay > 0 and self._stop.wait(delay):
                        return
                if self._stop.is_set():
                    return
                self._queue.put(_stamp(event, time.perf_counter()))
            self._queue.put(SourceStopped(kind))
        except Exception as exc:  # reported by the loop; the other source goes on
            self._queue.put(SourceStopped(kind, exc))

    def next_batch(self, timeout: float = 0.5) -> list[Frame | AudioChunk | SourceStopped]:
        """Everything that arrived since the last call, waiting up to ``timeout`` s for the first event (an empty
        list when nothing came)."""
        try:
            batch = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                return batch

    def stop(self, wait: float = 1.0) -> None:
        """Stop the threads, waiting up to ``wait`` s for each (so a device is not closed while it is read)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(wait)

    def __enter__(self) -> "RealTimeEvents":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
