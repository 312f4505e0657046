"""The Whisper encoder on ONNX Runtime: the PyTorch port (:class:`~avemo.features.audio.whisper_layers.WhisperEncoder`)
exported once per machine with every hidden state as its output, in float32 or dynamically quantised to int8.

Backends (:data:`BACKENDS`): ``torch`` (the reference), ``onnx-f32`` (the same numbers within float32 rounding)
and ``onnx-int8`` (weights of every matrix product quantised per channel to int8, activations quantised on the fly;
about 3-4x faster on one CPU core, with a small accuracy cost that ``avemo benchmark speed`` measures). The int8
weights use 7 of the 8 bits (ONNX Runtime's ``reduce_range``): on CPUs without VNNI instructions (AVX2 only, as many
AMD and older Intel ones) the full range saturates the int16 sums of ONNX Runtime's u8 x s8 kernels, which doubled
the error of the last layer (11% against 5.6%, relative, on an AMD EPYC).

The ONNX files are built on first use into the cache (``~/.cache/avemo/onnx``; a few seconds), named by the model,
the precision, the weights file's size and time and :data:`GRAPH_VERSION`, each with a ``.sha256`` beside it. A
file that is missing is built; one that is corrupt (its checksum or ONNX Runtime refuses it) is rebuilt with a
warning; when building fails the PyTorch encoder is used with a one-line warning. Nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

from avemo.errors import ParameterError

log = logging.getLogger("avemo.features.audio.whisper_onnx")

#: Speech-encoder backends: the PyTorch reference and the two ONNX Runtime precisions.
BACKENDS = ("torch", "onnx-f32", "onnx-int8")
#: Bumped when the exported graph changes (it is part of the file name, so old files are not reused, and of the
#: cache key of an ONNX backend's features): 2 quantises int8 weights with ``reduce_range``.
GRAPH_VERSION = 2
_LOCK = threading.Lock()
_ENCODERS: dict[tuple[str, str], "OnnxWhisperEncoder"] = {}


#: The backend inference uses unless told otherwise (``$AVEMO_SPEECH_BACKEND`` overrides it): the fastest one whose
#: accuracy cost ``avemo benchmark speed`` measured within 0.5 UA points of the reference on every mean figure
#: (:func:`avemo.benchmark.speed.rule_backend`; README, Speed). int8 met the rule with graph version 1 on an earlier
#: machine and missed it by 0.05 points with version 2 on the AMD EPYC machine (0.55 on leave-one-corpus-out single
#: file): onnx-f32 since.
DEFAULT_BACKEND = "onnx-f32"
BACKEND_ENV = "AVEMO_SPEECH_BACKEND"


def default_backend() -> str:
    """``$AVEMO_SPEECH_BACKEND`` when set, else :data:`DEFAULT_BACKEND`.

    Raises:
        ParameterError: when the variable names no backend.
    """
    return check_backend(os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND)


def with_backend(extractors: dict, backend: str | None) -> dict:
    """``extractors`` (``{key: extractor}``) with every Whisper extractor set to run on ``backend`` (``None``:
    :func:`default_backend`); other extractors are returned as they are.

    Raises:
        ParameterError: for an unknown backend.
    """
    import dataclasses

    backend = check_backend(backend) if backend is not None else default_backend()
    out = {}
    for key, extractor in extractors.items():
        names = {f.name for f in dataclasses.fields(extractor.config)}
        if "backend" in names and extractor.config.backend != backend:
            extractor = type(extractor)(dataclasses.replace(extractor.config, backend=backend))
        out[key] = extractor
    return out


def check_backend(backend: str) -> str:
    """``backend`` when it is one of :data:`BACKENDS`.

    Raises:
        ParameterError: for another name.
    """
    if backend not in BACKENDS:
        raise ParameterError(f"speech backend must be one of {list(BACKENDS)}, got {backend!r}")
    return backend


def onnx_dir() -> Path:
    """Where the exported encoders live (``$AVEMO_CACHE/onnx``, default ``~/.cache/avemo/onnx``)."""
    from avemo.features.store import default_cache_dir

    return default_cache_dir() / "onnx"


def onnx_file(model: str, precision: str) -> Path:
    """The file of ``model``'s encoder in ``precision`` (``f32`` or ``int8``) for the installed weights."""
    from avemo.features.audio.whisper import resolve_whisper_dir

    weights = resolve_whisper_dir(model) / "model.bin"
    stat = weights.stat()
    tag = hashlib.sha1(f"{weights.resolve()}:{stat.st_size}:{int(stat.st_mtime)}".encode()).hexdigest()[:10]
    return onnx_dir() / f"whisper-{model}-{precision}-g{GRAPH_VERSION}-{tag}.onnx"


