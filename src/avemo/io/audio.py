"""Decode audio from any common container to float32 mono at a target sampling rate.

soundfile reads wav/flac/ogg/mp3 directly; everything else (m4a, the audio track of mp4/mkv/webm) goes
through PyAV, which bundles FFmpeg. Errors are :class:`~avemo.errors.MediaDecodeError` with a one-line
message that names the file and says what to do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from avemo.errors import MediaDecodeError, ParameterError
from avemo.io.files import check_media_file, short_error
from avemo.io.media import open_container

#: The sampling rate every audio model in avemo works at, in Hz.
TARGET_SAMPLING_RATE = 16000


def load_audio(path: str | os.PathLike, sampling_rate: int = TARGET_SAMPLING_RATE,
               start: float | None = None, end: float | None = None) -> np.ndarray:
    """Read an audio file (or a video's audio track) as float32 mono at ``sampling_rate``.

    Args:
        path: a wav/flac/ogg/mp3/m4a file or an mp4/mkv/webm video with an audio stream.
        sampling_rate: output rate in Hz.
        start, end: optional segment bounds in seconds.

    Returns:
        Samples, shape ``(n,)``, float32 in [-1, 1].

    Raises:
        MediaDecodeError: if the file is missing, empty, not decodable, or has no audio stream.
    """
    path = Path(path)
    check_media_file(path, "audio")
    try:
        signal, rate = _read_soundfile(path)
    except _NotSoundfile:
        signal, rate = _read_pyav(path)
    return finish_signal(path, signal, rate, sampling_rate, start, end)


def finish_signal(path: Path, signal: np.ndarray, rate: int, sampling_rate: int = TARGET_SAMPLING_RATE,
                  start: float | None = None, end: float | None = None) -> np.ndarray:
    """Decoded samples ``(n, channels)`` at ``rate`` Hz as :func:`load_audio` returns them: float32 mono at
    ``sampling_rate``, cut to ``start``..``end`` seconds.

    Raises:
        ParameterError: for a bad segment.
        MediaDecodeError: when no sample is left.
    """
    signal = _to_mono(signal)
    if rate != sampling_rate:
        signal = resample(signal, rate, sampling_rate)
    if start is not None or end is not None:
        a = int(round((start or 0.0) * sampling_rate))
        b = len(signal) if end is None else int(round(end * sampling_rate))
        if a < 0 or b < a:
            raise ParameterError(f"invalid segment start={start} end={end}: need 0 <= start <= end")
        signal = signal[a:b]
    if signal.size == 0:
        raise MediaDecodeError(f"{path}: contains no audio samples; the file is empty or truncated")
    return np.ascontiguousarray(signal, dtype=np.float32)


def resample(signal: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample a 1-D signal with a polyphase filter (exact for rational rate ratios)."""
    if orig_rate <= 0 or target_rate <= 0:
        raise ParameterError(f"sampling rates must be positive, got {orig_rate} -> {target_rate}")
    if orig_rate == target_rate:
        return signal.astype(np.float32, copy=False)
    g = np.gcd(int(orig_rate), int(target_rate))
    return resample_poly(signal, target_rate // g, orig_rate // g).astype(np.float32)


def validate_signal(signal: np.ndarray, sampling_rate: int, min_duration: float = 0.0,
                    name: str = "signal") -> np.ndarray:
    """Check an in-memory signal and return it as float32 mono.

    Accepts shape ``(n,)`` or ``(n, channels)`` / ``(channels, n)`` (the shorter axis is taken as channels).

    Raises:
        ParameterError: for a bad sampling rate or shape.
        MediaDecodeError: for NaN/inf samples, or audio shorter than ``min_duration`` seconds.
    """
    if not isinstance(sampling_rate, (int, np.integer)) or sampling_rate <= 0:
        raise ParameterError(f"{name}: sampling_rate must be a positive integer in Hz, got {sampling_rate!r}")
    signal = np.asarray(signal)
    if signal.dtype.kind not in "fiu":
        raise ParameterError(f"{name}: samples must be numeric, got dtype {signal.dtype}")
    if signal.dtype.kind == "i":  # PCM: full scale is 2**(bits-1), as soundfile converts int -> float
        signal = signal.astype(np.float32) / float(-np.iinfo(signal.dtype).min)
    elif signal.dtype.kind == "u":  # offset binary (e.g. 8-bit PCM): mid-scale is silence
        half = float(np.iinfo(signal.dtype).max // 2 + 1)
        signal = (signal.astype(np.float64) - half).astype(np.float32) / half
    if signal.ndim == 2:
        if signal.shape[0] < signal.shape[1]:
            signal = signal.T
        signal = _to_mono(signal)
    elif signal.ndim != 1:
        raise ParameterError(f"{name}: expected shape (samples,) or (samples, channels), got {signal.shape}")
    if not np.all(np.isfinite(signal)):
        raise MediaDecodeError(f"{name}: contains NaN or infinite samples; clean or re-decode the audio")
    if signal.size / sampling_rate < min_duration:
        from avemo.errors import AudioTooShortError

        raise AudioTooShortError(
            f"{name}: audio is {signal.size / sampling_rate:.3f} s long; at least {min_duration:.2f} s is needed")
    return signal.astype(np.float32, copy=False)


class _NotSoundfile(Exception):
    pass


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    try:
        with sf.SoundFile(str(path)) as f:
            declared = _DATA_CHUNK.search(f.extra_info)
            signal, rate = f.read(dtype="float32", always_2d=True), f.samplerate
    except sf.LibsndfileError as exc:
        raise _NotSoundfile(str(exc)) from None
    except RuntimeError as exc:  # older soundfile versions
        raise _NotSoundfile(str(exc)) from None
    if declared and int(declared.group(2)) < int(declared.group(1)) < 0x7FFFFFFF:
        # libsndfile reads a cut-off WAV/AIFF silently; its header still says how much audio there should be.
        raise MediaDecodeError(f"{path}: file is truncated (header declares {declared.group(1)} bytes of audio, "
                               f"only {declared.group(2)} present); re-export or re-download it")
    return signal, int(rate)


#: libsndfile's note on a data chunk shorter than its header says, e.g. ``data : 32000 (should be 56)``.
_DATA_CHUNK = re.compile(r"^(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _read_pyav(path: Path) -> tuple[np.ndarray, int]:

    with open_container(path, "audio") as container:
        if not container.streams.audio:
            raise MediaDecodeError(f"{path}: has no audio stream; give a file that contains audio")
        track = AudioTrack(path, container.streams.audio[0])
        track.read_rest(container)
        return track.samples()


class AudioTrack:
    """The audio stream of an open PyAV container, decoded packet by packet (:meth:`add`, in the order the
    container holds them, other streams' packets interleaved or not) to float32 mono at the stream's own rate.

    A decoding error stops it: what decoded before is kept (a truncated tail), and :meth:`samples` raises when
    nothing had.
    """

    def __init__(self, path: Path, stream) -> None:
        import av

        self.path, self.stream = path, stream
        self.rate = stream.codec_context.sample_rate or stream.rate
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self.rate)
        self._chunks: list[np.ndarray] = []
        self._error: BaseException | None = None
        self._flushed = False
        #: Whether decoding is over: the container's end (its empty packet, which flushes the decoder) or an error.
        self.ended = False

    def add(self, packet) -> None:
        """Decode one packet of :attr:`stream` (the empty packet at the container's end flushes the decoder)."""
        import av

        if self.ended:
            return
        try:
            for frame in packet.decode():
                self._chunks += [out.to_ndarray().reshape(-1) for out in self._resampler.resample(frame)]
        except (av.error.FFmpegError, ValueError) as exc:
            self.stop(exc)
        if packet.size == 0:
            self.ended = True

    def read_rest(self, container) -> None:
        """Decode the track's packets still in ``container`` (demuxing its stream alone) up to the end, unless
        decoding has ended; a reading error ends it as :meth:`stop` does."""
        import av

        if self.ended:
            return
        try:
            for packet in container.demux(self.stream):
                self.add(packet)
        except (av.error.FFmpegError, ValueError) as exc:
            self.stop(exc)

    def stop(self, exc: BaseException) -> None:
        """End decoding at an error (of the decoder, or of reading the container)."""
        if self._error is None:
            self._error = exc
        self.ended = True

    def samples(self) -> tuple[np.ndarray, int]:
        """The decoded samples ``(n, 1)`` float32 and their rate in Hz.

        Raises:
            MediaDecodeError: when nothing could be decoded.
        """
        if self._error is None and not self._flushed:
            self._chunks += [out.to_ndarray().reshape(-1) for out in self._resampler.resample(None)]
            self._flushed = True
        if self._error is not None and not self._chunks:
            raise MediaDecodeError(f"{self.path}: audio stream could not be decoded ({short_error(self._error)}); "
                                   "the file may be truncated or corrupt")
        if not self._chunks or not self.rate:
            raise MediaDecodeError(f"{self.path}: contains no decodable audio samples; the file may be truncated")
        return np.concatenate(self._chunks)[:, None].astype(np.float32), int(self.rate)


def _to_mono(signal: np.ndarray) -> np.ndarray:
    if signal.ndim == 1:
        return signal
    return signal.mean(axis=1) if signal.shape[1] > 1 else signal[:, 0]

