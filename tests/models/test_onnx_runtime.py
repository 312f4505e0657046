"""ONNX Runtime runs every image model like torch does; the face system uses it and falls back to torch."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from avemo.errors import ParameterError
from avemo.models import create_model, list_models
from avemo.models.onnx_runtime import OnnxForward, onnx_runtime_available

pytestmark = pytest.mark.skipif(not onnx_runtime_available(), reason="onnxruntime / onnx not installed")
SMALL = {"face_mobilenet_v2": {"pretrained": False}}


def trained_like(name: str):
    """A model with non-trivial batch-norm statistics (one training-mode pass), in eval mode."""
    torch.manual_seed(0)
    model = create_model(name, 1, 7, config=SMALL.get(name))
    with torch.no_grad():
        model.train()(torch.rand(8, 1, 40, 40) * 2)
    return model.eval()


@pytest.mark.parametrize("name", list_models("image"))
def test_onnx_matches_torch(name):
    model = trained_like(name)
    run = OnnxForward(model, 40)
    for batch in (1, 5):
        x = torch.rand(batch, 1, 40, 40)
        with torch.no_grad():
            want = model(x)
        got = run(x)
        assert got.shape == want.shape == (batch, 7)
        assert torch.allclose(got, want, atol=1e-4), float((got - want).abs().max())


def test_sessions_follow_torch_threads_and_graph_saves(tmp_path):
    import onnxruntime as ort

    model = trained_like("face_cnn")
    run = OnnxForward(model, 40)
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            run(torch.rand(1, 1, 40, 40))
    finally:
        torch.set_num_threads(before)
    assert set(run._sessions) == {1, 2}
    path = run.save(tmp_path / "face.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((3, 1, 40, 40), dtype=np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert np.allclose(session.run(["logits"], {"images": x})[0], want, atol=1e-4)


def test_non_image_model_is_refused():
    model = create_model(list_models("vector")[0], 16, 8)
    with pytest.raises(ParameterError, match="only image models"):
        OnnxForward(model, 40)


def test_face_system_engines_agree_and_fall_back(monkeypatch, caplog):
    from avemo.systems.face import FaceSystem, FaceSystemSpec

    spec = FaceSystemSpec(name="tiny", model_config={"channels": [8, 16], "convs_per_block": 1},
                          augment={"tta": "scales"}, train={"epochs": 1, "batch_size": 8})
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 48, 48), dtype=np.uint8)
    y = np.arange(12) % 7
    fast = FaceSystem(spec).fit(x, y)
    slow = FaceSystem(spec, engine="torch")
    slow.model_ = fast.model_
    p_fast, p_slow = fast.predict_proba(x), slow.predict_proba(x)
    assert fast._onnx is not None and slow._onnx is None
    assert np.allclose(p_fast, p_slow, atol=1e-5)
    # a new network object (e.g. trained again) is exported again, not run with the old graph
    fast.model_ = trained_like("face_cnn")
    slow.model_ = fast.model_
    p_slow = slow.predict_proba(x)
    assert np.allclose(fast.predict_proba(x), p_slow, atol=1e-5)
    with pytest.raises(ParameterError, match="engine must be one of"):
        FaceSystem(spec, engine="tensorrt")
    # without onnxruntime the system warns once and runs on torch
    monkeypatch.setattr("avemo.models.onnx_runtime.onnx_runtime_available", lambda: False)
    fallback = FaceSystem(spec)
    fallback.model_ = fast.model_
    with caplog.at_level(logging.WARNING):
        assert np.allclose(fallback.predict_proba(x), p_slow, atol=1e-6)
    assert fallback.runtime == "torch" and fallback.engine == "onnx" and "runs on torch" in caplog.text
