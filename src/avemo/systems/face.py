"""A trained face-expression system: one image model over aligned gray face crops, its augmentation and
test-time augmentation, and the label set; built from a :class:`FaceSystemSpec` (``configs/face/*.yaml``).

Saved as a folder: ``system.json`` (kind, spec, classes, versions, training history, anything in ``info``) and
``model/`` (``model.safetensors`` + ``model.json``). Nothing is pickled.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from avemo.errors import CheckpointError, ParameterError
from avemo.labels import label_set, to_common_label_set
from avemo.models.registry import create_model, model_class
from avemo.systems.base import PRETRAINED_DIR, read_description, shipped_systems, system_kind, write_description
from avemo.systems.spec import configs_dir, read_config
from avemo.train.augment import ImageAugment, ImageAugmentConfig
from avemo.train.checkpoint import library_versions, load_checkpoint, save_checkpoint
from avemo.train.distill import DistillConfig
from avemo.train.losses import group_slices
from avemo.train.predict import predict_proba
from avemo.train.trainer import TrainConfig, TrainHistory, Trainer

#: What a face system can be trained on (FaceSystemSpec.targets).
TARGETS = ("majority", "votes")
#: The label set avemo's front ends (engine, fusion, live view, web demo, REST) give faces in: FER2013's seven.
SERVED_LABEL_SET = "fer7"
#: ``init_from: pretrained:<name>`` starts from a shipped system.
PRETRAINED_PREFIX = "pretrained:"
log = logging.getLogger(__name__)


@dataclasses.dataclass
class FaceSystemSpec:
    """One face system: ``side`` is the aligned crop size in pixels (48 = FER2013), ``augment`` the
    :class:`~avemo.train.augment.ImageAugmentConfig` settings, ``train`` the :class:`TrainConfig` settings.
    ``init_from`` names another face system (same network) whose trained weights start this one's training: a
    warm restart that continues a finished schedule with a new one; ``pretrained:<name>`` names a shipped system
    (``avemo/pretrained/<name>``), e.g. ``pretrained:face-fer2013``. When its label set differs, the classifier's
    rows are matched by class name (a class it lacks starts from its :data:`~avemo.labels.LABEL_FALLBACKS` class:
    contempt from disgust). ``targets``: what training fits: ``"majority"`` (one label per image) or
    ``"votes"`` (the distribution of the annotators' votes, FER+; :meth:`FaceSystem.fit` then needs ``targets``).
    ``distill``: ``{teachers: [names], temperature, teacher_weight}`` trains on the soft targets of those face
    systems' ensemble mixed with the labels (:mod:`avemo.train.distill`; the FER+ benchmark trains the teachers
    first); empty: no teachers. ``extra_heads``: ``{head name: label set}``, more classifier heads on the same
    network, each with its own softmax beside the main ``label_set`` head (e.g. ``{fer2013: fer7}``: FER2013's
    original labels next to FER+'s votes); :meth:`FaceSystem.fit` then needs each head's labels and
    :meth:`FaceSystem.predict_proba` gives a head's probabilities when asked by name."""

    name: str
    model: str = "face_cnn"
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    train: dict[str, Any] = dataclasses.field(default_factory=dict)
    augment: dict[str, Any] = dataclasses.field(default_factory=dict)
    side: int = 48
    label_set: str = "fer7"
    description: str = ""
    init_from: str = ""
    targets: str = "majority"
    distill: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra_heads: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if model_class(self.model).input_kind != "image":
            raise ParameterError(f"face system {self.name!r}: model {self.model!r} is not an image model; "
                                 "use face_cnn, face_resnet or face_mobilenet_v2")
        if not isinstance(self.side, int) or self.side < 16:
            raise ParameterError(f"face system {self.name!r}: side must be an integer >= 16, got {self.side!r}")
        for key in ("model_config", "train", "augment"):
            if not isinstance(getattr(self, key), dict):
                raise ParameterError(f"face system {self.name!r}: {key} must be a mapping of settings")
        if self.init_from == self.name:
            raise ParameterError(f"face system {self.name!r}: init_from must name another system")
        if self.targets not in TARGETS:
            raise ParameterError(f"face system {self.name!r}: targets must be one of {list(TARGETS)}, got "
                                 f"{self.targets!r}")
        label_set(self.label_set)  # validates
        if not isinstance(self.extra_heads, dict) or not all(isinstance(k, str) and k for k in self.extra_heads):
            raise ParameterError(f"face system {self.name!r}: extra_heads must map head names to label sets, e.g. "
                                 "{fer2013: fer7}")
        for head, labels in self.extra_heads.items():
            try:
                label_set(labels)
            except ParameterError as exc:
                raise ParameterError(f"face system {self.name!r}: extra head {head!r}: {exc}") from None
        self.augment_config()  # validates
        self.distill_config()  # validates
        TrainConfig(**self.train)

    def head_classes(self) -> dict[str | None, tuple[str, ...]]:
        """The classes of every head, in output order: ``None`` (the main head, ``label_set``), then each extra
        head by name."""
        return {None: label_set(self.label_set), **{k: label_set(v) for k, v in self.extra_heads.items()}}

    def augment_config(self) -> ImageAugmentConfig:
        try:
            return ImageAugmentConfig(**self.augment)
        except TypeError:
            known = [f.name for f in dataclasses.fields(ImageAugmentConfig)]
            raise ParameterError(f"face system {self.name!r}: unknown augment setting(s) "
                                 f"{sorted(set(self.augment) - set(known))}; known: {known}") from None

    def distill_config(self) -> DistillConfig | None:
        """The distillation settings, or ``None`` without teachers.

        Raises:
            ParameterError: for teachers that are not a list of other systems' names, or bad settings.
        """
        if not isinstance(self.distill, dict):
            raise ParameterError(f"face system {self.name!r}: distill must be a mapping {{teachers: [...], "
                                 "temperature, teacher_weight}")
        if not self.distill:
            return None
        teachers = self.distill.get("teachers")
        if not isinstance(teachers, list) or not teachers or not all(isinstance(t, str) for t in teachers):
            raise ParameterError(f"face system {self.name!r}: distill.teachers must list the names of the face "
                                 "systems to learn from")
        if self.name in teachers:
            raise ParameterError(f"face system {self.name!r}: distill.teachers must name other systems")
        unknown = sorted(set(self.distill) - {"teachers", "temperature", "teacher_weight"})
        if unknown:
            raise ParameterError(f"face system {self.name!r}: unknown distill setting(s) {unknown}; known: "
                                 "teachers, temperature, teacher_weight")
        return DistillConfig(**{k: v for k, v in self.distill.items() if k != "teachers"})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def training_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without what does not change the trained weights (the test-time augmentation
        ``augment.tta`` and the ``description``): two specs with the same training dict train the same weights."""
        data = self.to_dict()
        data["augment"].pop("tta", None)
        data.pop("description")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FaceSystemSpec":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields - {"kind"})
        if unknown:
            raise ParameterError(f"face system config has unknown key(s) {unknown}; known keys are {sorted(fields)}")
        if "name" not in data:
            raise ParameterError("face system config needs a `name`")
        return cls(**{k: copy.deepcopy(v) for k, v in data.items() if k in fields})


def face_config_names() -> list[str]:
    return sorted(p.stem for p in (configs_dir() / "face").glob("*.yaml"))


def load_face_spec(name_or_path: str | os.PathLike, overrides: list[str] | None = None) -> FaceSystemSpec:
    """Read a face system spec from a YAML path, or by name from ``configs/face/<name>.yaml``.

    Raises:
        ParameterError: for a missing file, invalid YAML or an invalid override.
    """
    return FaceSystemSpec.from_dict(read_config(name_or_path, "face", overrides))


ENGINES = ("onnx", "torch")


class FaceSystem:
    """Fit, apply, save and load one face system. Images are gray crops ``(n, side, side)`` uint8.

    ``engine``: what runs the trained network in :meth:`predict_proba`: ``"onnx"`` (default) ONNX Runtime,
    1.5-2x faster on a CPU, falling back to torch with a warning where it is not installed or the network
    does not export; ``"torch"`` torch itself. Both give the same probabilities within float32 rounding.
    """

    def __init__(self, spec: FaceSystemSpec, engine: str = "onnx") -> None:
        if engine not in ENGINES:
            raise ParameterError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
        self.spec = spec
        self.engine = engine
        self.classes = label_set(spec.label_set)
        self.heads = spec.head_classes()
        self.augment = ImageAugment(spec.augment_config())
        self.info: dict[str, Any] = {}
        self.model_: torch.nn.Module | None = None
        self.history_: TrainHistory | None = None
        self._onnx: tuple[torch.nn.Module, Any] | None = None  # (model_, its OnnxForward or None), built once
        self._onnx_lock = threading.Lock()

    def _examples(self, images: np.ndarray) -> list[np.ndarray]:
        images = np.asarray(images)
        if images.ndim != 3 or images.shape[1:] != (self.spec.side, self.spec.side):
            raise ParameterError(f"face system {self.spec.name!r} takes gray crops (n, {self.spec.side}, "
                                 f"{self.spec.side}), got shape {images.shape}")
        return list(images[:, None])

    def fit(self, images: np.ndarray, labels: np.ndarray, split: tuple[Sequence[int], Sequence[int]] | None = None,
            checkpoint_dir: str | os.PathLike | None = None, callback=None,
            init_state: dict[str, torch.Tensor] | None = None, targets: np.ndarray | None = None,
            head_labels: dict[str, np.ndarray] | None = None) -> "FaceSystem":
        """Train the model on the rows ``split[0]`` of ``images`` / ``labels``, with early stopping (or weight
        averaging) selected on the rows ``split[1]``; ``split=None`` trains on every row without validation.
        Returns ``self``.

        ``init_state``: weights to start from (the ``state_dict`` of a trained system with the same network, see
        :func:`init_from_state`). ``targets``: ``(len(labels), len(classes))`` distributions to train on instead
        of the labels (FER+ vote fractions for a ``targets: votes`` spec, which needs them; a teacher's soft
        targets when distilling); ``labels`` still weight the classes and score validation. ``head_labels``:
        for each extra head, one label per image (an index into its classes); it trains on them one-hot.
        ``targets`` of :attr:`n_outputs` columns give every head's distributions (a two-headed distilled
        student's) and need no ``head_labels``.

        Raises:
            ParameterError: when ``init_state`` does not fit this system's network, a ``targets: votes`` spec
                gets no ``targets``, or an extra head gets no labels or labels out of its range.
        """
        images, labels = np.asarray(images), np.asarray(labels)
        if targets is None and self.spec.targets == "votes":
            raise ParameterError(f"face system {self.spec.name!r} trains on vote distributions (targets: votes) but "
                                 "got none; train it on the ferplus corpus")
        if targets is not None and np.shape(targets)[0] != len(labels):
            raise ParameterError(f"targets have {np.shape(targets)[0]} rows for {len(labels)} images")
        train, val = (np.arange(len(labels)), None) if split is None else \
            (np.asarray(list(split[0]), np.int64), np.asarray(list(split[1]), np.int64))
        targets = self.joint_targets(labels, targets, head_labels)
        model = create_model(self.spec.model, 1, self.n_outputs, config=self.spec.model_config)
        if init_state is not None:
            mismatch = _state_mismatch(model.state_dict(), init_state)
            if mismatch:
                raise ParameterError(f"face system {self.spec.name!r}: the weights of "
                                     f"{self.spec.init_from or 'init_state'!r} do not fit its network ({mismatch}); "
                                     "init_from must use the same model and model_config")
            model.load_state_dict(init_state)
        config = TrainConfig(**self.spec.train)
        if len(self.heads) > 1:
            config = dataclasses.replace(config, output_groups=self.output_groups)
        trainer = Trainer(config, checkpoint_dir, callback, self.augment)
        has_val = val is not None and len(val) > 0
        self.history_ = trainer.fit(model, self._examples(images[train]), labels[train],
                                    self._examples(images[val]) if has_val else None,
                                    labels[val] if has_val else None,
                                    train_targets=None if targets is None else np.asarray(targets)[train])
        self.model_ = model.eval()
        return self

    @property
    def served_classes(self) -> tuple[str, ...]:
        """The classes avemo's front ends give faces in (:data:`SERVED_LABEL_SET`, FER2013's seven)."""
        return label_set(SERVED_LABEL_SET)

    def served_proba(self, images: np.ndarray, tta: bool | str | None = None) -> np.ndarray:
        """:meth:`predict_proba` of the main head on :attr:`served_classes` ``(n, 7)``: a network with other classes
        (FER+'s eight) has them re-expressed there, contempt folded into disgust."""
        probs = self.predict_proba(images, tta=tta)
        return probs if self.classes == self.served_classes else \
            to_common_label_set(probs, self.classes, self.served_classes).astype(np.float32)

    @property
    def output_groups(self) -> tuple[int, ...]:
        """The width of each head's block of the network's outputs, in :attr:`heads` order; empty with one head
        (one softmax over all outputs)."""
        return tuple(len(c) for c in self.heads.values()) if len(self.heads) > 1 else ()

    @property
    def head_slices(self) -> dict[str | None, slice]:
        """Each head's columns of the network's outputs, in :attr:`heads` order."""
        return dict(zip(self.heads, group_slices([len(c) for c in self.heads.values()])))

    @property
    def n_outputs(self) -> int:
        """The network's output width: the classes of every head, side by side."""
        return sum(len(c) for c in self.heads.values())

    def joint_targets(self, labels: np.ndarray, targets: np.ndarray | None,
                       head_labels: dict[str, np.ndarray] | None) -> np.ndarray | None:
        """``targets`` (or the one-hot ``labels``) with each extra head's one-hot labels beside them, ``(n,
        n_outputs)``; ``targets`` itself without extra heads, or when it has ``n_outputs`` columns already (every
        head's targets side by side).

        Raises:
            ParameterError: for a missing head's labels, a wrong count or a label out of the head's range.
        """
        extra = {k: v for k, v in self.heads.items() if k is not None}
        if not extra or (targets is not None and np.shape(targets)[1:] == (self.n_outputs,)):
            return targets  # one head, or targets for every head already (a distilled student's)
        head_labels = head_labels or {}
        missing = sorted(set(extra) - set(head_labels))
        if missing:
            raise ParameterError(f"face system {self.spec.name!r} has extra head(s) {missing} but got no labels for "
                                 "them; train it on a corpus that has them (FER+ through ferplus_map.csv or "
                                 "fer2013.csv gives FER2013's original labels)")
        parts = [np.asarray(targets, np.float32) if targets is not None else
                 np.eye(len(self.classes), dtype=np.float32)[labels]]
        for head, classes in extra.items():
            y = np.asarray(head_labels[head])
            if y.shape != (len(labels),) or not np.issubdtype(y.dtype, np.integer) or \
                    (len(y) and (y.min() < 0 or y.max() >= len(classes))):
                raise ParameterError(f"face system {self.spec.name!r}: head {head!r} needs one label in "
                                     f"[0, {len(classes)}) per image ({len(labels)}), got shape {y.shape}"
                                     + (f", {y.min()}..{y.max()}" if y.size else ""))
            parts.append(np.eye(len(classes), dtype=np.float32)[y])
        return np.concatenate(parts, axis=1)

    def fit_report(self) -> dict[str, Any]:
        """What the last :meth:`fit` recorded: its training history (``histories``, one entry)."""
        return {"histories": [] if self.history_ is None else [self.history_.to_dict()]}

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: name, kind, classes, description, spec, training (and test) figures
        (``info``), the selected epoch, library versions."""
        from avemo.train.checkpoint import to_jsonable

        h = self.history_
        return to_jsonable({"name": self.spec.name, "kind": "face", "classes": list(self.classes),
                            "description": self.spec.description, "spec": self.spec.to_dict(),
                            "training": {**self.info, "epochs": None if h is None else len(h.epoch),
                                         "best_epoch": None if h is None else h.best_epoch},
                            "test": self.info.get("test"), "versions": library_versions()})

    def predict_proba(self, images: np.ndarray, tta: bool | str | None = None, batch_size: int = 128,
                      head: str | None = None) -> np.ndarray:
        """Class probabilities ``(n, len(classes))``. ``tta``: ``None`` or ``True`` = the spec's test-time
        augmentation (``augment.tta``), ``False`` = the centre crop only, or a mode name (``"none"``,
        ``"flip"``, ``"shifts"``), e.g. ``"flip"`` for video frames where speed matters. ``head``: an extra
        head's name for its probabilities ``(n, len(heads[head]))`` instead.

        Raises:
            ParameterError: when not trained, or for a head the system does not have.
        """
        if head not in self.heads:
            raise ParameterError(f"face system {self.spec.name!r} has no head {head!r}; its extra heads: "
                                 f"{[k for k in self.heads if k is not None]}")
        return self.predict_heads(images, tta, batch_size)[head]

    def predict_heads(self, images: np.ndarray, tta: bool | str | None = None,
                      batch_size: int = 128) -> dict[str | None, np.ndarray]:
        """Every head's probabilities from one pass of the network: :attr:`heads` name (``None`` = the main head)
        -> ``(n, len(heads[name]))``; ``tta`` as in :meth:`predict_proba`.

        Raises:
            ParameterError: when not trained.
        """
        if self.model_ is None:
            raise ParameterError(f"face system {self.spec.name!r} is not trained; call fit() or load()")
        if len(images) == 0:
            return {k: np.zeros((0, len(c)), np.float32) for k, c in self.heads.items()}
        augment = self.augment
        if isinstance(tta, str):
            augment = ImageAugment(dataclasses.replace(self.augment.config, tta=tta))
        use_tta = augment.config.tta != "none" and tta is not False
        with torch.inference_mode():
            probs = predict_proba(self.model_, self._examples(images), batch_size=batch_size, augment=augment,
                                  tta=use_tta, forward=self._onnx_forward(),
                                  groups=self.output_groups)
        return {name: np.ascontiguousarray(probs[:, part]) for name, part in self.head_slices.items()}

    @property
    def runtime(self) -> str:
        """What runs the network: ``"onnx"``, or ``"torch"`` (asked for, or ONNX Runtime unavailable)."""
        return "onnx" if self._onnx_forward() is not None else "torch"

    def prepare(self) -> "FaceSystem":
        """Build what prediction needs now (the ONNX Runtime session of the trained network), so the first call
        is not slow and concurrent callers never build it twice; returns ``self``."""
        self._onnx_forward()
        return self

    def _onnx_forward(self):
        """The ONNX Runtime run of ``model_`` (exported once per model object, under a lock), or ``None`` to use
        torch: when ``engine`` is ``"torch"``, or the network could not be exported (a warning says why, once)."""
        if self.engine == "torch" or self.model_ is None:
            return None
        with self._onnx_lock:
            if self._onnx is None or self._onnx[0] is not self.model_:
                from avemo.models.onnx_runtime import OnnxForward

                try:
                    forward = OnnxForward(self.model_, self.augment.config.crop or self.spec.side)
                except ParameterError as exc:
                    log.warning("face system %r runs on torch: %s", self.spec.name, exc)
                    forward = None
                self._onnx = (self.model_, forward)
            return self._onnx[1]

    def use_tta(self, tta: str) -> None:
        """Make ``tta`` (a mode of :data:`~avemo.train.augment.TTA_MODES`) this system's test-time augmentation;
        the weights stay, the temperature fitted for the old mode is dropped (call :meth:`calibrate` again).

        Raises:
            ParameterError: for an unknown mode.
        """
        config = dataclasses.replace(self.augment.config, tta=tta)  # validates
        self.spec.augment["tta"] = tta
        self.augment = ImageAugment(config)
        self.info.pop("temperature", None)

    def calibrate(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Fit the temperature that calibrates :meth:`predict_proba` on validation images (stored in
        ``info["temperature"]``, used when this model's probabilities are fused with another modality's)."""
        from avemo.train.calibration import TemperatureScaler

        log_p = np.log(np.clip(self.predict_proba(images), 1e-8, 1.0))
        scaler = TemperatureScaler().fit(log_p, np.asarray(labels))
        self.info["temperature"] = round(scaler.temperature_, 4)
        return scaler.temperature_

    def export_onnx(self, path: str | os.PathLike) -> Path:
        """Write the trained network as ONNX to ``path`` (``.onnx``) with a JSON description beside it
        (``<path>.json``: classes, input layout, preprocessing, temperature), for use outside avemo.

        The network takes ``images`` ``(batch, 1, crop, crop)`` float32 gray in [0, 1] (the centre crop of an
        aligned face crop) and returns ``logits`` ``(batch, classes)``; test-time augmentation is left to the
        caller (the JSON names the mode).

        Raises:
            ParameterError: when the system is not trained or ``path`` does not end in ``.onnx``.
        """
        from avemo.models.onnx_runtime import export_onnx

        if self.model_ is None:
            raise ParameterError("nothing to export: the face system is not trained")
        out = Path(path)
        if out.suffix.lower() != ".onnx":
            raise ParameterError(f"{out}: give an output path ending in .onnx")
        out.parent.mkdir(parents=True, exist_ok=True)
        crop = self.augment.config.crop or self.spec.side
        export_onnx(self.model_, out, crop)
        doc = {"format_version": 1, "system": self.spec.name, "classes": list(self.classes),
               "input": {"name": "images", "shape": ["batch", 1, crop, crop], "dtype": "float32",
                         "range": [0.0, 1.0], "color": "gray"},
               "output": {"name": "logits", "shape": ["batch", self.n_outputs]},
               "heads": [{"name": k or "main", "classes": list(c), "softmax_over": "its own columns"}
                         for k, c in self.heads.items()],
               "preprocessing": f"align the face to a {self.spec.side}x{self.spec.side} gray crop (FER2013 framing), "
                                f"take the centre {crop}x{crop}, divide by 255",
               "test_time_augmentation": self.augment.config.tta,
               "temperature": self.info.get("temperature"), "versions": library_versions()}
        out.with_suffix(".json").write_text(json.dumps(doc, indent=1))
        return out

    def save(self, directory: str | os.PathLike) -> Path:
        if self.model_ is None:
            raise ParameterError("nothing to save: the face system is not trained")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path / "model", self.model_, {"classes": list(self.classes)})
        doc = {"format_version": 1, "kind": "face", "spec": self.spec.to_dict(), "classes": list(self.classes),
               "versions": library_versions(), "history": None if self.history_ is None else self.history_.to_dict(),
               "info": self.info}
        write_description(path, doc)
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike, engine: str = "onnx") -> "FaceSystem":
        """Rebuild a saved face system (``engine``: see :class:`FaceSystem`).

        Raises:
            CheckpointError: when the folder or one of its files is missing or inconsistent.
        """
        path = Path(directory)
        doc = read_description(path, "face")
        try:
            system = cls(FaceSystemSpec.from_dict(doc["spec"]), engine)
        except (KeyError, TypeError, ParameterError) as exc:
            raise CheckpointError(f"{path}: unreadable face system description ({exc})") from None
        system.info = doc.get("info", {})
        if doc.get("history"):
            system.history_ = TrainHistory.from_dict(doc["history"])
        system.model_, _ = load_checkpoint(path / "model")
        return system


