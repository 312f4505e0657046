"""Every registered model: forward/backward, shapes, aux handling, padding invariance, config errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from avemo.errors import ParameterError
from avemo.models import create_model, list_models
from avemo.models.layers import AttentionPooling, masked_mean, masked_mean_std, reverse_padded
from avemo.models.layers.conv import MaskedBatchNorm1d
from avemo.models.registry import model_class

INPUT_DIM, NUM_CLASSES, AUX_DIM = 12, 4, 5
KINDS = ("frames", "vector")
SPEECH = ["attention_head", "bilstm", "cnn", "cnn_lstm", "gru", "mlp", "transformer"]
MODELS = [n for n in list_models() if model_class(n).input_kind in KINDS]
FRAME_MODELS = [n for n in MODELS if model_class(n).input_kind == "frames"]


def make_input(name: str, batch: int = 3, frames: int = 17, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    if model_class(name).input_kind == "vector":
        return torch.randn(batch, INPUT_DIM, generator=g), None
    x = torch.randn(batch, frames, INPUT_DIM, generator=g)
    mask = torch.ones(batch, frames, dtype=torch.bool)
    mask[1:, frames - 5:] = False  # some padding
    return x, mask


def no_dropout(name: str) -> dict:
    return {f.name: 0.0 for f in dataclasses.fields(model_class(name).config_class) if f.name.endswith("dropout")}


def test_all_speech_models_registered():
    assert set(SPEECH) <= set(list_models())
    assert "mlp" in list_models("vector")


@pytest.mark.parametrize("aux_dim", [0, AUX_DIM])
@pytest.mark.parametrize("name", MODELS)
def test_forward_backward(name, aux_dim):
    torch.manual_seed(0)
    model = create_model(name, INPUT_DIM, NUM_CLASSES, aux_dim=aux_dim)
    x, mask = make_input(name)
    aux = torch.randn(x.shape[0], aux_dim) if aux_dim else None
    emb = model.forward_features(x, mask)
    assert emb.shape == (x.shape[0], model.embed_dim)
    logits = model.forward_head(emb, aux)
    assert logits.shape == (x.shape[0], NUM_CLASSES)
    assert torch.isfinite(logits).all()
    logits.logsumexp(-1).sum().backward()
    params = list(model.named_parameters())
    first_name, first = params[0]
    assert first.grad is not None and first.grad.abs().sum() > 0, f"no gradient reaches {first_name}"
    missing = [n for n, p in params if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"
    assert sum(p.numel() for p in model.parameters()) < 2_000_000


@pytest.mark.parametrize("name", MODELS)
def test_mask_none_means_all_real(name):
    model = create_model(name, INPUT_DIM, NUM_CLASSES).eval()
    x, _ = make_input(name)
    full = None if x.dim() == 2 else torch.ones(x.shape[:2], dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x, full), atol=1e-6, rtol=0)


@pytest.mark.parametrize("train_mode", [False, True])
@pytest.mark.parametrize("name", FRAME_MODELS)
def test_padding_does_not_change_output(name, train_mode):
    """Garbage padding under the mask gives the same logits as the unpadded sequences (eval mode; and train mode
    without dropout, where batch-norm statistics must ignore padding too)."""
    torch.manual_seed(0)
    model = create_model(name, INPUT_DIM, NUM_CLASSES, aux_dim=AUX_DIM, **(no_dropout(name) if train_mode else {}))
    model.train(train_mode)
    g = torch.Generator().manual_seed(1)
    lengths = [9, 13, 4]
    seqs = [torch.randn(n, INPUT_DIM, generator=g) for n in lengths]
    aux = torch.randn(len(seqs), AUX_DIM, generator=g)
    total = 21
    x = 50 * torch.randn(len(seqs), total, INPUT_DIM, generator=g)  # garbage everywhere ...
    mask = torch.zeros(len(seqs), total, dtype=torch.bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s  # ... but on real frames
        mask[i, : len(s)] = True
    with torch.no_grad():
        padded = model(x, mask, aux)
        if train_mode:  # batch statistics: compare with the same batch padded with zeros to its own longest
            zero = torch.zeros(len(seqs), max(lengths), INPUT_DIM)
            for i, s in enumerate(seqs):
                zero[i, : len(s)] = s
            reference = model(zero, mask[:, : max(lengths)], aux)
        else:
            reference = torch.cat([model(s[None], None, aux[i: i + 1]) for i, s in enumerate(seqs)])
    torch.testing.assert_close(padded, reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_aux_errors(name):
    x, mask = make_input(name)
    with_aux = create_model(name, INPUT_DIM, NUM_CLASSES, aux_dim=AUX_DIM)
    with pytest.raises(ParameterError, match="aux"):
        with_aux(x, mask)
    with pytest.raises(ParameterError, match="aux"):
        with_aux(x, mask, torch.zeros(x.shape[0], AUX_DIM + 1))
    without = create_model(name, INPUT_DIM, NUM_CLASSES)
    with pytest.raises(ParameterError, match="aux"):
        without(x, mask, torch.zeros(x.shape[0], AUX_DIM))


@pytest.mark.parametrize("name", MODELS)
def test_wrong_input_shape(name):
    model = create_model(name, INPUT_DIM, NUM_CLASSES)
    x, mask = make_input(name)
    with pytest.raises(ParameterError):
        model(torch.zeros(*x.shape[:-1], INPUT_DIM + 1), mask)
    if mask is not None:
        with pytest.raises(ParameterError, match="mask"):
            model(x, mask[:, :-1])
        with pytest.raises(ParameterError, match="mask"):
            model(x, mask.float())


@pytest.mark.parametrize("name", MODELS)
def test_describe_rebuilds(name):
    model = create_model(name, INPUT_DIM, NUM_CLASSES, aux_dim=AUX_DIM)
    desc = json.loads(json.dumps(model.describe()))
    again = create_model(desc["name"], desc["input_dim"], desc["num_classes"], aux_dim=desc["aux_dim"],
                         config=desc["config"])
    assert [(k, v.shape) for k, v in again.state_dict().items()] == \
        [(k, v.shape) for k, v in model.state_dict().items()]


@pytest.mark.parametrize("name", MODELS)
def test_unknown_setting_raises(name):
    with pytest.raises(ParameterError, match="no_such_setting"):
        create_model(name, INPUT_DIM, NUM_CLASSES, no_such_setting=3)


def test_unknown_model_and_bad_settings_raise():
    with pytest.raises(ParameterError, match="unknown model"):
        create_model("no_such_model", INPUT_DIM, NUM_CLASSES)
    with pytest.raises(ParameterError):
        create_model("cnn", INPUT_DIM, NUM_CLASSES, pooling="max")
    with pytest.raises(ParameterError):
        create_model("cnn", INPUT_DIM, NUM_CLASSES, kernel_size=4)
    with pytest.raises(ParameterError):
        create_model("cnn_lstm", INPUT_DIM, NUM_CLASSES, channels=[32, 32], strides=[2])
    with pytest.raises(ParameterError):
        create_model("transformer", INPUT_DIM, NUM_CLASSES, d_model=100, heads=3)
    with pytest.raises(ParameterError):
        create_model("bilstm", INPUT_DIM, 1)


@pytest.mark.parametrize("name", [n for n in SPEECH if model_class(n).input_kind == "frames"])
def test_default_sizes_on_whisper_frames(name):
    """Default configs over 384-d Whisper frames stay small enough for CPU training."""
    n = sum(p.numel() for p in create_model(name, 384, 8, aux_dim=88).parameters())
    assert n < 2_000_000
    if name == "attention_head":
        assert n < 1_000_000


def test_cnn_poolings():
    for pooling in ("mean", "mean_std", "attention"):
        model = create_model("cnn", INPUT_DIM, NUM_CLASSES, pooling=pooling).eval()
        x, mask = make_input("cnn")
        assert model(x, mask).shape == (x.shape[0], NUM_CLASSES)


def test_unidirectional_gru():
    model = create_model("gru", INPUT_DIM, NUM_CLASSES, bidirectional=False, hidden=16)
    assert model.embed_dim == 32
    x, mask = make_input("gru")
    assert model(x, mask).shape == (x.shape[0], NUM_CLASSES)


# -- building blocks ------------------------------------------------------------------------------------------

def test_masked_pooling_matches_real_frames():
    x = torch.randn(2, 6, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    torch.testing.assert_close(masked_mean(x, mask)[0], x[0, :3].mean(0))
    ms = masked_mean_std(x, mask, eps=0.0)
    torch.testing.assert_close(ms[0, 3:], x[0, :3].std(0, unbiased=False))
    torch.testing.assert_close(masked_mean(x, None), x.mean(1))


def test_attention_pooling_weights():
    pool = AttentionPooling(3, num_queries=4)
    x = torch.randn(2, 6, 3)
    mask = torch.tensor([[1, 1, 0, 0, 0, 0], [0] * 6], dtype=torch.bool)  # second row: no real frame
    w = pool.attention(x, mask)
    assert w.shape == (2, 6, 4)
    assert torch.all(w[0, 2:] == 0)
    torch.testing.assert_close(w[0].sum(0), torch.ones(4))
    assert torch.all(w[1] == 0)
    out = pool(x, mask)
    assert out.shape == (2, 12) and torch.isfinite(out).all()


def test_reverse_padded_is_self_inverse():
    x = torch.arange(10.0).reshape(2, 5, 1)
    lengths = torch.tensor([3, 5])
    r = reverse_padded(x, lengths)
    assert r[0, :, 0].tolist() == [2, 1, 0, 3, 4]
    assert r[1, :, 0].tolist() == [9, 8, 7, 6, 5]
    torch.testing.assert_close(reverse_padded(r, lengths), x)


def test_masked_batchnorm_ignores_padding_in_training():
    bn = MaskedBatchNorm1d(3).train()
    x = torch.randn(2, 3, 5)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    y = bn(x, mask)
    real = torch.cat([x[0, :, :3], x[1]], dim=1)
    expected = (real - real.mean(1, keepdim=True)) / torch.sqrt(real.var(1, unbiased=False, keepdim=True) + bn.eps)
    torch.testing.assert_close(torch.cat([y[0, :, :3], y[1]], dim=1), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(bn.running_mean, 0.1 * real.mean(1))
