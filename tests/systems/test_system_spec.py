"""System specs from YAML with key=value overrides, and the model-input helpers (pooling, vectors, scaling)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from avemo.errors import ParameterError
from avemo.systems.inputs import Standardizer, pool_frames, take, vector_feature, vector_matrix
from avemo.systems.spec import SystemSpec, apply_overrides, configs_dir, load_spec

NEURAL = {"name": "tiny", "description": "a test system", "kind": "neural", "frames": "logmel", "frame_pool": 2,
          "aux": ["egemaps"], "model": "attention_head", "ensemble": 3,
          "train": {"epochs": 40, "patience": 12, "lr": 0.001}}


@pytest.fixture()
def spec_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(NEURAL))
    return path


def test_load_spec_from_yaml(spec_file):
    spec = load_spec(spec_file)
    assert isinstance(spec, SystemSpec)
    assert (spec.name, spec.kind, spec.frames, spec.frame_pool, spec.model, spec.ensemble) == \
        ("tiny", "neural", "logmel", 2, "attention_head", 3)
    assert spec.train == {"epochs": 40, "patience": 12, "lr": 0.001}
    assert spec.label_set == "ravdess8" and spec.linear == {"C": 0.1}
    assert spec.extractors() == ["logmel", "egemaps"]
    assert SystemSpec.from_dict(spec.to_dict()) == spec


def test_overrides(spec_file):
    spec = load_spec(spec_file, ["train.epochs=2", "ensemble=1", "model_config.heads=2", "description=x y"])
    assert spec.train == {"epochs": 2, "patience": 12, "lr": 0.001}
    assert spec.ensemble == 1 and spec.model_config == {"heads": 2} and spec.description == "x y"
    assert load_spec(spec_file, ["aux=[]"]).aux == []
    # The file itself is untouched.
    assert load_spec(spec_file).train["epochs"] == 40


def test_apply_overrides_copies():
    data = {"train": {"epochs": 3}}
    out = apply_overrides(data, ["train.lr=0.5", "train.epochs=7"])
    assert out == {"train": {"epochs": 7, "lr": 0.5}} and data == {"train": {"epochs": 3}}


@pytest.mark.parametrize("override,match", [
    ("bogus=1", "unknown key"),
    ("train.epochs", "key=value"),
    ("name.first=2", "not a group"),
    ("ensemble=0", ">= 1"),
    ("vectors=egemaps", "list of feature names"),
    ("train=5", "mapping"),
    ("ensemble=two", "ensemble"),
    ("frame_pool=1.5", "frame_pool"),
    ("kind=forest", "kind"),
    ("frames=null", "frames"),
])
def test_bad_overrides_raise_parameter_error(spec_file, override, match):
    with pytest.raises(ParameterError, match=match):
        load_spec(spec_file, [override])


def test_spec_validation():
    with pytest.raises(ParameterError, match="needs a `name`"):
        SystemSpec.from_dict({"kind": "linear", "vectors": ["egemaps"]})
    with pytest.raises(ParameterError, match="vectors"):
        SystemSpec(name="x", kind="linear")
    spec = SystemSpec(name="x", kind="linear", vectors=["egemaps", "logmel:meanstd", "egemaps"])
    assert spec.extractors() == ["egemaps", "logmel"]


def test_load_spec_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("AVEMO_CONFIGS", str(tmp_path))
    (tmp_path / "speech").mkdir()
    (tmp_path / "speech" / "mine.yaml").write_text(yaml.safe_dump({"name": "mine", "kind": "linear",
                                                                   "vectors": ["egemaps"]}))
    assert configs_dir() == tmp_path
    assert load_spec("mine").vectors == ["egemaps"]
    with pytest.raises(ParameterError, match=r"\['mine'\]"):
        load_spec("nope")
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ParameterError, match="invalid YAML"):
        load_spec(tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ParameterError, match="mapping"):
        load_spec(tmp_path / "list.yaml")


def test_shipped_configs_load(monkeypatch):
    monkeypatch.delenv("AVEMO_CONFIGS", raising=False)
    names = sorted(p.stem for p in (configs_dir() / "speech").glob("*.yaml"))
    assert "egemaps-logreg" in names
    for name in names:
        spec = load_spec(name)
        assert spec.name == name


# ---- inputs --------------------------------------------------------------------------------------------------

def test_pool_frames():
    frames = np.arange(16, dtype=np.float32).reshape(8, 2)
    pooled = pool_frames(frames, 4)
    np.testing.assert_array_equal(pooled, [[3, 4], [11, 12]])
    assert pool_frames(frames, 1) is frames
    odd = pool_frames(frames[:7], 2)
    assert odd.shape == (4, 2)
    np.testing.assert_array_equal(odd[:3], [[1, 2], [5, 6], [9, 10]])
    np.testing.assert_array_equal(odd[3], [12, 13])  # the last partial group holds frame 6 only
    assert pool_frames(np.zeros((0, 3)), 2).shape == (0, 3)


def test_vector_feature_and_matrix():
    rng = np.random.default_rng(0)
    frames = [rng.standard_normal((t, 5)).astype(np.float32) for t in (10, 20, 7)]
    feats = {"x": frames, "v": [np.full(3, i, np.float32) for i in range(3)]}
    ms = vector_feature("x:meanstd", feats)
    assert ms.shape == (3, 10) and ms.dtype == np.float32
    np.testing.assert_allclose(ms[1, :5], frames[1].mean(0), rtol=1e-6)
    np.testing.assert_allclose(ms[1, 5:], frames[1].std(0), rtol=1e-6)
    assert vector_feature("x:mean", feats).shape == (3, 5)
    assert vector_feature("x:std", feats).shape == (3, 5)
    np.testing.assert_array_equal(vector_feature("v", feats)[:, 0], [0, 1, 2])
    assert vector_matrix(["x:meanstd", "v"], feats).shape == (3, 13)
    with pytest.raises(ParameterError, match="x:meanstd"):
        vector_feature("x", feats)
    with pytest.raises(ParameterError, match="max"):
        vector_feature("x:max", feats)
    with pytest.raises(ParameterError, match="not computed"):
        vector_feature("egemaps", feats)
    sub = take(feats, [2, 0])
    assert sub["x"][0] is frames[2] and len(sub["v"]) == 2


def test_standardizer():
    rng = np.random.default_rng(1)
    arrays = [rng.normal(5, 3, (50, 4)).astype(np.float32) for _ in range(4)]
    sc = Standardizer().fit(arrays)
    z = np.concatenate([sc.transform(a) for a in arrays])
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-3)
    back = Standardizer.from_state(**sc.state())
    np.testing.assert_array_equal(back.transform(arrays[0]), sc.transform(arrays[0]))
    const = Standardizer().fit(np.ones((10, 2), np.float32))
    assert np.all(np.isfinite(const.transform(np.ones((3, 2), np.float32))))
