"""One interface for every trained system (speech, face, audio-visual) and one way to load a saved one.

A *system* is a fitted model plus everything needed to apply it (preprocessing, label set, calibration), saved
as a folder with one JSON description file (which file tells the kind) beside safetensors weights:

============================  ==================================================  =====================
kind                          class                                               description file
============================  ==================================================  =====================
``speech``                    :class:`avemo.systems.speech.SpeechSystem`          ``system.json``
``face``                      :class:`avemo.systems.face.FaceSystem`              ``face_system.json``
``av-late-fusion``            :class:`avemo.systems.av_fusion.AVLateFusionSystem` ``av_system.json``
``av-fusion``                 :class:`avemo.systems.av_neural.AVFusionSystem`     ``av_fusion_system.json``
============================  ==================================================  =====================

:func:`load_system` loads any of them by folder or by shipped name (folders under ``avemo/pretrained``).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from avemo.errors import AssetNotFoundError, ParameterError

#: Where the shipped systems live (inside the installed package).
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"

#: kind -> (module, class name, description file, default shipped system).
SYSTEM_KINDS: dict[str, tuple[str, str, str, str]] = {
    "speech": ("avemo.systems.speech", "SpeechSystem", "system.json", "speech-ravdess"),
    "face": ("avemo.systems.face", "FaceSystem", "face_system.json", "face-fer2013"),
    "av-late-fusion": ("avemo.systems.av_fusion", "AVLateFusionSystem", "av_system.json", "av-ravdess-openface"),
    "av-fusion": ("avemo.systems.av_neural", "AVFusionSystem", "av_fusion_system.json", ""),
    "speech-probe": ("avemo.systems.speech_probe", "SpeechProbeSystem", "speech_probe.json", "speech-multicorpus"),
}
#: The kinds that predict emotion from speech alone (what the inference engine's speech predictor accepts); the
#: first one's shipped system (the multi-corpus model) is the default speech model.
SPEECH_KINDS = ("speech-probe", "speech")


@runtime_checkable
class System(Protocol):
    """What every trained system offers (scikit-learn style: ``fit`` returns ``self``, fitted state ends in ``_``)."""

    @property
    def classes(self) -> tuple[str, ...]: ...

    def fit(self, inputs: Any, y: Any, split: Any, checkpoint_dir: str | os.PathLike | None = None) -> "System":
        """Fit on the rows ``split = (train_index, val_index)`` of ``inputs`` (the system's own input container,
        indexed by recording) with class indices ``y``; returns ``self``."""
        ...

    def predict_proba(self, inputs: Any) -> np.ndarray:
        """Class probabilities ``(n, len(classes))`` of every row of ``inputs``."""
        ...

    def save(self, directory: str | os.PathLike) -> Path: ...

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "System": ...

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: name, kind, classes, description, training and evaluation figures, versions."""
        ...


def system_kind(directory: str | os.PathLike) -> str | None:
    """The kind of the saved system in ``directory`` (by its description file), or ``None``."""
    for kind, (_, _, description, _) in SYSTEM_KINDS.items():
        if (Path(directory) / description).is_file():
            return kind
    return None


def shipped_systems(kind: str | None = None) -> list[str]:
    """Names of the shipped systems (of one kind, or all)."""
    return sorted(p.name for p in PRETRAINED_DIR.glob("*") if p.is_dir() and system_kind(p)
                  and (kind is None or system_kind(p) == kind))


def resolve_system_dir(name_or_path: str | os.PathLike | None, kind: str | Sequence[str] | None = None) -> Path:
    """The folder of a saved system: a path, or a shipped system's name; ``None`` = the shipped default of ``kind``
    (of its first kind, when several are accepted).

    Raises:
        ParameterError: for an unknown ``kind``.
        AssetNotFoundError: when no saved system (of that kind) is there.
    """
    kinds = (kind,) if isinstance(kind, str) else tuple(kind or ())
    unknown = [k for k in kinds if k not in SYSTEM_KINDS]
    if unknown:
        raise ParameterError(f"unknown system kind {unknown[0]!r}; choose one of {sorted(SYSTEM_KINDS)}")
    if name_or_path is None:
        if not kinds:
            raise ParameterError("give a system folder or name, or a kind to load its shipped default")
        name_or_path = SYSTEM_KINDS[kinds[0]][3]
        if not name_or_path:
            raise AssetNotFoundError(f"no {kinds[0]} system is shipped; give a folder of a saved one")
    candidate = Path(name_or_path)
    for path in (candidate, PRETRAINED_DIR / candidate):
        found = system_kind(path)
        if found is not None and (not kinds or found in kinds):
            return path
    what = f"{' or '.join(kinds)} model" if kinds else "model"
    shipped = sorted({name for k in kinds for name in shipped_systems(k)}) if kinds else shipped_systems()
    raise AssetNotFoundError(f"{what} {str(candidate)!r} not found; give a folder written by `avemo train` or a "
                             f"shipped one: {shipped}")


def system_class(kind: str) -> type:
    """The class that implements systems of ``kind``.

    Raises:
        ParameterError: for an unknown kind.
    """
    if kind not in SYSTEM_KINDS:
        raise ParameterError(f"unknown system kind {kind!r}; choose one of {sorted(SYSTEM_KINDS)}")
    module, name, _, _ = SYSTEM_KINDS[kind]
    return getattr(importlib.import_module(module), name)


def load_system(name_or_path: str | os.PathLike | None = None, kind: str | Sequence[str] | None = None,
                **options: Any) -> System:
    """Load a saved system of any kind (``options`` go to its ``load``, e.g. ``engine="torch"`` for faces).

    Raises:
        AssetNotFoundError: when there is no such system.
        CheckpointError: when its files are missing or corrupt.
    """
    path = resolve_system_dir(name_or_path, kind)
    return system_class(system_kind(path)).load(path, **options)
