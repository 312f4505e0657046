"""Where a live stream's frames and audio come from: a camera, a microphone, or files played as if live.

Every source is an iterable of events on one stream clock (seconds from the start of the stream): a frame
source yields :class:`Frame` records, an audio source :class:`AudioChunk` records. ``live`` says whether it
runs on the wall clock by itself (a camera, a microphone) or is a file that the scheduler paces
(:mod:`avemo.live.schedule`). ``close()`` frees the device. A device that fails while it is read raises from
the iterator; the loop reports it on one line and goes on with the other source.
"""

from __future__ import annotations

import dataclasses
import queue
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from avemo.errors import AvemoError, MediaDecodeError, ParameterError
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio
from avemo.io.files import short_error
from avemo.io.media import probe_media
from avemo.io.video import iter_video_frames

#: Audio is delivered in blocks of this many seconds (a microphone's block size, a file's chunk).
BLOCK_SECONDS = 0.05
#: A microphone that delivers nothing for this many seconds counts as failed.
MICROPHONE_TIMEOUT = 2.0
#: Frames larger than this (longer side, pixels) are downscaled when decoded from a file.
MAX_FRAME_SIDE = 640


@dataclasses.dataclass(frozen=True)
class Frame:
    """One video frame: ``time`` in seconds of stream time, ``image`` ``(H, W, 3)`` uint8 RGB, and the
    milliseconds spent decoding it."""

    time: float
    image: np.ndarray
    decode_ms: float = 0.0


@dataclasses.dataclass(frozen=True)
class AudioChunk:
    """A block of mono audio starting at ``time`` seconds of stream time: ``samples`` ``(n,)`` float32 at
    ``sampling_rate`` Hz; ``arrival`` is the ``time.perf_counter()`` at which it became available (``None`` for
    a file: the scheduler stamps it)."""

    time: float
    samples: np.ndarray
    sampling_rate: int = TARGET_SAMPLING_RATE
    arrival: float | None = None

    @property
    def end(self) -> float:
        return self.time + len(self.samples) / self.sampling_rate


class StreamClock:
    """The stream clock: seconds since :meth:`start` (``time.perf_counter`` based)."""

    def __init__(self) -> None:
        self.origin: float | None = None

    def start(self) -> None:
        if self.origin is None:
            self.origin = time.perf_counter()

    def now(self) -> float:
        """Seconds of stream time elapsed (0 before the start)."""
        return 0.0 if self.origin is None else time.perf_counter() - self.origin

    def wall(self, stream_time: float) -> float:
        """The ``time.perf_counter()`` value at which the stream reaches ``stream_time`` seconds."""
        self.start()
        return self.origin + stream_time


# ---- files ------------------------------------------------------------------------------------------------------

class VideoFileSource:
    """The frames of a video file (sampled at ``fps``, default every frame), downscaled to at most 640 pixels.

    Raises:
        MediaDecodeError: for a missing or unreadable file, or one without a video stream.
    """

    live = False
    kind = "video"

    def __init__(self, path: str | Path, fps: float | None = None) -> None:
        self.path, self.fps = Path(path), fps
        self.info = probe_media(self.path)
        if not self.info.has_video:
            raise MediaDecodeError(f"{self.path}: has no video stream; give it as --audio, or a video as --video")

    def __iter__(self) -> Iterator[Frame]:
        frames = iter_video_frames(self.path, fps=self.fps, max_side=MAX_FRAME_SIDE)
        while True:
            start = time.perf_counter()
            try:
                frame = next(frames)
            except StopIteration:
                return
            yield Frame(frame.time, frame.image, 1000 * (time.perf_counter() - start))

    def close(self) -> None:
        pass


class AudioFileSource:
    """An audio file (or a video's audio track) decoded once, then given out in blocks of ``block`` seconds.

    Raises:
        MediaDecodeError: for a missing or unreadable file, or one without audio.
    """

    live = False
    kind = "audio"

    def __init__(self, path: str | Path, block: float = BLOCK_SECONDS) -> None:
        self.path = Path(path)
        self.samples = load_audio(self.path, TARGET_SAMPLING_RATE)
        self.block = block

    def __iter__(self) -> Iterator[AudioChunk]:
        yield from signal_chunks(self.samples, TARGET_SAMPLING_RATE, self.block)

    def close(self) -> None:
        pass


def signal_chunks(samples: np.ndarray, sampling_rate: int, block: float = BLOCK_SECONDS,
                  offset: float = 0.0) -> Iterator[AudioChunk]:
    """``samples`` as consecutive chunks of ``block`` seconds (the last one shorter), starting at ``offset`` s."""
    size = max(1, int(round(block * sampling_rate)))
    for start in range(0, len(samples), size):
        yield AudioChunk(offset + start / sampling_rate, samples[start:start + size], sampling_rate)


# ---- devices ----------------------------------------------------------------------------------------------------

class CameraSource:
    """Frames of an OpenCV camera (``cv2.VideoCapture(index)``), timed on the stream clock; with ``fps``, frames
    closer than ``1 / fps`` to the last one kept are skipped.

    Raises:
        AvemoError: when the camera cannot be opened (no such index, in use, no permission).
    """

    live = True
    kind = "camera"

    def __init__(self, index: int, clock: StreamClock, fps: float | None = None) -> None:
        import cv2

        self.index, self.clock, self.fps = index, clock, fps
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our one-line error says it all
        try:
            self._capture = cv2.VideoCapture(index)
            opened = self._capture.isOpened()
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not opened:
            self._capture.release()
            raise AvemoError(f"camera {index} could not be opened: no such camera, or it is in use or not "
                             "permitted; use --video FILE or another --camera")

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        self.clock.start()
        last = None
        while True:
            if not self._capture.grab():
                raise MediaDecodeError(f"camera {self.index} stopped delivering frames")
            now = self.clock.now()
            if self.fps and last is not None and now - last < 1.0 / self.fps:
                continue
            start = time.perf_counter()
            ok, bgr = self._capture.retrieve()
            if not ok:
                raise MediaDecodeError(f"camera {self.index} gave a frame that could not be decoded")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            last = now
            yield Frame(now, rgb, 1000 * (time.perf_counter() - start))

    def close(self) -> None:
        self._capture.release()


