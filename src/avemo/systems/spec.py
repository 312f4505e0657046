"""Experiment configurations: a :class:`SystemSpec` is read from YAML under ``configs/`` and overridable from the
command line with ``key=value`` pairs (dotted keys reach into nested settings, e.g. ``train.epochs=5``).

A *neural* system feeds frame features (``frames``, optionally average-pooled by ``frame_pool``) to a registered
model, with vector features (``aux``) joined at its head, or vector features (``vectors``) to a vector model; a
*linear* system fits a logistic regression on the concatenated vector features (``vectors``). Vector features
name an extractor: a functionals extractor as is
(``egemaps``), a frames extractor with a pooling suffix (``whisper:meanstd`` = per-dimension mean and std).
A *combination* averages the probabilities of its ``parts`` (names of other systems).
``feature_settings`` maps an extractor name to its settings (e.g. ``{whisper_layers: {trim_db: 35}}``).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Any

import yaml

from avemo.errors import ParameterError

KINDS = ("neural", "linear", "combination")


@dataclasses.dataclass
class SystemSpec:
    """One system: features, model and training settings."""

    name: str
    kind: str = "neural"
    frames: str | None = None
    frame_pool: int = 1
    aux: list[str] = dataclasses.field(default_factory=list)
    vectors: list[str] = dataclasses.field(default_factory=list)
    model: str | None = None
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    train: dict[str, Any] = dataclasses.field(default_factory=dict)
    linear: dict[str, Any] = dataclasses.field(default_factory=lambda: {"C": 0.1})
    ensemble: int = 1
    feature_settings: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    parts: list[Any] = dataclasses.field(default_factory=list)
    label_set: str = "ravdess8"
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ParameterError(f"system {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        for key in ("frame_pool", "ensemble"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"system {self.name!r}: {key} must be an integer >= 1, got {value!r}")
        for key in ("aux", "vectors"):
            value = getattr(self, key)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ParameterError(f"system {self.name!r}: {key} must be a list of feature names, "
                                     f"e.g. [egemaps, 'logmel:meanstd'], got {value!r}")
        for key in ("model_config", "train", "linear", "feature_settings"):
            if not isinstance(getattr(self, key), dict):
                raise ParameterError(f"system {self.name!r}: {key} must be a mapping of settings, "
                                     f"got {getattr(self, key)!r}")
        if self.kind == "neural" and (not self.model or bool(self.frames) == bool(self.vectors)):
            raise ParameterError(f"system {self.name!r}: a neural system needs a `model` and either `frames` "
                                 "(frame models) or `vectors` (vector models such as mlp), not both")
        if self.kind == "linear" and not self.vectors:
            raise ParameterError(f"system {self.name!r}: a linear system needs `vectors`")
        if self.kind == "combination":
            if len(self.parts) < 2:
                raise ParameterError(f"system {self.name!r}: a combination needs `parts`: two or more system names")
            self.parts = [load_spec(p).to_dict() if isinstance(p, str) else SystemSpec.from_dict(p).to_dict()
                          for p in self.parts]

    def part_specs(self) -> list["SystemSpec"]:
        """The systems a combination averages (empty for other kinds)."""
        return [SystemSpec.from_dict(p) for p in self.parts]

    def extractors(self) -> list[str]:
        """Names of every extractor this system reads, in a stable order."""
        names = ([self.frames] if self.frames else []) + [v.split(":")[0] for v in self.aux + self.vectors]
        names += [n for part in self.part_specs() for n in part.extractors()]
        return list(dict.fromkeys(names))

    def feature_key(self, name: str) -> str:
        """Key of an extractor's output in a features dict: its name, plus its settings when it has any."""
        settings = self.feature_settings.get(name) or {}
        if not settings:
            return name
        return name + "[" + ",".join(f"{k}={settings[k]}" for k in sorted(settings)) + "]"

    def feature_extractors(self) -> dict[str, Any]:
        """``{feature key: extractor}`` for every extractor this system reads, built with its settings."""
        from avemo.features.base import create_extractor

        if self.kind == "combination":
            return {k: e for part in self.part_specs() for k, e in part.feature_extractors().items()}
        return {self.feature_key(n): create_extractor(n, **(self.feature_settings.get(n) or {}))
                for n in self.extractors()}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SystemSpec":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ParameterError(f"system config has unknown key(s) {unknown}; known keys are {sorted(fields)}")
        if "name" not in data:
            raise ParameterError("system config needs a `name`")
        return cls(**copy.deepcopy(data))


def configs_dir() -> Path:
    """The system and benchmark configs: ``$AVEMO_CONFIGS`` if set, else ``avemo/configs`` inside the package."""
    if os.environ.get("AVEMO_CONFIGS"):
        return Path(os.environ["AVEMO_CONFIGS"])
    return Path(__file__).resolve().parents[1] / "configs"


def load_spec(name_or_path: str | os.PathLike, overrides: list[str] | None = None) -> SystemSpec:
    """Read a system spec from a YAML path, or by name from ``configs/speech/<name>.yaml``, then apply overrides.

    Raises:
        ParameterError: for a missing file, invalid YAML or an invalid override.
    """
    return SystemSpec.from_dict(read_config(name_or_path, "speech", overrides))


def read_config(name_or_path: str | os.PathLike, group: str, overrides: list[str] | None = None) -> dict[str, Any]:
    """The settings of a YAML path, or of ``configs/<group>/<name>.yaml`` by name, with overrides applied.

    Raises:
        ParameterError: for a missing file, invalid YAML or an invalid override.
    """
    path = config_path(name_or_path, group)
    if not path.is_file():
        available = sorted(p.stem for p in (configs_dir() / group).glob("*.yaml"))
        raise ParameterError(f"{group} system config {str(name_or_path)!r} not found; give a YAML path or one of "
                             f"{available}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected a mapping of settings")
    return apply_overrides(data, overrides or [])


def config_path(name_or_path: str | os.PathLike, group: str) -> Path:
    """The file a config name or path stands for: a path as given, a name (no suffix) as
    ``configs/<group>/<name>.yaml``."""
    path = Path(name_or_path)
    return path if path.suffix else configs_dir() / group / f"{name_or_path}.yaml"


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` overrides (value parsed as YAML; dotted keys for nested dicts) to a copy of ``data``.

    Raises:
        ParameterError: for an override without ``=``.
    """
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ParameterError(f"override {item!r} must look like key=value, e.g. train.epochs=5")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw)
        node = data
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ParameterError(f"override {item!r}: {p!r} is not a group of settings")
        node[leaf] = value
    return data


def load_suite(name: str) -> dict[str, Any]:
    """Read a benchmark suite, ``configs/benchmarks/<name>.yaml``.

    Raises:
        ParameterError: for an unknown suite.
    """
    path = configs_dir() / "benchmarks" / f"{name}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in (configs_dir() / "benchmarks").glob("*.yaml"))
        raise ParameterError(f"unknown benchmark {name!r}; choose one of {available}")
    return yaml.safe_load(path.read_text())
