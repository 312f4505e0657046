"""Saving and loading :class:`~avemo.systems.av_fusion.AVLateFusionSystem`: ``system.json`` (kind, classes, AU
column order, extractor keys, temperatures, weights, ``C`` values, versions, ``info``) and ``weights.safetensors``
(standardisation statistics, coefficients, intercepts). Nothing is pickled."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors.numpy import load_file, save_file

from avemo.errors import CheckpointError
from avemo.features.openface import AU_COLUMNS
from avemo.modalities import Modality
from avemo.systems.av_adapted import head_doc, head_from, head_tensors
from avemo.systems.base import read_description, write_description
from avemo.systems.inputs import Standardizer
from avemo.train.checkpoint import library_versions

if TYPE_CHECKING:
    from avemo.systems.av_fusion import AVLateFusionSystem

WEIGHTS_FILE = "weights.safetensors"
_MODALITIES = (Modality.SPEECH, Modality.ACTION_UNITS)


def save_system(system: "AVLateFusionSystem", directory: str | os.PathLike) -> Path:
    """Write a fitted ``system``'s ``system.json`` and ``weights.safetensors`` into ``directory``; returns it."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {"speech_mean": system.speech_scaler_.mean_, "speech_std": system.speech_scaler_.std_,
               "speech_coef": system.speech_coef_, "speech_intercept": system.speech_intercept_,
               "au_mean": system.au_scaler_.mean_, "au_std": system.au_scaler_.std_,
               "au_coef": system.au_coef_, "au_intercept": system.au_intercept_}
    adapted = getattr(system, "adapted_", None)
    if adapted is not None:
        tensors.update(head_tensors(adapted))
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
              str(path / WEIGHTS_FILE))
    doc = {"format_version": 1, "kind": "av-late-fusion", "label_set": system.label_set,
           "classes": list(system.classes), "au_columns": list(AU_COLUMNS),
           "speech_vectors": system.speech_vectors,
           "extractors": {n: e.cache_key() for n, e in system.feature_extractors().items()},
           "fusion": {"method": "log", "description": "weighted mean of log-probabilities, renormalised",
                      "weights": system.weights_, "weight_step": system.weight_step},
           "temperatures": {**system.temperatures_, "fused": system.fused_temperature_},
           "speech_C": system.speech_C, "au_C": system.au_C_, "au_C_grid": system.au_C_grid,
           "n_val_speakers": system.n_val_speakers, "refit": system.refit, "seed": system.seed,
           "adapt": system.adapt, "tau_grid": system.tau_grid, "cross_fit": system.cross_fit,
           "adapted": None if adapted is None else head_doc(adapted),
           "versions": library_versions(), "info": system.info}
    write_description(path, doc)
    return path


def load_system(cls: type["AVLateFusionSystem"], directory: str | os.PathLike) -> "AVLateFusionSystem":
    """Rebuild a saved system of class ``cls``.

    Raises:
        CheckpointError: when the folder or one of its files is missing or inconsistent, or the installed
            speech extractors differ from those the system was trained with.
    """
    path = Path(directory)
    doc = read_description(path, "av-late-fusion")
    try:
        system = cls(label_set=doc["label_set"], speech_vectors=doc["speech_vectors"],
                     speech_C=doc["speech_C"], au_C_grid=doc["au_C_grid"],
                     n_val_speakers=doc["n_val_speakers"], weight_step=doc["fusion"]["weight_step"],
                     refit=doc["refit"], seed=doc["seed"], adapt=bool(doc.get("adapt", False)),
                     tau_grid=doc.get("tau_grid", (0.0,)), cross_fit=int(doc.get("cross_fit", 0)))
        if list(doc["classes"]) != list(system.classes):
            raise CheckpointError(f"{path}: classes {doc['classes']} differ from label set "
                                  f"{doc['label_set']} {list(system.classes)}")
        if list(doc["au_columns"]) != list(AU_COLUMNS):
            raise CheckpointError(f"{path}: AU columns differ from OpenFace 2.0's 35 (AU_COLUMNS)")
        system.au_C_ = float(doc["au_C"])
        system.weights_ = {m: float(doc["fusion"]["weights"][m]) for m in _MODALITIES}
        system.temperatures_ = {m: float(doc["temperatures"][m]) for m in _MODALITIES}
        system.fused_temperature_ = float(doc["temperatures"]["fused"])
        system.info = doc.get("info", {})
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable system description ({type(exc).__name__}: {exc})") from None
    for name, extractor in system.feature_extractors().items():
        want = json.dumps(doc["extractors"].get(name), sort_keys=True)
        if json.dumps(extractor.cache_key(), sort_keys=True) != want:
            raise CheckpointError(f"{path}: trained with speech extractor {want}, but this avemo builds "
                                  f"{json.dumps(extractor.cache_key(), sort_keys=True)}; re-train the system")
    try:
        t = load_file(str(path / WEIGHTS_FILE))
        system.speech_scaler_ = Standardizer.from_state(t["speech_mean"], t["speech_std"])
        system.au_scaler_ = Standardizer.from_state(t["au_mean"], t["au_std"])
        system.speech_coef_, system.speech_intercept_ = t["speech_coef"], t["speech_intercept"]
        system.au_coef_, system.au_intercept_ = t["au_coef"], t["au_intercept"]
        system.adapted_ = None if doc.get("adapted") is None else head_from(doc["adapted"], t)
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{path}: {WEIGHTS_FILE} missing or corrupt ({type(exc).__name__}: {exc}); "
                              "re-train or re-install the model") from None
    c = len(system.classes)
    shapes_ok = (system.speech_coef_.shape[0] == system.au_coef_.shape[0] == c
                 and system.au_coef_.shape[1] == len(AU_COLUMNS) == len(system.au_scaler_.mean_)
                 and system.speech_coef_.shape[1] == len(system.speech_scaler_.mean_))
    if not shapes_ok:
        raise CheckpointError(f"{path}: weight shapes do not match {c} classes and {len(AU_COLUMNS)} AUs")
    return system