class MicrophoneSource:
    """Mono audio of a ``sounddevice`` input (``device``: a name or an index; ``None``: the system's default),
    at 16 kHz when the device allows it, else at its own rate, in blocks of ``block`` seconds. Stream time is
    counted in samples from :meth:`start`.

    Raises:
        AvemoError: when sounddevice / PortAudio is missing or the device cannot be opened.
    """

    live = True
    kind = "microphone"

    def __init__(self, device: str | int | None, clock: StreamClock, block: float = BLOCK_SECONDS) -> None:
        try:
            import sounddevice
        except (ImportError, OSError) as exc:
            raise AvemoError(f"the microphone needs sounddevice and PortAudio ({short_error(exc)}); install "
                             "libportaudio2, or use --audio FILE or --no-microphone") from None
        self.clock = clock
        self._queue: queue.Queue = queue.Queue()
        device = int(device) if isinstance(device, str) and device.isdigit() else device
        self._stream = None
        for rate in (TARGET_SAMPLING_RATE, None):
            try:
                self._stream = sounddevice.InputStream(
                    samplerate=rate, channels=1, dtype="float32", device=device, callback=self._callback,
                    blocksize=int(block * (rate or TARGET_SAMPLING_RATE)))
                break
            except (sounddevice.PortAudioError, ValueError) as exc:
                error = exc
        if self._stream is None:
            raise AvemoError(f"the microphone {device if device is not None else '(default)'} could not be opened "
                             f"({short_error(error)}); use --audio FILE, another --microphone, or --no-microphone")
        self.sampling_rate = int(self._stream.samplerate)

    def _callback(self, indata, frames, time_info, status) -> None:
        self._queue.put((np.array(indata[:, 0], dtype=np.float32), time.perf_counter()))

    def __iter__(self) -> Iterator[AudioChunk]:
        self.clock.start()
        self._stream.start()
        received = 0
        while True:
            try:
                samples, arrival = self._queue.get(timeout=MICROPHONE_TIMEOUT)
            except queue.Empty:
                raise MediaDecodeError(f"the microphone sent no audio for {MICROPHONE_TIMEOUT:.0f} s") from None
            yield AudioChunk(received / self.sampling_rate, samples, self.sampling_rate, arrival)
            received += len(samples)

    def close(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception:  # a device that already failed may refuse to stop; nothing is left to free
            pass


# ---- from the command line's choices ---------------------------------------------------------------------------

@dataclasses.dataclass
class Sources:
    """The frame and audio sources of one run (either may be ``None``), the clock they share, and notes for the
    user (e.g. "the video has no audio track")."""

    frames: object | None
    audio: object | None
    clock: StreamClock
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def live(self) -> bool:
        return any(getattr(s, "live", False) for s in (self.frames, self.audio) if s is not None)

    def close(self) -> None:
        for source in (self.frames, self.audio):
            if source is not None:
                source.close()


def open_sources(camera: int = 0, microphone: str | int | None = None, video: str | None = None,
                 audio: str | None = None, no_camera: bool = False, no_microphone: bool = False,
                 fps: float | None = None) -> Sources:
    """Open what ``avemo live`` reads: ``video`` instead of the camera, ``audio`` instead of the microphone (a
    video's own audio track stands in for the microphone when ``audio`` is not given; a video without one runs
    on faces only). Files are checked before any device is opened.

    Raises:
        ParameterError: when both inputs are switched off.
        MediaDecodeError: for a missing or unreadable file.
        AvemoError: for a camera or microphone that cannot be opened (a microphone that fails while a camera
            works is a note instead: faces only).
    """
    if fps is not None and not fps > 0:
        raise ParameterError(f"--fps must be > 0, got {fps}")
    if no_camera and no_microphone:
        raise ParameterError("--no-camera and --no-microphone leave nothing to analyse; drop one of them")
    clock, notes = StreamClock(), []
    frames = audio_source = None
    if video and not no_camera:
        frames = VideoFileSource(video, fps)
    if audio and not no_microphone:
        audio_source = AudioFileSource(audio)
    elif video and not no_microphone:
        if (frames.info if frames is not None else probe_media(video)).has_audio:
            audio_source = AudioFileSource(video)
        else:
            notes.append(f"{video} has no audio track: faces only (give --audio FILE for the voice)")
    try:
        if frames is None and not no_camera and not video:
            frames = CameraSource(camera, clock, fps)
        if audio_source is None and not no_microphone and not video:
            try:
                audio_source = MicrophoneSource(microphone, clock)
            except AvemoError as exc:
                if frames is None:
                    raise
                notes.append(f"{exc}; going on with faces only")
    except BaseException:
        for source in (frames, audio_source):
            if source is not None:
                source.close()
        raise
    if frames is None and audio_source is None:
        raise ParameterError("nothing to analyse: give --video FILE, --audio FILE or a camera / microphone")
    return Sources(frames, audio_source, clock, notes)
