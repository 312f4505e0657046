"""What kind of media a file is (audio, image or video), decided here and nowhere else, and the one opener of
PyAV containers.

:func:`probe_media` reads a file's header into a :class:`MediaInfo`; :func:`open_media` does the same and keeps
the container open, so that a video's frames and audio track are then decoded from it in one pass
(:func:`avemo.io.video.read_video`) instead of the file being opened again for each. The rules:

- a file with an image suffix (:data:`~avemo.io.files.IMAGE_EXTENSIONS`) is an image; it is not opened here
  (:func:`avemo.io.image.load_image` decodes it);
- a file with an audio suffix that soundfile reads is audio (soundfile decodes it, as :func:`avemo.io.audio.load_audio`
  does);
- anything else is opened by PyAV: a still-image demuxer makes it an image, a video stream (other than an attached
  cover picture) a video, an audio stream audio.

:func:`guess_kind` and :func:`looks_like_media` judge by the name (and first bytes) only, where nothing may be
opened yet: choosing which models to load, walking folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from avemo.errors import MediaDecodeError
from avemo.io.files import (AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, INPUT_EXTENSIONS, VIDEO_EXTENSIONS,
                            check_media_file, short_error)

#: The kinds of media, as :attr:`MediaInfo.kind` names them.
KINDS = ("audio", "image", "video")
#: Demuxers PyAV uses for single still images; a file opened by one of them is an image, not a video.
_STILL_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "gif_pipe")
#: Leading bytes of the media formats avemo decodes (for files whose name has no known suffix).
SIGNATURES = (b"RIFF", b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\x1aE\xdf\xa3",
              b"\xff\xd8\xff", b"\x89PNG", b"BM", b"GIF8")
_UNREADABLE = {
    "video": "{path}: not a readable video file ({error}); the file is corrupt or truncated, or not a video "
             "(use mp4/mkv/webm/avi/mov)",
    "audio": "{path}: not a readable audio or video file ({error}); use wav/flac/ogg/mp3/m4a or a video with an "
             "audio track",
    "media": "{path}: not a readable audio or video file ({error}); give audio (wav/flac/ogg/mp3/m4a), a video "
             "(mp4/mkv/webm/mov) or an image (jpg/png)",
}


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds, read from its header (no pixels or samples are decoded).

    Attributes:
        path: the file.
        kind: ``"audio"``, ``"image"`` or ``"video"``.
        duration: length in seconds (0.0 for images, or when the container does not say).
        has_audio, has_video: whether the file holds an audio / a video stream (an image has neither).
        sampling_rate: the audio stream's rate in Hz, or ``None``.
        audio_duration: length of the audio stream in seconds, or ``None``.
        fps: average video frame rate in frames per second, or ``None`` without a video stream.
        width, height: video frame size in pixels, or ``None``.
        n_frames: number of video frames (from the header, else estimated as duration * fps), or ``None``.
    """

    path: Path
    kind: str
    duration: float = 0.0
    has_audio: bool = False
    has_video: bool = False
    sampling_rate: int | None = None
    audio_duration: float | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    n_frames: int | None = None


class MediaFile:
    """An open media file: :attr:`info`, and for a file PyAV reads, its open :attr:`container` (opened on first
    use when the info was given). Close it, or use it in a ``with`` block."""

    def __init__(self, path: Path, info: MediaInfo, container=None) -> None:
        self.path, self.info, self._container = path, info, container

    @property
    def container(self):
        """The PyAV container (opened now if it is not yet).

        Raises:
            MediaDecodeError: when PyAV cannot open the file.
        """
        if self._container is None:
            self._container = open_container(self.path, "video" if self.info.kind == "video" else "audio")
        return self._container

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> "MediaFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def probe_media(path: str | os.PathLike) -> MediaInfo:
    """What kind of media ``path`` is and what it holds (see the module docstring for the rules).

    Raises:
        MediaDecodeError: (one line) for a missing, empty or unreadable file, or one with no audio or video stream.
    """
    with open_media(path) as media:
        return media.info


