"""Video frames with timestamps, decoded with PyAV (bundled FFmpeg).

:func:`iter_video_frames` yields :class:`VideoFrame` records (frame number, time in seconds, ``(H, W, 3)``
uint8 RGB pixels), optionally sampled at a fixed rate and downscaled. :func:`read_video` decodes a video's
frames and its audio track in one pass over one open container (:func:`avemo.io.media.open_media`). Times are
seconds from the start of the file (the container's start time is subtracted), the same axis as the samples
:func:`avemo.io.audio.load_audio` returns for its audio track. What a file holds: :func:`avemo.io.media.probe_media`.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from avemo.errors import MediaDecodeError, ParameterError
from avemo.io.audio import TARGET_SAMPLING_RATE, AudioTrack, finish_signal
from avemo.io.files import short_error
from avemo.io.media import MediaFile, main_streams, open_container, require_streams

log = logging.getLogger(__name__)

#: Timestamps within this many seconds of a sampling instant count as "at" it.
_TIME_TOLERANCE = 1e-4


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame.

    Attributes:
        index: 0-based number of the frame in the video stream (counted while decoding; after a seek to
            ``start`` it is estimated from the timestamp and the stream's frame rate).
        time: presentation time in seconds from the start of the file.
        image: pixels, shape ``(H, W, 3)``, uint8 RGB.
    """

    index: int
    time: float
    image: np.ndarray


def iter_video_frames(path: str | os.PathLike, fps: float | None = None, max_side: int | None = 640,
                      start: float | None = None, end: float | None = None) -> Iterator[VideoFrame]:
    """Decode the frames of a video, optionally sampled at ``fps`` and downscaled.

    The file is opened and checked when this is called (so a bad file fails at once); frames are decoded
    lazily as the iterator is consumed. A file cut off in the middle yields the frames before the cut and
    logs a warning.

    Args:
        path: an mp4/mkv/webm/avi/mov ... file with a video stream.
        fps: sampling rate in frames per second: for each instant ``start + k / fps`` the first decoded
            frame at or after it is yielded (each frame at most once, so an ``fps`` above the video's rate
            gives every frame). ``None`` yields every frame.
        max_side: downscale frames so the longer side is at most this many pixels (aspect kept);
            ``None`` keeps the full size.
        start, end: only frames with ``start <= time < end`` (seconds).

    Returns:
        An iterator of :class:`VideoFrame`.

    Raises:
        ParameterError: for a non-positive ``fps`` or ``max_side``, or ``start``/``end`` out of order.
        MediaDecodeError: if the file is missing, empty, not a media file, has no video stream, or not a
            single frame can be decoded.
    """
    fps, start = _sampling(fps, max_side, start, end)
    path = Path(path)
    container = open_container(path, "video")
    try:
        stream = _video_stream(path, container)
    except MediaDecodeError:
        container.close()
        raise
    return _closing(container, _frames(path, container, stream, fps, max_side, start, end))


class VideoReading:
    """A video's frames and, with ``audio``, its audio track, decoded in one pass over the open container of a
    :class:`~avemo.io.media.MediaFile` (see :func:`read_video`): iterate it once for the frames (as
    :func:`iter_video_frames` yields them), then :meth:`audio` gives the track, whose packets were decoded on the way.
    """

    def __init__(self, media: MediaFile, fps: float | None = None, max_side: int | None = 640,
                 audio: bool = False) -> None:
        fps, _ = _sampling(fps, max_side, None, None)
        self.path = media.path
        self._container = media.container
        stream = _video_stream(self.path, self._container)
        audio_stream = main_streams(self._container)[1] if audio else None
        self._track = AudioTrack(self.path, audio_stream) if audio_stream is not None else None
        self._frames = _frames(self.path, self._container, stream, fps, max_side, 0.0, None, self._track)

    def __iter__(self) -> Iterator[VideoFrame]:
        return self._frames

    def audio(self, sampling_rate: int = TARGET_SAMPLING_RATE) -> np.ndarray:
        """The audio track as :func:`~avemo.io.audio.load_audio` gives it: ``(n,)`` float32 mono at
        ``sampling_rate``. Frames not read by then are skipped (the rest of the file is read for its audio alone).

        Raises:
            MediaDecodeError: when the file has no audio stream (or it was not asked for), or nothing decodes.
        """
        track = self._track
        if track is None:
            raise MediaDecodeError(f"{self.path}: has no audio stream; give a file that contains audio")
        track.read_rest(self._container)
        signal, rate = track.samples()
        return finish_signal(self.path, signal, rate, sampling_rate)


def read_video(media: MediaFile, fps: float | None = None, max_side: int | None = 640,
               audio: bool = False) -> VideoReading:
    """The frames (sampled at ``fps``, downscaled to ``max_side``; see :func:`iter_video_frames`) and, with
    ``audio``, the audio track of an open video, decoded in one pass over its one container.

    Raises:
        ParameterError: for a non-positive ``fps`` or ``max_side``.
        MediaDecodeError: when the file has no video stream; while iterating, as :func:`iter_video_frames`.
    """
    return VideoReading(media, fps, max_side, audio)


