"""A trained speech system: fitted standardisation + one or more models (an ensemble) or a linear baseline.

Saved as a folder: ``system.json`` (spec, classes, extractor keys, versions, anything in ``info``),
``preprocess.safetensors`` (standardisation statistics), ``member<k>/`` checkpoints for neural members or
``linear.safetensors`` for the logistic-regression baseline, ``part<k>/`` system folders for a combination.
Nothing is pickled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from avemo.errors import CheckpointError, ParameterError
from avemo.labels import label_set
from avemo.models.registry import create_model
from avemo.systems.base import read_description, write_description
from avemo.systems.inputs import Features, Standardizer, pool_frames, vector_matrix
from avemo.systems.spec import SystemSpec
from avemo.train.checkpoint import library_versions, load_checkpoint, save_checkpoint
from avemo.train.predict import predict_proba
from avemo.train.trainer import TrainConfig, TrainHistory, Trainer

Split = tuple[Sequence[int], Sequence[int]]


class SpeechSystem:
    """Fit, apply, save and load one system described by a :class:`SystemSpec`."""

    def __init__(self, spec: SystemSpec) -> None:
        self.spec = spec
        self.classes = label_set(spec.label_set)
        self.members_: list[torch.nn.Module] = []
        self.histories_: list[TrainHistory] = []
        self.info: dict[str, Any] = {}
        self.parts_ = [SpeechSystem(part) for part in spec.part_specs()]

    def feature_extractors(self) -> dict[str, Any]:
        """``{feature key: extractor}`` of every feature the system reads."""
        return self.spec.feature_extractors()

    # ---- inputs ------------------------------------------------------------------------------------------

    def _view(self, features: Features) -> Features:
        """Features by extractor name, from a dict keyed by :meth:`SystemSpec.feature_key`."""
        return {n: features[self.spec.feature_key(n)] for n in self.spec.extractors()}

    def _frames(self, features: Features) -> list[np.ndarray]:
        return [pool_frames(f, self.spec.frame_pool) for f in features[self.spec.frames]]

    def _inputs(self, features: Features) -> tuple[list[np.ndarray] | np.ndarray, np.ndarray | None]:
        features = self._view(features)
        if self.spec.kind == "linear":
            return self.vector_scaler_.transform(vector_matrix(self.spec.vectors, features)), None
        if self.spec.vectors:
            return list(self.vector_scaler_.transform(vector_matrix(self.spec.vectors, features))), None
        frames = [self.frame_scaler_.transform(f) for f in self._frames(features)]
        aux = self.aux_scaler_.transform(vector_matrix(self.spec.aux, features)) if self.spec.aux else None
        return frames, aux

    # ---- fitting -----------------------------------------------------------------------------------------

    def fit(self, features: Features, y: Sequence[int], split: Split | Sequence[Split],
            checkpoint_dir: str | os.PathLike | None = None) -> "SpeechSystem":
        """Train on ``features`` (all recordings) with labels ``y`` (indices into ``self.classes``).

        ``split`` is one ``(train_index, val_index)`` pair reused by every ensemble member, or a list of such
        pairs, one per member. Linear systems train on train+val (they need no early stopping). Standardisation uses the
        union of every split's training part. With ``checkpoint_dir``, each member's training resumes after a crash.

        Raises:
            ParameterError: for inconsistent splits.
        """
        y = np.asarray(y)
        splits = _as_splits(split)
        if self.parts_:
            for part in self.parts_:
                mine = splits[:part.spec.ensemble] if len(splits) >= part.spec.ensemble else splits[:1]
                part.fit(features, y, mine, None if checkpoint_dir is None else Path(checkpoint_dir) / part.spec.name)
            return self
        features = self._view(features)
        if not self.parts_ and len(splits) not in (1, self.spec.ensemble):
            raise ParameterError(f"give 1 or {self.spec.ensemble} splits, got {len(splits)}")
        splits = list(splits) * (self.spec.ensemble if len(splits) == 1 else 1)
        train_union = sorted(set().union(*[set(tr) for tr, _ in splits]))
        if self.spec.kind == "linear":
            return self._fit_linear(features, y, list(splits[0][0]), list(splits[0][1]))
        if self.spec.vectors:
            self.vector_scaler_ = Standardizer().fit(vector_matrix(self.spec.vectors, features)[train_union])
        else:
            pooled = self._frames(features)
            self.frame_scaler_ = Standardizer().fit([pooled[i] for i in train_union])
        if self.spec.aux:
            self.aux_scaler_ = Standardizer().fit(vector_matrix(self.spec.aux, features)[train_union])
        frames, aux = self._inputs(features)
        self._train_config(0)  # a bad `train` setting fails before any member trains
        self.members_, self.histories_ = [], []
        for k, (tr, va) in enumerate(splits):
            seed = int(self.spec.train.get("seed", 0)) + k
            torch.manual_seed(seed)
            model = create_model(self.spec.model, frames[0].shape[-1], len(self.classes),
                                 aux_dim=0 if aux is None else aux.shape[1], config=self.spec.model_config)
            config = self._train_config(seed)
            ckpt = None if checkpoint_dir is None else Path(checkpoint_dir) / f"member{k}"
            history = Trainer(config, ckpt).fit(
                model, [frames[i] for i in tr], y[list(tr)], [frames[i] for i in va], y[list(va)],
                None if aux is None else aux[list(tr)], None if aux is None else aux[list(va)])
            model.eval()
            self.members_.append(model)
            self.histories_.append(history)
        return self

    def fit_report(self) -> dict[str, Any]:
        """What the last :meth:`fit` recorded: each neural member's training history (``histories``), the
        logistic regression's chosen ``C`` (``chosen_C``), and those of a combination's parts (``parts``)."""
        report: dict[str, Any] = {"histories": [h.to_dict() for h in self.histories_]}
        if "chosen_C" in self.info:
            report["chosen_C"] = self.info["chosen_C"]
        if self.parts_:
            report["parts"] = {part.spec.name: part.fit_report() for part in self.parts_}
        return report

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: name, kind, classes, description, spec, training and cross-validated figures
        (``info``), library versions."""
        from avemo.train.checkpoint import to_jsonable

        return to_jsonable({"name": self.spec.name, "kind": "speech", "classes": list(self.classes),
                            "description": self.spec.description, "spec": self.spec.to_dict(),
                            "members": len(self.members_),
                            "training": {k: v for k, v in self.info.items() if k != "cross_validation"},
                            "cross_validation": self.info.get("cross_validation"), "versions": library_versions()})

    def _train_config(self, seed: int) -> TrainConfig:
        try:
            return TrainConfig(**{**self.spec.train, "seed": seed})
        except TypeError as exc:
            raise ParameterError(f"system {self.spec.name!r}: invalid `train` settings ({exc})") from None

    def _fit_linear(self, features: Features, y: np.ndarray, train: Sequence[int],
                    val: Sequence[int]) -> "SpeechSystem":
        """Logistic regression on train+val; a list of ``C`` values is first compared on the validation speakers
        (fitted on train only) and the best one kept (``info["chosen_C"]``)."""
        from sklearn.linear_model import LogisticRegression

        from avemo.train.metrics import unweighted_accuracy

        X = vector_matrix(self.spec.vectors, features)
        settings = dict(self.spec.linear)
        grid = settings.pop("C", 1.0)
        grid = list(grid) if isinstance(grid, (list, tuple)) else [grid]

        def fitted(rows: Sequence[int], C: float):
            scaler = Standardizer().fit(X[list(rows)])
            try:
                clf = LogisticRegression(C=C, max_iter=3000, class_weight="balanced", **settings)
            except TypeError as exc:
                raise ParameterError(f"system {self.spec.name!r}: invalid `linear` settings ({exc})") from None
            return scaler, clf.fit(scaler.transform(X[list(rows)]), y[list(rows)])

        best_C = grid[0]
        if len(grid) > 1 and len(val):
            scores = []
            for C in grid:
                scaler, clf = fitted(train, C)
                scores.append(unweighted_accuracy(y[list(val)], clf.predict(scaler.transform(X[list(val)]))))
            best_C = grid[int(np.argmax(scores))]
        self.info["chosen_C"] = best_C
        self.vector_scaler_, clf = fitted(sorted(set(train) | set(val)), best_C)
        coef = np.zeros((len(self.classes), X.shape[1]), np.float32)
        intercept = np.full(len(self.classes), -1e4, np.float32)  # classes absent from training
        coef[clf.classes_], intercept[clf.classes_] = clf.coef_, clf.intercept_
        self.coef_, self.intercept_ = coef, intercept
        return self

    # ---- prediction --------------------------------------------------------------------------------------

    def predict_proba(self, features: Features) -> np.ndarray:
        """Class probabilities ``(n, len(classes))``, ensemble members (or combined systems) averaged."""
        if self.parts_:
            return np.mean([part.predict_proba(features) for part in self.parts_], axis=0)
        x, aux = self._inputs(features)
        if self.spec.kind == "linear":
            logits = x @ self.coef_.T + self.intercept_
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
        with torch.inference_mode():
            return np.mean([predict_proba(m, x, aux) for m in self.members_], axis=0)

    # ---- persistence -------------------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the system folder (see the module docstring); returns it."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, np.ndarray] = {}
        for name in ("frame_scaler_", "aux_scaler_", "vector_scaler_"):
            if hasattr(self, name):
                for key, value in getattr(self, name).state().items():
                    tensors[f"{name}{key}"] = value
        save_file(tensors, str(path / "preprocess.safetensors"))
        if self.spec.kind == "linear":
            save_file({"coef": self.coef_, "intercept": self.intercept_}, str(path / "linear.safetensors"))
        for k, part in enumerate(self.parts_):
            part.save(path / f"part{k}")
        for k, model in enumerate(self.members_):
            save_checkpoint(path / f"member{k}", model, {"classes": list(self.classes)})
        doc = {"format_version": 1, "kind": "speech", "spec": self.spec.to_dict(), "classes": list(self.classes),
               "extractors": {k: e.cache_key() for k, e in self.spec.feature_extractors().items()},
               "members": len(self.members_), "versions": library_versions(), "info": self.info}
        write_description(path, doc)
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "SpeechSystem":
        """Rebuild a saved system.

        Raises:
            CheckpointError: when the folder or one of its files is missing or inconsistent.
        """
        path = Path(directory)
        doc = read_description(path, "speech")
        try:
            system = cls(SystemSpec.from_dict(doc["spec"]))
        except (KeyError, TypeError, ParameterError) as exc:
            raise CheckpointError(f"{path}: unreadable system description ({exc})") from None
        system.info = doc.get("info", {})
        try:
            tensors = load_file(str(path / "preprocess.safetensors"))
            for name in ("frame_scaler_", "aux_scaler_", "vector_scaler_"):
                if f"{name}mean" in tensors:
                    setattr(system, name, Standardizer.from_state(tensors[f"{name}mean"], tensors[f"{name}std"]))
            if system.spec.kind == "linear":
                lin = load_file(str(path / "linear.safetensors"))
                system.coef_, system.intercept_ = lin["coef"], lin["intercept"]
        except (OSError, KeyError, Exception) as exc:  # safetensors raises its own error types
            if isinstance(exc, CheckpointError):
                raise
            raise CheckpointError(f"{path}: weights missing or corrupt ({type(exc).__name__}: {exc}); "
                                  "re-train or re-download the model") from None
        system.parts_ = [cls.load(path / f"part{k}") for k in range(len(system.parts_))]
        system.members_ = [load_checkpoint(path / f"member{k}")[0] for k in range(int(doc.get("members", 0)))]
        return system


def _as_splits(split: Split | Sequence[Split]) -> list[Split]:
    """A list of ``(train_index, val_index)`` pairs from one pair or a list of pairs."""
    def is_index(part: Any) -> bool:
        return all(isinstance(i, (int, np.integer)) for i in part)

    split = list(split)
    if len(split) == 2 and is_index(split[0]) and is_index(split[1]):
        return [(list(split[0]), list(split[1]))]
    return [(list(tr), list(va)) for tr, va in split]
