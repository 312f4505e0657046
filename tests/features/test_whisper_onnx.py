"""The Whisper encoder on ONNX Runtime: parity with the PyTorch encoder on the committed fixture clip (per-layer
statistics and the shipped speech model's probabilities), cache keys, a corrupt file rebuilt, an unusable backend
falling back to PyTorch with a warning, long clips windowed."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from avemo.errors import ParameterError
from avemo.features.audio import whisper_onnx
from avemo.features.base import create_extractor
from avemo.io.audio import load_audio

#: Stated tolerances of the parity test (the int8 ones are what dynamic quantisation costs: up to 5.6% relative on
#: the last layer on an AMD EPYC without VNNI; `avemo benchmark speed` measures the accuracy it costs).
F32_REL, INT8_REL, F32_PROB, INT8_PROB = 1e-4, 0.08, 1e-4, 0.15


@pytest.fixture(scope="module")
def clip(talking_face):
    return load_audio(talking_face, 16000)


@pytest.fixture(scope="module")
def stats(clip):
    return {b: create_extractor("whisper_stats", backend=b).process_signal(clip, 16000) for b in whisper_onnx.BACKENDS}


def _layer_rel(a: np.ndarray, b: np.ndarray, layers: int = 7) -> np.ndarray:
    a, b = a.reshape(layers, -1), b.reshape(layers, -1)
    return np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)


def test_onnx_encoders_match_the_pytorch_one(stats):
    assert _layer_rel(stats["onnx-f32"], stats["torch"]).max() < F32_REL
    rel = _layer_rel(stats["onnx-int8"], stats["torch"])
    assert rel.max() < INT8_REL, rel
    assert rel.max() > 1e-6  # int8 really is quantised, not the float graph again


def test_shipped_model_probabilities_within_tolerance(stats):
    from avemo.inference.engine import SPEECH_KINDS
    from avemo.systems.base import load_system

    system = load_system(None, kind=SPEECH_KINDS)
    (key,) = system.feature_extractors()
    probs = {b: system.predict_proba({key: [v]})[0] for b, v in stats.items()}
    assert np.abs(probs["onnx-f32"] - probs["torch"]).max() < F32_PROB
    assert np.abs(probs["onnx-int8"] - probs["torch"]).max() < INT8_PROB


def test_backend_in_cache_key_and_bad_names():
    assert "backend" not in create_extractor("whisper_stats").cache_key()  # the reference: keys as before
    int8_key = create_extractor("whisper_stats", backend="onnx-int8").cache_key()
    assert int8_key["backend"] == "onnx-int8" and int8_key["onnx_graph"] == whisper_onnx.GRAPH_VERSION
    assert create_extractor("whisper_layers", backend="onnx-f32").cache_key()["backend"] == "onnx-f32"
    with pytest.raises(ParameterError, match="speech backend"):
        create_extractor("whisper_stats", backend="cuda")
    extractors = {"k": create_extractor("whisper_stats"), "e": create_extractor("egemaps")}
    swapped = whisper_onnx.with_backend(extractors, "onnx-int8")
    assert swapped["k"].config.backend == "onnx-int8" and swapped["e"] is extractors["e"]


def test_default_backend_from_the_environment(monkeypatch):
    monkeypatch.setenv(whisper_onnx.BACKEND_ENV, "torch")
    assert whisper_onnx.default_backend() == "torch"
    monkeypatch.setenv(whisper_onnx.BACKEND_ENV, "gpu")
    with pytest.raises(ParameterError, match="speech backend"):
        whisper_onnx.default_backend()


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """An empty ONNX cache and no encoder loaded in this process."""
    monkeypatch.setenv("AVEMO_CACHE", str(tmp_path))
    monkeypatch.setattr(whisper_onnx, "_ENCODERS", {})
    return tmp_path


def test_a_corrupt_file_is_rebuilt(own_cache, clip, caplog):
    encoder = whisper_onnx.load_onnx_encoder("tiny.en", "onnx-f32")
    path = encoder.path
    assert path.is_file() and path.parent == own_cache / "onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\0" * 64
    path.write_bytes(bytes(data))
    whisper_onnx._ENCODERS.clear()
    with caplog.at_level(logging.WARNING, logger="avemo.features.audio.whisper_onnx"):
        rebuilt = whisper_onnx.load_onnx_encoder("tiny.en", "onnx-f32")
    assert rebuilt is not None and "rebuilding" in caplog.text and "checksum" in caplog.text
    reference = create_extractor("whisper_layers").process_signal(clip, 16000)
    again = create_extractor("whisper_layers", backend="onnx-f32").process_signal(clip, 16000)
    assert np.allclose(again, reference, atol=1e-3)


def test_an_unusable_backend_falls_back_to_pytorch(own_cache, clip, monkeypatch, caplog):
    def fail(*_, **__):
        raise ParameterError("the ONNX speech backend needs onnx and onnxruntime")

    monkeypatch.setattr(whisper_onnx, "build_onnx", fail)
    with caplog.at_level(logging.WARNING, logger="avemo.features.audio.whisper_onnx"):
        got = create_extractor("whisper_layers", backend="onnx-int8").process_signal(clip, 16000)
    assert "using the PyTorch encoder" in caplog.text and len(caplog.records) == 1
    assert np.array_equal(got, create_extractor("whisper_layers").process_signal(clip, 16000))


def test_long_clips_are_windowed(clip):
    from avemo.features.audio.whisper_layers import hidden_states

    long = np.tile(clip, int(np.ceil(35 * 16000 / len(clip))))[: 35 * 16000]
    states = hidden_states(long, "tiny.en", (2, 3), backend="onnx-f32")
    assert states.shape[:2] == (2, 35 * 50)
    reference = hidden_states(long, "tiny.en", (2, 3))
    assert np.allclose(states.numpy(), reference.numpy(), atol=2e-3)
