"""SpeechSystem on synthetic, separable features: linear and tiny neural systems fit, predict, save and load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avemo.errors import CheckpointError, ParameterError
from avemo.systems.spec import SystemSpec
from avemo.systems.speech import SpeechSystem

N_CLASSES, PER_CLASS = 8, 5


def synthetic_features(seed: int = 0, per_class: int = PER_CLASS):
    """Frames (T, 64) and functionals (88,) whose mean depends on the class; labels 0..7."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), per_class)
    centres = rng.normal(0, 2.0, (N_CLASSES, 64))
    frames = [(centres[c] + rng.normal(0, 1.0, (int(rng.integers(20, 40)), 64))).astype(np.float32) for c in y]
    vec_centres = rng.normal(0, 2.0, (N_CLASSES, 88))
    vectors = [(vec_centres[c] + rng.normal(0, 1.0, 88)).astype(np.float32) for c in y]
    return {"logmel": frames, "egemaps": vectors}, y


def split_of(y):
    idx = np.arange(len(y))
    val = idx[idx % PER_CLASS == 0]
    train = idx[idx % PER_CLASS != 0]
    return [(train.tolist(), val.tolist())]


@pytest.fixture(scope="module")
def data():
    return synthetic_features()


@pytest.fixture(scope="module")
def linear_system(data):
    features, y = data
    spec = SystemSpec(name="lin", kind="linear", vectors=["logmel:meanstd", "egemaps"])
    return SpeechSystem(spec).fit(features, y, split_of(y))


@pytest.fixture(scope="module")
def neural_system(data):
    features, y = data
    spec = SystemSpec(name="nn", kind="neural", frames="logmel", frame_pool=2, aux=["egemaps"],
                      model="attention_head", train={"epochs": 3, "batch_size": 8, "patience": 3}, ensemble=2)
    return SpeechSystem(spec).fit(features, y, split_of(y))


def check_probabilities(p, n):
    assert p.shape == (n, N_CLASSES)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert (p >= 0).all()


def test_linear_system_fits_separable_classes(linear_system, data):
    features, y = data
    p = linear_system.predict_proba(features)
    check_probabilities(p, len(y))
    assert (p.argmax(1) == y).mean() == 1.0
    assert linear_system.coef_.shape == (N_CLASSES, 2 * 64 + 88)
    assert linear_system.classes[:2] == ("neutral", "calm") and len(linear_system.classes) == 8
    assert linear_system.members_ == []


def test_linear_system_generalises_to_new_samples(linear_system):
    features, y = synthetic_features(seed=0, per_class=PER_CLASS)  # same centres, fresh draw below
    rng = np.random.default_rng(99)
    fresh = {"logmel": [f + rng.normal(0, 0.5, f.shape).astype(np.float32) for f in features["logmel"]],
             "egemaps": [v + rng.normal(0, 0.5, v.shape).astype(np.float32) for v in features["egemaps"]]}
    assert (linear_system.predict_proba(fresh).argmax(1) == y).mean() >= 0.9


def test_neural_ensemble_fits(neural_system, data):
    features, y = data
    assert len(neural_system.members_) == 2 and len(neural_system.histories_) == 2
    assert all(len(h.to_dict()["val_ua"]) >= 1 for h in neural_system.histories_)
    p = neural_system.predict_proba(features)
    check_probabilities(p, len(y))
    assert (p.argmax(1) == y).mean() >= 0.5  # chance is 1/8


@pytest.mark.parametrize("which", ["linear_system", "neural_system"])
def test_save_load_gives_identical_probabilities(which, request, data, tmp_path):
    system = request.getfixturevalue(which)
    features, _ = data
    system.info = {"note": "test"}
    folder = system.save(tmp_path / which)
    doc = json.loads((folder / "system.json").read_text())
    assert doc["classes"] == list(system.classes) and doc["info"] == {"note": "test"}
    assert set(doc["extractors"]) == set(system.spec.extractors())
    assert doc["extractors"]["logmel"]["extractor"] == "logmel"
    assert doc["members"] == len(system.members_)
    loaded = SpeechSystem.load(folder)
    assert loaded.spec == system.spec and loaded.info == {"note": "test"}
    np.testing.assert_allclose(loaded.predict_proba(features), system.predict_proba(features), atol=1e-6)
    assert not list(folder.rglob("*.pkl")) and not list(folder.rglob("*.pt"))


def test_linear_class_absent_from_training_gets_no_probability(data):
    features, y = data
    keep = [i for i in range(len(y)) if y[i] != 7]
    spec = SystemSpec(name="lin7", kind="linear", vectors=["egemaps"])
    system = SpeechSystem(spec).fit(features, y, [(keep, [])])
    p = system.predict_proba(features)
    check_probabilities(p, len(y))
    assert p[:, 7].max() < 1e-6