def open_media(path: str | os.PathLike, info: MediaInfo | None = None) -> MediaFile:
    """``path`` probed (:func:`probe_media`) with its PyAV container kept open for decoding; with ``info`` from an
    earlier probe, nothing is read again (the container opens when a decoder first needs it).

    Raises:
        MediaDecodeError: as :func:`probe_media`.
    """
    path = Path(path)
    if info is not None:
        return MediaFile(path, info)
    check_media_file(path, "media")
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return MediaFile(path, MediaInfo(path, "image"))
    if suffix in AUDIO_EXTENSIONS and (audio := _soundfile_info(path)) is not None:
        return MediaFile(path, audio)
    try:
        container = open_container(path, "media")
    except MediaDecodeError:
        if (audio := _soundfile_info(path)) is not None:  # what libsndfile reads and FFmpeg does not
            return MediaFile(path, audio)
        raise
    try:
        return MediaFile(path, _container_info(path, container), container)
    except BaseException:
        container.close()
        raise


def open_container(path: Path, kind: str = "video"):
    """``path`` opened by PyAV: the one place avemo opens a container. ``kind`` (``video``, ``audio`` or ``media``)
    is what the caller reads, for the message.

    Raises:
        MediaDecodeError: for a missing, empty or unreadable file.
    """
    import av

    check_media_file(path, kind)
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaDecodeError(_UNREADABLE[kind].format(path=path, error=short_error(exc))) from None


def require_streams(path: Path, container) -> None:
    """Raise a one-line :class:`MediaDecodeError` when an open container holds no stream at all."""
    if not container.streams:
        raise MediaDecodeError(f"{path}: contains no audio or video streams; the file is corrupt or truncated "
                               "(e.g. an mp4 cut off before its index), re-export or re-download it")


def main_streams(container) -> tuple[object | None, object | None]:
    """The video stream (the first that is not an attached cover picture) and the first audio stream, or None."""
    import av

    cover = av.stream.Disposition.attached_pic
    videos = [s for s in container.streams.video if not s.disposition & cover]
    audio = container.streams.audio
    return (videos[0] if videos else None), (audio[0] if audio else None)


def guess_kind(path: str | os.PathLike) -> str | None:
    """The kind a file's name says (``audio``, ``image``, ``video``), or ``None`` for an unknown suffix; nothing is
    opened (where a file is at hand, :func:`probe_media` decides)."""
    suffix = Path(path).suffix.lower()
    for kind, suffixes in (("audio", AUDIO_EXTENSIONS), ("image", IMAGE_EXTENSIONS), ("video", VIDEO_EXTENSIONS)):
        if suffix in suffixes:
            return kind
    return None


def looks_like_media(path: Path) -> bool:
    """Whether a file is worth reading as media: by suffix (:data:`~avemo.io.files.INPUT_EXTENSIONS`), else by its
    first bytes (``ftyp`` at offset 4: mp4/m4a/mov). Never raises: an unreadable file is not media."""
    if path.suffix.lower() in INPUT_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head.startswith(SIGNATURES) or head[4:8] == b"ftyp"


def _soundfile_info(path: Path) -> MediaInfo | None:
    """Audio info from soundfile's reading of the header, or ``None`` when soundfile cannot read the file."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        return None
    duration = float(info.duration)
    return MediaInfo(path, "audio", duration, has_audio=True, sampling_rate=int(info.samplerate),
                     audio_duration=duration)


def _container_info(path: Path, container) -> MediaInfo:
    """The :class:`MediaInfo` of an open PyAV container."""
    require_streams(path, container)
    video, audio = main_streams(container)
    if video is None and audio is None:
        kinds = ", ".join(sorted({s.type for s in container.streams}))
        raise MediaDecodeError(f"{path}: holds no audio or video stream (only {kinds}); give a recording or an image")
    name = container.format.name
    if container.streams.video and (name in _STILL_FORMATS or name.endswith("_pipe")):
        return MediaInfo(path, "image")
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
    audio_duration = sampling_rate = None
    if audio is not None:
        audio_duration = _stream_duration(audio)
        if audio_duration is None and video is None:
            audio_duration = duration or None
        duration = duration or audio_duration or 0.0
        sampling_rate = audio.codec_context.sample_rate or audio.rate or None
    return MediaInfo(path, "video" if video is not None else "audio", float(duration or 0.0), audio is not None,
                     video is not None, sampling_rate, audio_duration, fps, width, height, n_frames)


def _container_duration(container) -> float | None:
    import av

    return container.duration / av.time_base if container.duration else None


def _stream_duration(stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None
