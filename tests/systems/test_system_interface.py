"""The one System interface: every kind loads through load_system and describes itself as JSON; the one
cross-validation runner gives what fitting the system by hand on each fold gives."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from avemo.data.splits import Fold
from avemo.errors import AssetNotFoundError, CheckpointError, ParameterError
from avemo.features.openface import AU_COLUMNS
from avemo.systems.av_fusion import AVLateFusionSystem
from avemo.systems.av_neural import AVFusionSystem
from avemo.systems.base import (LEGACY_FILES, PRETRAINED_DIR, SYSTEM_FILE, SYSTEM_KINDS, System, load_system,
                                read_description, shipped_systems, system_kind)
from avemo.systems.cross_validation import cross_validate
from avemo.systems.inputs import AVInputs

N_SPEAKERS, PER_SPEAKER, CLASSES = 12, 16, 8


@pytest.fixture(scope="module")
def av_data():
    """Synthetic speech vectors + AUs of 12 speakers, the class in both (AUs missing for a few rows), and three
    speaker-independent folds."""
    rng = np.random.default_rng(0)
    n = N_SPEAKERS * PER_SPEAKER
    y = np.tile(np.arange(CLASSES), n // CLASSES)
    speakers = np.repeat(np.arange(N_SPEAKERS), PER_SPEAKER)
    speech = rng.normal(size=(n, 10)).astype(np.float32)
    speech[np.arange(n), y] += 2.0
    au = rng.uniform(0, 0.3, size=(n, len(AU_COLUMNS))).astype(np.float32)
    au[np.arange(n), y + 3] += 1.0
    present = rng.uniform(size=n) > 0.1
    inputs = AVInputs.create(speech, au, present)
    folds = []
    for k in range(3):
        test = [k * 4 + j for j in range(4)]
        val = [(k * 4 + 4 + j) % N_SPEAKERS for j in range(2)]
        train = [s for s in range(N_SPEAKERS) if s not in test + val]
        rows = {name: np.flatnonzero(np.isin(speakers, part)).tolist()
                for name, part in (("train", train), ("val", val), ("test", test))}
        folds.append(Fold(f"fold{k + 1}", rows["train"], rows["val"], rows["test"],
                          tuple(map(str, test)), tuple(map(str, val))))
    return inputs, y, folds


def _late_fusion():
    return AVLateFusionSystem(speech_vectors=("synthetic",), au_C_grid=(0.1, 1.0))


@pytest.mark.parametrize("workers", [1, 2])
def test_cross_validate_equals_fitting_by_hand(av_data, workers):
    inputs, y, folds = av_data
    outcomes = cross_validate(lambda fold: _late_fusion(), inputs, y, folds, workers=workers)
    assert [o.fold.name for o in outcomes] == [f.name for f in folds]
    for outcome, fold in zip(outcomes, folds):
        system = _late_fusion().fit(inputs, y, (fold.train, fold.val))
        expected = system.predict_proba(inputs.take(fold.test))
        np.testing.assert_allclose(outcome.test_probs, expected, rtol=1e-6, atol=1e-9)
        assert outcome.report["au_C"] == system.fit_report()["au_C"]
        assert outcome.seconds > 0
    # The folds' models differ (each saw other speakers), and each beats chance on its held-out speakers.
    assert not np.allclose(outcomes[0].test_probs, outcomes[1].test_probs)
    for outcome in outcomes:
        assert (outcome.test_probs.argmax(1) == y[outcome.fold.test]).mean() > 0.5


def test_cross_validate_several_systems_and_a_predictor(av_data):
    inputs, y, folds = av_data
    factories = {"late": lambda fold: _late_fusion(),
                 "concat": lambda fold: AVFusionSystem("fusion_concat", speech_vectors=("synthetic",), seeds=(0,),
                                                       train={"epochs": 2, "patience": 1})}
    seen = []
    outcomes = cross_validate(factories, inputs, y, folds[:1], keep_systems=True, on_done=seen.append,
                              predict=lambda system, rows, fold: (type(system).__name__, len(fold.test)))
    assert [o.system for o in outcomes] == ["late", "concat"] and seen == outcomes
    assert outcomes[0].test_probs == ("AVLateFusionSystem", len(folds[0].test))
    assert isinstance(outcomes[1].fitted, AVFusionSystem) and outcomes[1].report["best_epochs"]


def test_av_fusion_system_save_load_round_trip(av_data, tmp_path):
    inputs, y, folds = av_data
    fold = folds[0]
    system = AVFusionSystem("fusion_attention", speech_vectors=("synthetic",), seeds=(0, 1),
                            train={"epochs": 3, "patience": 2}).fit(inputs, y, (fold.train, fold.val))
    test = inputs.take(fold.test)
    folder = system.save(tmp_path / "av")
    assert system_kind(folder) == "av-fusion"
    loaded = load_system(folder)
    assert isinstance(loaded, AVFusionSystem) and isinstance(loaded, System)
    for modalities in (("speech", "action_units"), ("speech",), ("action_units",)):
        np.testing.assert_allclose(loaded.predict_proba(test, modalities), system.predict_proba(test, modalities),
                                   rtol=1e-5, atol=1e-6)
    # Without AUs a face-only prediction is uniform; with both, rows sum to one.
    face_only = loaded.predict_proba(test, ("action_units",))
    np.testing.assert_allclose(face_only[~test.au_present], 1 / CLASSES)
    np.testing.assert_allclose(loaded.predict_proba(test).sum(1), 1.0, rtol=1e-6)
    json.dumps(loaded.describe())
    (folder / "member1.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError):
        load_system(folder)
    with pytest.raises(ParameterError, match="modalities"):
        system.predict_proba(test, ("voice",))


@pytest.mark.parametrize("kind", [k for k, spec in SYSTEM_KINDS.items() if spec.shipped])
def test_every_shipped_kind_loads_and_describes_itself(kind):
    name = SYSTEM_KINDS[kind].shipped
    assert name in shipped_systems(kind)
    system = load_system(name)
    assert isinstance(system, System)
    assert type(system) is type(load_system(kind=kind))
    doc = system.describe()
    text = json.dumps(doc)  # JSON-able, no numpy or paths left
    assert doc["kind"] == kind and doc["classes"] == list(system.classes) and doc["versions"]
    assert json.loads(text)["name"]


def test_load_system_errors(tmp_path):
    with pytest.raises(AssetNotFoundError, match="not found"):
        load_system(tmp_path / "nothing")
    with pytest.raises(AssetNotFoundError, match="no av-fusion system is shipped"):
        load_system(kind="av-fusion")
    with pytest.raises(ParameterError, match="unknown system kind"):
        load_system("speech-ravdess", kind="voice")
    with pytest.raises(AssetNotFoundError):
        load_system("speech-ravdess", kind="face")  # a shipped name of another kind


def test_every_shipped_folder_has_one_system_json_naming_its_kind():
    for kind, spec in SYSTEM_KINDS.items():
        if spec.shipped:  # each kind's default is shipped, as that kind
            assert json.loads((PRETRAINED_DIR / spec.shipped / SYSTEM_FILE).read_text())["kind"] == kind
    for name in shipped_systems():  # and so is every other shipped folder (face-cnn-long)
        folder = PRETRAINED_DIR / name
        assert json.loads((folder / SYSTEM_FILE).read_text())["kind"] in SYSTEM_KINDS
        assert not [legacy for legacy in LEGACY_FILES if (folder / legacy).exists()]
    assert {spec.shipped for spec in SYSTEM_KINDS.values() if spec.shipped} < set(shipped_systems())


@pytest.mark.parametrize("kind", ["speech-probe", "av-late-fusion", "speech"])
def test_a_folder_saved_by_avemo_0_1_still_loads(kind, tmp_path):
    """avemo 0.1 named each kind's description file after the kind (speech's system.json had no "kind")."""
    shipped = PRETRAINED_DIR / SYSTEM_KINDS[kind].shipped
    folder = shutil.copytree(shipped, tmp_path / "old")
    legacy = {k: name for name, k in LEGACY_FILES.items()}.get(kind, SYSTEM_FILE)
    doc = json.loads((folder / SYSTEM_FILE).read_text())
    del doc["kind"]
    (folder / SYSTEM_FILE).unlink()
    (folder / legacy).write_text(json.dumps(doc))  # speech: system.json without "kind"
    assert system_kind(folder) == kind and read_description(folder)["kind"] == kind
    old, new = load_system(folder), load_system(shipped)
    assert type(old) is type(new) and old.describe() == new.describe()


def test_system_json_names_the_kind(tmp_path):
    folder = shutil.copytree(PRETRAINED_DIR / "av-ravdess-openface", tmp_path / "av")
    doc = json.loads((folder / SYSTEM_FILE).read_text())
    (folder / SYSTEM_FILE).write_text(json.dumps({**doc, "kind": "face"}))
    assert system_kind(folder) == "face"  # the kind is what the file says, not guessed from its files
    with pytest.raises(CheckpointError, match="'face' system, not the 'av-late-fusion'"):
        AVLateFusionSystem.load(folder)
    (folder / SYSTEM_FILE).write_text(json.dumps({**doc, "kind": "hologram"}))
    with pytest.raises(CheckpointError, match="unknown system kind 'hologram'"):
        load_system(folder)
    (folder / SYSTEM_FILE).write_text("{")
    with pytest.raises(CheckpointError, match="unreadable"):
        system_kind(folder)
    (folder / SYSTEM_FILE).unlink()
    assert system_kind(folder) is None
    with pytest.raises(CheckpointError, match="no system.json"):
        AVLateFusionSystem.load(folder)