def _sampling(fps, max_side: int | None, start: float | None, end: float | None) -> tuple[float | None, float]:
    """``fps`` as a float (or None) and ``start`` in seconds, checked.

    Raises:
        ParameterError: for a non-positive ``fps`` or ``max_side``, or ``start``/``end`` out of order.
    """
    if fps is not None:
        try:
            fps_value = float(fps)
        except (TypeError, ValueError):
            fps_value = float("nan")
        if isinstance(fps, bool) or not (math.isfinite(fps_value) and fps_value > 0):
            raise ParameterError(f"fps must be a positive number of frames per second or None, got {fps!r}")
        fps = fps_value
    if max_side is not None and max_side < 2:
        raise ParameterError(f"max_side must be at least 2 pixels or None, got {max_side!r}")
    start = 0.0 if start is None else float(start)
    if start < 0 or (end is not None and end <= start):
        raise ParameterError(f"invalid segment start={start} end={end}: need 0 <= start < end (seconds)")
    return fps, start


def _video_stream(path: Path, container):
    """The container's video stream (:func:`~avemo.io.media.main_streams`).

    Raises:
        MediaDecodeError: when the container holds no stream, or no video stream.
    """
    require_streams(path, container)
    stream = main_streams(container)[0]
    if stream is None:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
        raise MediaDecodeError(f"{path}: has no video stream (streams: {kinds}); for audio-only files use "
                               "avemo.io.audio.load_audio")
    return stream


def _closing(container, frames: Iterator[VideoFrame]) -> Iterator[VideoFrame]:
    with container:
        yield from frames


def _decoded(container, stream, track: AudioTrack | None):
    """The decoded frames of the video ``stream``; with ``track``, the audio packets read on the way go to it."""
    if track is None:
        yield from container.decode(stream)
        return
    for packet in container.demux(stream, track.stream):
        if packet.stream.index == track.stream.index:
            track.add(packet)
        else:
            yield from packet.decode()


def _frames(path: Path, container, stream, fps: float | None, max_side: int | None, start: float,
            end: float | None, track: AudioTrack | None = None) -> Iterator[VideoFrame]:
    import av

    stream.thread_type = "AUTO"
    time_base = float(stream.time_base) if stream.time_base else None
    rate = stream.average_rate or stream.guessed_rate
    rate = float(rate) if rate else None
    offset = container.start_time / av.time_base if container.start_time not in (None, 0) else 0.0
    seeked = False
    if start > 0 and time_base:
        try:
            container.seek(int((start + offset) / time_base), stream=stream, backward=True)
            seeked = True
        except (av.error.FFmpegError, OSError, ValueError):
            pass  # not seekable: decode from the beginning and skip to start
    count, decoded, k = 0, 0, 0
    last_time = None
    expected = int(stream.frames) if stream.frames else None
    try:
        for frame in _decoded(container, stream, track):
            decoded += 1
            if frame.pts is not None and time_base:
                t = frame.pts * time_base - offset
            elif last_time is not None and rate:
                t = last_time + 1.0 / rate
            else:
                t = count / rate if rate else float(count)
            index = int(round(t * rate)) if seeked and rate else count
            count += 1
            last_time = t
            if t < start - _TIME_TOLERANCE:
                continue
            if end is not None and t >= end - _TIME_TOLERANCE:
                break
            if fps is not None:
                if t < start + k / fps - _TIME_TOLERANCE:
                    continue
                # advance to the first sampling instant after this frame
                k = max(k + 1, int(math.floor((t - start + _TIME_TOLERANCE) * fps)) + 1)
            yield VideoFrame(index=index, time=float(t), image=_to_rgb(frame, max_side))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        if decoded == 0:
            raise MediaDecodeError(f"{path}: video stream could not be decoded ({short_error(exc)}); "
                                   "the file is corrupt or truncated, re-export or re-download it") from None
        log.warning("%s: decoding stopped after %d frames (%s); the file is probably truncated",
                    path, decoded, short_error(exc))
        return
    if decoded == 0:
        if seeked:
            return  # start lies beyond the last frame: an empty segment
        raise MediaDecodeError(f"{path}: not a single video frame could be decoded; the file is corrupt or "
                               "truncated, re-export or re-download it")
    if expected and not seeked and end is None and decoded < expected:
        log.warning("%s: only %d of %d video frames could be decoded; the file is probably truncated",
                    path, decoded, expected)


def _to_rgb(frame, max_side: int | None) -> np.ndarray:
    width, height = frame.width, frame.height
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = max(2, int(round(width * scale))), max(2, int(round(height * scale)))
        frame = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
        return np.ascontiguousarray(frame.to_ndarray())
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
