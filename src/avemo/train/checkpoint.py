"""Self-describing model checkpoints: ``model.safetensors`` (weights) + ``model.json`` (how to rebuild, metadata).

Nothing is pickled: weights go through safetensors and everything else through JSON.
"""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from avemo.errors import AvemoError, CheckpointError, ParameterError
from avemo.models.registry import EmotionModel, create_model

WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
FORMAT_VERSION = 1


def library_versions() -> dict[str, str]:
    """Versions worth recording with a checkpoint."""
    try:
        avemo_version = metadata.version("avemo")
    except metadata.PackageNotFoundError:
        avemo_version = "unknown"
    return {"avemo": avemo_version, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def to_jsonable(value: Any) -> Any:
    """Convert numpy arrays / scalars, tuples and paths inside ``value`` to JSON types."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def tensors_for_saving(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous, unshared CPU copies (what safetensors requires)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def save_tensors_atomic(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str] | None = None) -> None:
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors_for_saving(tensors), str(tmp), metadata=meta)
    os.replace(tmp, path)


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file.

    Raises:
        CheckpointError: when it is missing or unreadable.
    """
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} is missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                              f"; the file is corrupt or not a safetensors file") from None


def read_json(path: Path) -> dict[str, Any]:
    """Load a JSON object.

    Raises:
        CheckpointError: when it is missing or not a JSON object.
    """
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object, found {type(data).__name__}")
    return data


def load_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: str | Path) -> None:
    """Load a state dict strictly, with a one-line error.

    Raises:
        CheckpointError: for missing, unexpected or mis-shaped tensors.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    shapes = [k for k in expected if k in tensors and tuple(tensors[k].shape) != tuple(expected[k].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if shapes:
        k = shapes[0]
        problems.append(f"{len(shapes)} of the wrong shape (e.g. {k}: {tuple(tensors[k].shape)} vs "
                        f"{tuple(expected[k].shape)})")
    if problems:
        raise CheckpointError(f"weights in {source} do not match the model: {'; '.join(problems)}")
    model.load_state_dict(tensors, strict=True)


def save_checkpoint(directory: str | os.PathLike[str], model: EmotionModel,
                    extra_meta: dict[str, Any] | None = None) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``directory`` (created if needed); returns it.

    ``model.json`` holds ``model.describe()`` (name, input_dim, num_classes, aux_dim, config), ``meta`` (your
    ``extra_meta``: label names, feature extractor keys, standardisation statistics …; numpy arrays become lists)
    and ``versions`` (avemo, torch, numpy, python).

    Raises:
        ParameterError: when ``extra_meta`` cannot be written as JSON.
    """
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    meta = to_jsonable(dict(extra_meta or {}))
    try:
        json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"extra_meta must be JSON-serialisable: {exc}") from None
    save_tensors_atomic(path / WEIGHTS_FILE, model.state_dict(), {"format": "pt"})
    document = {"format_version": FORMAT_VERSION, **to_jsonable(model.describe()), "meta": meta,
                "versions": library_versions()}
    write_json_atomic(path / META_FILE, document)
    return path


def load_checkpoint(directory: str | os.PathLike[str]) -> tuple[EmotionModel, dict[str, Any]]:
    """Rebuild a model saved by :func:`save_checkpoint`; returns ``(model in eval mode, meta)``.

    ``meta`` is the ``extra_meta`` given when saving, plus ``versions`` (the libraries that saved it).

    Raises:
        CheckpointError: when a file is missing, the JSON is invalid or the weights do not match.
    """
    path = Path(directory)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint folder {path} does not exist")
    doc = read_json(path / META_FILE)
    missing = [k for k in ("name", "input_dim", "num_classes") if k not in doc]
    if missing:
        raise CheckpointError(f"{path / META_FILE} lacks {missing}; it was not written by avemo's save_checkpoint")
    try:
        model = create_model(doc["name"], int(doc["input_dim"]), int(doc["num_classes"]),
                             aux_dim=int(doc.get("aux_dim", 0)), config=dict(doc.get("config") or {}))
    except (AvemoError, TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot rebuild the model described in {path / META_FILE}: {exc}") from None
    load_weights(model, read_tensors(path / WEIGHTS_FILE), path / WEIGHTS_FILE)
    model.eval()
    meta = dict(doc.get("meta") or {})
    meta["versions"] = doc.get("versions", {})
    return model, meta