class _Exportable(torch.nn.Module):
    """The encoder with its weights registered as buffers, so that they become ONNX initializers (which the int8
    quantiser needs) rather than constants."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        for i, tensor in enumerate(encoder.w.values()):
            self.register_buffer(f"w{i}", tensor)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.encoder.forward.__wrapped__(self.encoder, mel)  # without inference_mode: traceable


def build_onnx(model: str, precision: str, path: Path | None = None) -> Path:
    """Export ``model``'s encoder (input ``mel`` ``(batch, 80, frames)``, output ``states`` ``(layers + 1, batch,
    frames // 2, width)``) to ONNX in ``precision`` (``f32`` or ``int8``), atomically, with its ``.sha256``.

    Raises:
        ParameterError: for an unknown precision, or when onnx / onnxruntime are not installed.
        AssetNotFoundError: when the Whisper weights are missing.
    """
    from avemo.features.audio.whisper_layers import load_encoder
    from avemo.features.store import file_digest

    if precision not in ("f32", "int8"):
        raise ParameterError(f"precision must be 'f32' or 'int8', got {precision!r}")
    path = path or onnx_file(model, precision)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    f32 = tmp if precision == "f32" else path.with_name(f".{path.name}.{os.getpid()}.f32.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes, which hold for any length
            torch.onnx.export(_Exportable(load_encoder(model=model)), (torch.zeros(1, 80, 200),), str(f32),
                              input_names=["mel"], output_names=["states"], opset_version=17, dynamo=False,
                              dynamic_axes={"mel": {0: "batch", 2: "frames"},
                                            "states": {1: "batch", 2: "out_frames"}})
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)  # the quantiser logs a pre-processing hint at WARNING on the root logger
            try:
                quantize_dynamic(str(f32), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                                 reduce_range=True, op_types_to_quantize=["MatMul", "Gemm"])
            finally:
                root.setLevel(level)
        Path(f"{path}.sha256").write_text(file_digest(tmp))
        os.replace(tmp, path)
    except ImportError as exc:
        raise ParameterError(f"the ONNX speech backend needs onnx and onnxruntime ({exc}); `pip install onnx "
                             "onnxruntime` or use the torch backend") from None
    finally:
        for leftover in {tmp, f32}:
            leftover.unlink(missing_ok=True)
    return path


class OnnxWhisperEncoder:
    """``encoder(mel (batch, 80, frames) tensor) -> (layers + 1, batch, frames // 2, width) tensor`` on ONNX
    Runtime, as :class:`~avemo.features.audio.whisper_layers.WhisperEncoder` computes it. One session per torch
    thread count (``torch.get_num_threads()``), made on first use.

    Raises:
        ParameterError: when the file is corrupt (its checksum differs or ONNX Runtime cannot load it).
    """

    def __init__(self, path: Path) -> None:
        import onnxruntime  # noqa: F401  (fail here, not at the first clip)

        from avemo.features.store import file_digest

        checksum = Path(f"{path}.sha256")
        if not path.is_file() or not checksum.is_file() or file_digest(path) != checksum.read_text().strip():
            raise ParameterError(f"{path}: missing, truncated or altered (checksum); delete it and it is rebuilt")
        self.path = path
        self._sessions: dict[int, object] = {}
        self._session_lock = threading.Lock()
        self._session()  # a file ONNX Runtime cannot read fails here

    def _session(self):
        threads = max(1, torch.get_num_threads())
        with self._session_lock:
            if threads not in self._sessions:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                try:
                    self._sessions[threads] = ort.InferenceSession(str(self.path), options,
                                                                   providers=["CPUExecutionProvider"])
                except Exception as exc:  # onnxruntime raises its own error types
                    raise ParameterError(f"{self.path}: ONNX Runtime cannot load it ({str(exc)[:120]})") from None
            return self._sessions[threads]

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(mel.detach().cpu().numpy(), dtype=np.float32)
        (states,) = self._session().run(["states"], {"mel": x})
        return torch.from_numpy(states)


def load_onnx_encoder(model: str, backend: str):
    """The encoder of ``model`` for ``backend`` (an ``onnx-*`` one), built when missing and rebuilt when corrupt,
    loaded once per process; ``None`` (after a one-line warning) when it cannot be built, so that the caller uses
    the PyTorch encoder."""
    precision = check_backend(backend).removeprefix("onnx-")
    key = (model, precision)
    if key in _ENCODERS:  # every clip comes here: no lock once loaded
        return _ENCODERS[key]
    with _LOCK:
        if key in _ENCODERS:
            return _ENCODERS[key]
        try:
            path = onnx_file(model, precision)
            if not path.is_file():
                log.info("building the ONNX Whisper %s encoder (%s), once: %s", model, precision, path)
                build_onnx(model, precision, path)
            try:
                encoder = OnnxWhisperEncoder(path)
            except ParameterError as exc:
                log.warning("%s; rebuilding it", exc)
                build_onnx(model, precision, path)
                encoder = OnnxWhisperEncoder(path)
        except (ParameterError, OSError, RuntimeError) as exc:
            log.warning("the ONNX Whisper %s encoder (%s) is unusable (%s); using the PyTorch encoder", model,
                        precision, " ".join(str(exc).split())[:200])
            encoder = None
        _ENCODERS[key] = encoder
        return encoder
