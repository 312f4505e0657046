"""Video frames with timestamps, decoded with PyAV (bundled FFmpeg).

:func:`iter_video_frames` yields :class:`VideoFrame` records (frame number, time in seconds, ``(H, W, 3)``
uint8 RGB pixels), optionally sampled at a fixed rate and downscaled. :func:`probe_video` reads a file's
streams without decoding pixels. Times are seconds from the start of the file (the container's start time
is subtracted), the same axis as the samples :func:`avemo.io.audio.load_audio` returns for its audio track.
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
from avemo.io.files import check_media_file, short_error

log = logging.getLogger(__name__)

#: Demuxers PyAV uses for single still images; a file opened by one of them is not a video.
_STILL_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "gif_pipe")
#: Timestamps within this many seconds of a sampling instant count as "at" it.
_TIME_TOLERANCE = 1e-4


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` reads from a media file's header.

    Attributes:
        path: the file.
        duration: length of the file in seconds (0.0 when the container does not say).
        fps: average video frame rate in frames per second, or ``None`` without a video stream.
        width, height: frame size in pixels, or ``None`` without a video stream.
        n_frames: number of video frames (from the header, else estimated as duration * fps), or ``None``.
        has_video, has_audio: whether the file holds a video / audio stream.
        audio_duration: length of the first audio stream in seconds, or ``None``.
    """

    path: Path
    duration: float
    fps: float | None
    width: int | None
    height: int | None
    n_frames: int | None
    has_video: bool
    has_audio: bool
    audio_duration: float | None


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


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read the streams of a media file (no pixels are decoded).

    Raises:
        MediaDecodeError: if the file is missing, a folder, empty, or not a media file PyAV can open.
    """
    path = Path(path)
    with _open(path) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = _container_duration(container)
        fps = width = height = n_frames = None
        if video is not None:
            rate = video.average_rate or video.guessed_rate or video.base_rate
            fps = float(rate) if rate else None
            width, height = video.codec_context.width or None, video.codec_context.height or None
            stream_duration = _stream_duration(video)
            duration = duration or stream_duration or 0.0
            if video.frames:
                n_frames = int(video.frames)
            elif fps and (stream_duration or duration):
                n_frames = int(round((stream_duration or duration) * fps))
        audio_duration = None
        if audio is not None:
            audio_duration = _stream_duration(audio)
            if audio_duration is None and video is None:
                audio_duration = duration or None
            duration = duration or audio_duration or 0.0
        return VideoInfo(path=path, duration=float(duration or 0.0), fps=fps, width=width, height=height,
                         n_frames=n_frames, has_video=video is not None, has_audio=audio is not None,
                         audio_duration=audio_duration)


def is_video_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a readable media file with a video stream (a still image is not a video).

    Never raises: a missing or unreadable file is simply not a video.
    """
    from avemo.io.files import IMAGE_EXTENSIONS

    path = Path(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return False
    try:
        with _open(path) as container:
            if container.format.name in _STILL_FORMATS or container.format.name.endswith("_pipe"):
                return False
            return bool(container.streams.video)
    except MediaDecodeError:
        return False


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
    path = Path(path)
    container = _open(path)
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
        container.close()
        raise MediaDecodeError(f"{path}: has no video stream (streams: {kinds}); for audio-only files use "
                               "avemo.io.audio.load_audio")
    return _frames(path, container, fps, max_side, start, end)


def _frames(path: Path, container, fps: float | None, max_side: int | None, start: float,
            end: float | None) -> Iterator[VideoFrame]:
    import av

    with container:
        stream = container.streams.video[0]
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
            for frame in container.decode(stream):
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


def _open(path: Path):
    import av

    check_media_file(path, "video")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaDecodeError(f"{path}: not a readable video file ({short_error(exc)}); the file is corrupt or "
                               "truncated, or not a video (use mp4/mkv/webm/avi/mov)") from None
    if not container.streams:
        container.close()
        raise MediaDecodeError(f"{path}: contains no audio or video streams; the file is corrupt or truncated "
                               "(e.g. an mp4 cut off before its index), re-export or re-download it")
    return container


def _container_duration(container) -> float | None:
    import av

    return container.duration / av.time_base if container.duration else None


def _stream_duration(stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None

