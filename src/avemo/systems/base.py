"""One interface for every trained system (speech, face, audio-visual) and one way to save and load one.

A *system* is a fitted model plus everything needed to apply it (preprocessing, label set, calibration), saved
as a folder holding one JSON description, ``system.json``, whose ``"kind"`` names the class that loads it, beside
safetensors weights:

==================  ====================================================
kind                class
==================  ====================================================
``speech``          :class:`avemo.systems.speech.SpeechSystem`
``speech-probe``    :class:`avemo.systems.speech_probe.SpeechProbeSystem`
``face``            :class:`avemo.systems.face.FaceSystem`
``av-late-fusion``  :class:`avemo.systems.av_fusion.AVLateFusionSystem`
``av-fusion``       :class:`avemo.systems.av_neural.AVFusionSystem`
==================  ====================================================

:func:`load_system` loads any of them by folder or by shipped name (folders under ``avemo/pretrained``);
:func:`write_description` and :func:`read_description` are how every kind writes and reads ``system.json``.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

from avemo.errors import AssetNotFoundError, CheckpointError, ParameterError

#: Where the shipped systems live (inside the installed package).
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
#: The description file of every saved system.
SYSTEM_FILE = "system.json"


class SystemKind(NamedTuple):
    """Where the class of a kind lives, and its default shipped system (``""``: none is shipped)."""

    module: str
    class_name: str
    shipped: str


#: kind -> its class and default shipped system.
SYSTEM_KINDS: dict[str, SystemKind] = {
    "speech": SystemKind("avemo.systems.speech", "SpeechSystem", "speech-ravdess"),
    "face": SystemKind("avemo.systems.face", "FaceSystem", "face-fer2013"),
    "av-late-fusion": SystemKind("avemo.systems.av_fusion", "AVLateFusionSystem", "av-ravdess-openface"),
    "av-fusion": SystemKind("avemo.systems.av_neural", "AVFusionSystem", ""),
    "speech-probe": SystemKind("avemo.systems.speech_probe", "SpeechProbeSystem", "speech-multicorpus"),
}
#: The kinds that predict emotion from speech alone (what the inference engine's speech predictor accepts); the
#: first one's shipped system (the multi-corpus model) is the default speech model.
SPEECH_KINDS = ("speech-probe", "speech")
#: Folders saved by avemo 0.1 (the layout before one ``system.json`` per folder): each kind's own description
#: file, the kind told by the file's name; speech's was ``system.json`` without a ``"kind"``.
LEGACY_FILES = {"speech_probe.json": "speech-probe", "face_system.json": "face", "av_system.json": "av-late-fusion",
                "av_fusion_system.json": "av-fusion"}


def description_file(directory: str | os.PathLike) -> Path | None:
    """The description file of the system saved in ``directory`` (``system.json``, or an avemo 0.1 one of
    :data:`LEGACY_FILES`), or ``None`` when there is none."""
    for name in (SYSTEM_FILE, *LEGACY_FILES):
        if (Path(directory) / name).is_file():
            return Path(directory) / name
    return None


def read_description(directory: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """The description of the system saved in ``directory``, its ``"kind"`` always set.

    Raises:
        CheckpointError: when there is no description, it is unreadable, names an unknown kind, or (given
            ``kind``) describes a system of another kind.
    """
    path = description_file(directory)
    if path is None:
        what = f"{kind} system" if kind else "system"
        raise CheckpointError(f"{directory}: not a saved avemo {what} (no {SYSTEM_FILE}); train one with `avemo train`")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable system description ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"{path}: unreadable system description (not a JSON object)")
    found = doc.get("kind", LEGACY_FILES.get(path.name, "speech"))
    if found not in SYSTEM_KINDS:
        raise CheckpointError(f"{path}: unknown system kind {found!r} (saved by a newer avemo?); known kinds: "
                              f"{sorted(SYSTEM_KINDS)}")
    if kind is not None and found != kind:
        raise CheckpointError(f"{path}: holds a {found!r} system, not the {kind!r} kind asked for; load it with "
                              "load_system()")
    return {**doc, "kind": found}


def write_description(directory: str | os.PathLike, doc: Mapping[str, Any]) -> Path:
    """Write ``doc`` (with its ``"kind"``; numpy values, tuples and paths made JSON) as the ``system.json`` of
    ``directory``; returns the file.

    Raises:
        ParameterError: when ``doc`` names no known kind.
    """
    from avemo.train.checkpoint import to_jsonable

    if doc.get("kind") not in SYSTEM_KINDS:
        raise ParameterError(f"a system description needs a kind among {sorted(SYSTEM_KINDS)}, got {doc.get('kind')!r}")
    path = Path(directory) / SYSTEM_FILE
    path.write_text(json.dumps(to_jsonable(dict(doc)), indent=1))
    return path


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
    """The kind of the system saved in ``directory`` (its description's ``"kind"``), or ``None`` when there is
    none.

    Raises:
        CheckpointError: when its description is unreadable or names an unknown kind.
    """
    return read_description(directory)["kind"] if description_file(directory) is not None else None


def shipped_systems(kind: str | None = None) -> list[str]:
    """Names of the shipped systems (of one kind, or all)."""
    kinds = {p.name: system_kind(p) for p in PRETRAINED_DIR.glob("*") if p.is_dir()}
    return sorted(name for name, found in kinds.items() if found and (kind is None or found == kind))


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
        name_or_path = SYSTEM_KINDS[kinds[0]].shipped
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
    return getattr(importlib.import_module(SYSTEM_KINDS[kind].module), SYSTEM_KINDS[kind].class_name)


def load_system(name_or_path: str | os.PathLike | None = None, kind: str | Sequence[str] | None = None,
                **options: Any) -> System:
    """Load a saved system of any kind (``options`` go to its ``load``, e.g. ``engine="torch"`` for faces).

    Raises:
        AssetNotFoundError: when there is no such system.
        CheckpointError: when its files are missing or corrupt.
    """
    path = resolve_system_dir(name_or_path, kind)
    return system_class(system_kind(path)).load(path, **options)