def is_face_system(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds a saved face system (or a description too broken to tell: loading it says
    what is wrong)."""
    try:
        return system_kind(directory) == "face"
    except CheckpointError:
        return True


def _state_mismatch(expected: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> str:
    """The first difference between two ``state_dict``s (missing or unexpected key, other shape), or ``""``."""
    missing, unexpected = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
    if missing:
        return f"{len(missing)} missing tensor(s), e.g. {missing[0]!r}"
    if unexpected:
        return f"{len(unexpected)} unexpected tensor(s), e.g. {unexpected[0]!r}"
    for key, tensor in expected.items():
        if tuple(given[key].shape) != tuple(tensor.shape):
            return f"{key!r} has shape {tuple(given[key].shape)}, the network needs {tuple(tensor.shape)}"
    return ""


def load_pretrained_face(name: str, engine: str = "onnx") -> "FaceSystem":
    """The shipped face system that ``pretrained:<name>`` names (``avemo/pretrained/<name>``).

    Raises:
        ParameterError: when ``name`` lacks the prefix or names no shipped face system.
    """
    folder = PRETRAINED_DIR / name[len(PRETRAINED_PREFIX):]
    if not name.startswith(PRETRAINED_PREFIX) or not is_face_system(folder):
        raise ParameterError(f"{name!r} is not a shipped face system; name one as pretrained:<name> (shipped: "
                             f"{shipped_systems('face')})")
    return FaceSystem.load(folder, engine=engine)


def init_from_state(spec: FaceSystemSpec, folder: str | os.PathLike,
                    train: Callable[[str, Path], FaceSystem]) -> dict[str, torch.Tensor] | None:
    """The weights that start the training of ``spec`` (``None`` without ``init_from``): those of the face system
    ``spec.init_from``, which lives beside ``folder`` (in ``folder``'s parent, under its own name). A system
    there whose training spec matches ``configs/face/<init_from>.yaml`` is used as is; otherwise
    ``train(init_from, parent_folder)`` trains it there first and returns it.

    Raises:
        ParameterError: for an unknown ``init_from`` system.
    """
    if not spec.init_from:
        return None
    if spec.init_from.startswith(PRETRAINED_PREFIX):
        parent = load_pretrained_face(spec.init_from, engine="torch")
        return adapt_head(parent.model_.state_dict(), output_classes(parent.spec), output_classes(spec))
    parent_spec = load_face_spec(spec.init_from)
    parent_folder = Path(folder).parent / spec.init_from
    parent = None
    if is_face_system(parent_folder):
        try:
            parent = FaceSystem.load(parent_folder, engine="torch")
        except CheckpointError as exc:
            log.warning("%s: %s; training it again", parent_folder, exc)
        if parent is not None and parent.spec.training_dict() != parent_spec.training_dict():
            log.info("%s: the spec of %s changed since it was trained; training it again", parent_folder,
                     spec.init_from)
            parent = None
    if parent is None:
        parent = train(spec.init_from, parent_folder)
    return adapt_head(parent.model_.state_dict(), output_classes(parent.spec), output_classes(spec))


def output_classes(spec: FaceSystemSpec) -> tuple[str, ...]:
    """The class of each output of ``spec``'s network: its heads' classes side by side."""
    return tuple(c for classes in spec.head_classes().values() for c in classes)


def adapt_head(state: dict[str, torch.Tensor], source: Sequence[str],
               target: Sequence[str]) -> dict[str, torch.Tensor]:
    """``state`` with every tensor that has one row per ``source`` class (the classifier's weight and bias)
    re-made with one row per ``target`` class, matched by name; a target class the source lacks gets the row of
    its :data:`~avemo.labels.LABEL_FALLBACKS` class (contempt gets disgust's), or the mean row. Returns ``state``
    itself when the class lists are equal."""
    source, target = tuple(source), tuple(target)
    if source == target:
        return state
    from avemo.labels import LABEL_FALLBACKS

    head_keys = [k for k, v in state.items() if k.startswith("head.") and v.dim() >= 1 and v.shape[0] == len(source)]
    out = dict(state)
    for key in head_keys:
        rows = state[key]
        new = []
        for name in target:
            origin = name if name in source else LABEL_FALLBACKS.get(name)
            new.append(rows[source.index(origin)] if origin in source else rows.mean(0))
        out[key] = torch.stack(new).clone()
    return out