def test_fit_rejects_wrong_number_of_splits(data):
    features, y = data
    spec = SystemSpec(name="nn", kind="neural", frames="logmel", model="attention_head", ensemble=3,
                      train={"epochs": 1})
    with pytest.raises(ParameterError, match="1 or 3 splits"):
        SpeechSystem(spec).fit(features, y, split_of(y) * 2)


@pytest.mark.parametrize("settings", [
    {"kind": "neural", "frames": "logmel", "model": "attention_head", "train": {"epochs": 1, "bogus": 2}},
    {"kind": "neural", "frames": "logmel", "model": "attention_head", "train": {"epochs": 1},
     "model_config": {"bogus": 1}},
    {"kind": "neural", "frames": "logmel", "model": "no_such_model", "train": {"epochs": 1}},
    {"kind": "linear", "vectors": ["egemaps"], "linear": {"bogus": 1}},
])
def test_bad_settings_raise_parameter_error(data, settings):
    features, y = data
    with pytest.raises(ParameterError, match="bogus|no_such_model"):
        SpeechSystem(SystemSpec(name="bad", **settings)).fit(features, y, split_of(y))


def test_load_errors(linear_system, neural_system, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="system.json"):
        SpeechSystem.load(tmp_path / "empty")
    with pytest.raises(CheckpointError):
        SpeechSystem.load(tmp_path / "does-not-exist")

    folder = linear_system.save(tmp_path / "corrupt_pre")
    (folder / "preprocess.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        SpeechSystem.load(folder)

    folder = linear_system.save(tmp_path / "no_linear")
    (folder / "linear.safetensors").unlink()
    with pytest.raises(CheckpointError):
        SpeechSystem.load(folder)

    folder = linear_system.save(tmp_path / "bad_json")
    (folder / "system.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        SpeechSystem.load(folder)

    folder = linear_system.save(tmp_path / "bad_spec")
    doc = json.loads((folder / "system.json").read_text())
    doc["spec"]["kind"] = "forest"
    (folder / "system.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError):
        SpeechSystem.load(folder)

    folder = neural_system.save(tmp_path / "no_member")
    import shutil

    shutil.rmtree(folder / "member1")
    with pytest.raises(CheckpointError):
        SpeechSystem.load(folder)


def test_vector_mlp_combination_and_feature_settings(data, tmp_path):
    """A vector (mlp) system, a linear one with a C grid chosen on validation, and their combination."""
    features, y = data
    mlp = {"name": "mlp", "kind": "neural", "vectors": ["egemaps"], "model": "mlp",
           "train": {"epochs": 5, "batch_size": 8}}
    lin = {"name": "lin", "kind": "linear", "vectors": ["logmel:meanstd"], "linear": {"C": [0.001, 1.0]}}
    combo = SpeechSystem(SystemSpec(name="combo", kind="combination", parts=[mlp, lin]))
    assert combo.spec.extractors() == ["egemaps", "logmel"]
    combo.fit(features, y, split_of(y))
    assert combo.parts_[1].info["chosen_C"] in (0.001, 1.0)
    p = combo.predict_proba(features)
    check_probabilities(p, len(y))
    expected = np.mean([part.predict_proba(features) for part in combo.parts_], axis=0)
    np.testing.assert_allclose(p, expected, atol=1e-6)
    assert (p.argmax(1) == y).mean() > 0.8
    loaded = SpeechSystem.load(combo.save(tmp_path / "combo"))
    np.testing.assert_allclose(loaded.predict_proba(features), p, atol=1e-6)


def test_feature_settings_key_features():
    spec = SystemSpec(name="t", kind="linear", vectors=["egemaps"], feature_settings={"egemaps": {"trim_db": 30}})
    assert spec.feature_key("egemaps") == "egemaps[trim_db=30]"
    (key, extractor), = spec.feature_extractors().items()
    assert key == "egemaps[trim_db=30]" and extractor.config.trim_db == 30
    assert extractor.cache_key()["trim_db"] == 30


def test_combination_needs_parts():
    with pytest.raises(ParameterError, match="parts"):
        SystemSpec(name="c", kind="combination", parts=[])


def test_fit_pools_each_recording_a_bounded_number_of_times(data, monkeypatch):
    """Frame pooling is linear in the number of recordings (it once ran once per training recording per recording)."""
    import avemo.systems.speech as speech_module

    features, y = data
    calls = []
    real = speech_module.pool_frames
    monkeypatch.setattr(speech_module, "pool_frames", lambda f, k: calls.append(1) or real(f, k))
    spec = SystemSpec(name="nn", kind="neural", frames="logmel", frame_pool=2, model="attention_head",
                      train={"epochs": 1, "batch_size": 8, "patience": 1})
    SpeechSystem(spec).fit(features, y, split_of(y))
    assert len(calls) <= 2 * len(y)
