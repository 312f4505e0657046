"""A neural audio-visual system: speech vector features + clip-mean OpenFace action units fed to one registered
fusion model (``fusion_concat``, ``fusion_decision``, ``fusion_attention``, ``fusion_transformer``), trained with
modality dropout and early stopping on validation UA, as an ensemble of seeds whose probabilities are averaged.

Either modality may be missing at prediction time (``modalities``); the models learn that through modality
dropout. Saved as a folder: ``system.json`` (kind, settings, classes, each member's architecture, extractor
keys, versions, ``info``), ``preprocess.safetensors`` (standardisation statistics) and ``member<k>.safetensors``
(weights). Nothing is pickled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from scipy.special import softmax

from avemo.errors import CheckpointError, ParameterError
from avemo.labels import label_set
from avemo.modalities import Modality
from avemo.models.registry import create_model
from avemo.systems.base import read_description, write_description
from avemo.systems.inputs import AVInputs, Standardizer
from avemo.train.checkpoint import library_versions, load_weights, read_tensors, save_tensors_atomic, to_jsonable
from avemo.train.predict import fusion_logits

#: Modality names the fusion models see.
SPEECH, AU = Modality.SPEECH, Modality.ACTION_UNITS
MODALITIES = (SPEECH, AU)
PREPROCESS_FILE = "preprocess.safetensors"
Split = tuple[Sequence[int], Sequence[int]]


class AVFusionSystem:
    """Speech + action units through one fusion model, a seed ensemble (scikit-learn style).

    Args:
        model: a registered fusion model name.
        label_set: the classes (default ``ravdess8``).
        speech_vectors: names of the speech vector features the speech matrix of :class:`AVInputs` holds.
        model_config: settings of the fusion model (``None`` = its defaults).
        train: :class:`~avemo.train.fusion_trainer.FusionTrainConfig` settings (the seed comes from ``seeds``).
        seeds: one ensemble member per seed.
        adapt: per-person adaptation: each person's speech and AUs are first standardised by that person's own
            statistics (:meth:`AVInputs.per_person`, no labels used), in training and prediction; the inputs must
            say who each row is of, and every person needs two or more recordings.
    """

    def __init__(self, model: str = "fusion_concat", label_set: str = "ravdess8",
                 speech_vectors: Sequence[str] = ("whisper_layers:meanstd", "egemaps"),
                 model_config: Mapping[str, Any] | None = None, train: Mapping[str, Any] | None = None,
                 seeds: Sequence[int] = (0, 1, 2), adapt: bool = False) -> None:
        self.model = model
        self.label_set = label_set
        self.speech_vectors = list(speech_vectors)
        self.model_config = dict(model_config or {})
        self.train = dict(train or {})
        self.seeds = [int(s) for s in seeds]
        self.adapt = bool(adapt)
        self.info: dict[str, Any] = {}
        self.members_: list[torch.nn.Module] = []
        self.best_epochs_: list[int] = []

    @property
    def classes(self) -> tuple[str, ...]:
        return label_set(self.label_set)

    # ---- inputs ------------------------------------------------------------------------------------------

    def _arrays(self, inputs: AVInputs, y: np.ndarray | None = None, modalities: Sequence[str] = MODALITIES):
        from avemo.train.fusion_trainer import MultimodalArrays

        xs = self.speech_scaler_.transform(inputs.speech)
        xf = np.where(inputs.au_present[:, None], self.au_scaler_.transform(np.nan_to_num(inputs.au)), 0.0)
        arrays = {SPEECH: xs, AU: xf}
        present = {SPEECH: np.ones(len(inputs), bool), AU: inputs.au_present}
        labels = np.zeros(len(inputs), np.int64) if y is None else y
        return MultimodalArrays.create({m: arrays[m] for m in modalities}, labels,
                                       {m: present[m] for m in modalities})

    def _adapted(self, inputs: AVInputs) -> AVInputs:
        """``inputs`` standardised per person when :attr:`adapt`, else as they are.

        Raises:
            ParameterError: when adapting inputs that do not say who each row is of, or a person seen once.
        """
        if not self.adapt:
            return inputs
        adapted, done = inputs.per_person()
        if not done[SPEECH].all():
            raise ParameterError("this adapted fusion system needs two or more recordings of every person; "
                                 f"{int((~done[SPEECH]).sum())} recording(s) are their person's only one")
        return adapted

    # ---- fitting -----------------------------------------------------------------------------------------

    def fit(self, inputs: AVInputs, y: Sequence[int], split: Split,
            checkpoint_dir: str | os.PathLike | None = None) -> "AVFusionSystem":
        """Train one member per seed on the rows ``split[0]``, stopping early on the UA of the rows ``split[1]``;
        speech and AUs are standardised with statistics of the training rows. ``checkpoint_dir`` is unused
        (members train in minutes). Returns ``self``.

        Raises:
            ParameterError: for an unknown model or setting, inconsistent inputs, or no training AUs.
        """
        from avemo.train.fusion_trainer import FusionTrainConfig, fit_fusion

        if not isinstance(inputs, AVInputs):
            raise ParameterError("inputs must be AVInputs (speech vectors, clip-mean AUs, AU mask)")
        y = np.asarray(y, dtype=np.int64)
        if len(y) != len(inputs):
            raise ParameterError(f"inputs ({len(inputs)}) and labels ({len(y)}) must describe the same recordings")
        tr, va = (np.asarray(list(part), dtype=np.int64) for part in split)
        inputs = self._adapted(inputs)
        tr_face = tr[inputs.au_present[tr]]
        if len(tr_face) == 0:
            raise ParameterError("no training recording has action units; check the AU table names")
        self.speech_scaler_ = Standardizer().fit(inputs.speech[tr])
        self.au_scaler_ = Standardizer().fit(inputs.au[tr_face])
        train, val = self._arrays(inputs.take(tr), y[tr]), self._arrays(inputs.take(va), y[va])
        self.members_, self.best_epochs_ = [], []
        for seed in self.seeds:
            try:
                config = FusionTrainConfig(**{**self.train, "seed": seed})
            except TypeError as exc:
                raise ParameterError(f"invalid fusion `train` settings ({exc})") from None
            result = fit_fusion(self.model, train, val, len(self.classes), self.model_config or None, config)
            self.members_.append(result.model.eval())
            self.best_epochs_.append(int(result.best_epoch))
        return self

    def fit_report(self) -> dict[str, Any]:
        """What the last :meth:`fit` recorded: each member's best (selected) epoch."""
        return {"best_epochs": list(self.best_epochs_)}

    # ---- prediction --------------------------------------------------------------------------------------

    def predict_proba(self, inputs: AVInputs, modalities: Sequence[str] = MODALITIES) -> np.ndarray:
        """Class probabilities ``(n, len(classes))``, the members' softmax averaged. ``modalities``: what the
        models see (``("speech",)`` or ``("action_units",)`` to test one modality alone); rows with no given modality
        present (no AUs, face only) get uniform probabilities.

        Raises:
            ParameterError: when the system is not fitted or for an unknown modality.
        """
        if not self.members_:
            raise ParameterError("AVFusionSystem is not fitted; call fit(...) or AVFusionSystem.load(dir)")
        modalities = tuple(m for m in MODALITIES if m in modalities)
        if not modalities:
            raise ParameterError(f"modalities must name some of {list(MODALITIES)}")
        c = len(self.classes)
        inputs = self._adapted(inputs)
        out = np.full((len(inputs), c), 1.0 / c)
        ok = inputs.au_present if modalities == (AU,) else np.ones(len(inputs), bool)
        if ok.any():
            data = self._arrays(inputs.take(np.flatnonzero(ok)), modalities=modalities)
            out[ok] = np.mean([softmax(fusion_logits(m, data).numpy().astype(np.float64), axis=1)
                               for m in self.members_], axis=0)
        return out

    # ---- persistence -------------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: name, kind, classes, settings, training and cross-validated figures
        (``info``), library versions."""
        return to_jsonable({
            "name": self.info.get("name", self.model), "kind": "av-fusion", "classes": list(self.classes),
            "description": f"{self.model} over speech ({' + '.join(self.speech_vectors)}) and 35 OpenFace AU "
                           f"clip means, modality dropout, {len(self.seeds)}-seed ensemble",
            "model": self.model, "adapt": self.adapt, "model_config": self.model_config, "train": self.train,
            "seeds": self.seeds,
            "training": {**{k: v for k, v in self.info.items() if k != "cross_validation"},
                         "best_epochs": self.best_epochs_},
            "cross_validation": self.info.get("cross_validation"), "versions": library_versions()})

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the system folder (see the module docstring); returns it.

        Raises:
            ParameterError: when the system is not fitted.
        """
        if not self.members_:
            raise ParameterError("nothing to save: the audio-visual fusion system is not fitted")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        save_file({"speech_mean": self.speech_scaler_.mean_, "speech_std": self.speech_scaler_.std_,
                   "au_mean": self.au_scaler_.mean_, "au_std": self.au_scaler_.std_}, str(path / PREPROCESS_FILE))
        for k, member in enumerate(self.members_):
            save_tensors_atomic(path / f"member{k}.safetensors", member.state_dict())
        doc = {"format_version": 1, "kind": "av-fusion", "model": self.model, "label_set": self.label_set,
               "classes": list(self.classes), "speech_vectors": self.speech_vectors,
               "model_config": self.model_config, "train": self.train, "seeds": self.seeds, "adapt": self.adapt,
               "members": [m.describe() for m in self.members_], "best_epochs": self.best_epochs_,
               "versions": library_versions(), "info": self.info}
        write_description(path, doc)
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "AVFusionSystem":
        """Rebuild a saved system.

        Raises:
            CheckpointError: when the folder or one of its files is missing or inconsistent.
        """
        path = Path(directory)
        doc = read_description(path, "av-fusion")
        try:
            system = cls(doc["model"], doc["label_set"], doc["speech_vectors"], doc["model_config"], doc["train"],
                         doc["seeds"], bool(doc.get("adapt", False)))
            system.info = doc.get("info", {})
            system.best_epochs_ = list(doc.get("best_epochs", []))
            members = doc["members"]
        except (KeyError, TypeError, ParameterError) as exc:
            raise CheckpointError(f"{path}: unreadable system description ({type(exc).__name__}: {exc})") from None
        try:
            stats = load_file(str(path / PREPROCESS_FILE))
            system.speech_scaler_ = Standardizer.from_state(stats["speech_mean"], stats["speech_std"])
            system.au_scaler_ = Standardizer.from_state(stats["au_mean"], stats["au_std"])
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: {PREPROCESS_FILE} missing or corrupt ({type(exc).__name__}: {exc})") \
                from None
        for k, described in enumerate(members):
            try:
                model = create_model(described["name"], described["input_dim"], described["num_classes"],
                                     config=described.get("config"))
            except (KeyError, ParameterError) as exc:
                raise CheckpointError(f"{path}: member {k} cannot be rebuilt ({exc})") from None
            weights = path / f"member{k}.safetensors"
            load_weights(model, read_tensors(weights), weights)
            system.members_.append(model.eval())
        return system

    def __repr__(self) -> str:
        return f"AVFusionSystem(model={self.model!r}, seeds={self.seeds}, fitted={bool(self.members_)})"
