"""Every registered fusion model: forward/backward with both modalities, with one missing, and edge cases."""

import math

import pytest
import torch

from avemo.errors import ParameterError
from avemo.models import create_model, list_models
from avemo.models.fusion import modality_dropout

DIMS = {"speech": 12, "face": 7}
NUM_CLASSES = 5
FUSION_MODELS = ["fusion_attention", "fusion_concat", "fusion_decision", "fusion_transformer"]


def _batch(b=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"speech": torch.randn(b, DIMS["speech"], generator=g), "face": torch.randn(b, DIMS["face"], generator=g)}


def test_all_fusion_models_registered():
    assert list_models("multimodal") == FUSION_MODELS


@pytest.mark.parametrize("name", FUSION_MODELS)
def test_forward_backward_both_present(name):
    torch.manual_seed(0)
    model = create_model(name, DIMS, NUM_CLASSES)
    x = _batch()
    out = model(x)
    assert out.shape == (6, NUM_CLASSES)
    assert torch.isfinite(out).all()
    emb = model.forward_features(x)
    assert emb.shape == (6, model.embed_dim)
    out.logsumexp(dim=1).sum().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values() if g is not None)
    # both modalities' first layers receive gradient
    for m in DIMS:
        mod_grads = [g for n, g in grads.items() if m in n and g is not None]
        assert mod_grads and any(g.abs().sum() > 0 for g in mod_grads), m


@pytest.mark.parametrize("name", FUSION_MODELS)
@pytest.mark.parametrize("absent", ["speech", "face"])
def test_one_modality_missing(name, absent):
    torch.manual_seed(0)
    model = create_model(name, DIMS, NUM_CLASSES)
    x = _batch()
    x[absent][:3] = float("nan")  # garbage in the absent rows must not leak
    present = {m: torch.ones(6, dtype=torch.bool) for m in DIMS}
    present[absent][:3] = False
    out = model(x, present)
    assert out.shape == (6, NUM_CLASSES)
    assert torch.isfinite(out).all()
    out.sum().backward()
    for n, p in model.named_parameters():
        if p.grad is not None:
            assert torch.isfinite(p.grad).all(), n
    # the absent modality's values do not influence the rows where it is absent
    model.eval()
    x2 = {k: v.clone() for k, v in x.items()}
    x2[absent][:3] = 1000.0
    with torch.no_grad():
        torch.testing.assert_close(model(x, present)[:3], model(x2, present)[:3])


@pytest.mark.parametrize("name", FUSION_MODELS)
def test_modality_missing_from_inputs_dict(name):
    model = create_model(name, DIMS, NUM_CLASSES).eval()
    with torch.no_grad():
        out = model({"speech": torch.randn(4, DIMS["speech"])})
    assert out.shape == (4, NUM_CLASSES) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", FUSION_MODELS)
def test_describe_round_trip_and_bad_inputs(name):
    model = create_model(name, DIMS, NUM_CLASSES)
    d = model.describe()
    assert d["input_dim"] == DIMS
    rebuilt = create_model(d["name"], d["input_dim"], d["num_classes"], config=d["config"])
    assert type(rebuilt) is type(model)
    with pytest.raises(ParameterError):
        model({"speech": torch.randn(2, 3)})  # wrong dim
    with pytest.raises(ParameterError):
        model({"audio": torch.randn(2, 12)})  # unknown modality
    with pytest.raises(ParameterError):  # an example with nothing present
        model(_batch(2), {"speech": torch.tensor([True, False]), "face": torch.tensor([True, False])})
    with pytest.raises(ParameterError):
        create_model(name, 12, NUM_CLASSES)  # not a dict


def test_attention_weights_exposed_and_masked():
    model = create_model("fusion_attention", DIMS, NUM_CLASSES).eval()
    present = {"speech": torch.tensor([True, True, False]), "face": torch.tensor([True, False, True])}
    with torch.no_grad():
        model(_batch(3), present)
    w = model.last_weights
    assert w.shape == (3, 2)
    torch.testing.assert_close(w.sum(dim=1), torch.ones(3))
    assert w[1, 1] == 0 and w[2, 0] == 0
    assert set(model.last_weights_dict()) == set(DIMS)


def test_decision_fusion_uses_present_modality_only():
    model = create_model("fusion_decision", DIMS, NUM_CLASSES).eval()
    x = _batch(4)
    only_speech = {"speech": torch.ones(4, dtype=torch.bool), "face": torch.zeros(4, dtype=torch.bool)}
    with torch.no_grad():
        fused = model(x, only_speech)
        logits, _ = model.forward_modalities(x, only_speech)
    torch.testing.assert_close(fused, torch.log_softmax(logits["speech"], dim=-1))
    assert math.isclose(sum(model.modality_weights().values()), 1.0, rel_tol=1e-6)


def test_modality_dropout_never_drops_everything():
    g = torch.Generator().manual_seed(0)
    n = 2000
    present = {"speech": torch.ones(n, dtype=torch.bool), "face": torch.rand(n, generator=g) > 0.3,
               "text": torch.ones(n, dtype=torch.bool)}
    out = modality_dropout(present, 0.9, g)
    stacked = torch.stack(list(out.values()), dim=1)
    assert stacked.any(dim=1).all()
    assert not (out["face"] & ~present["face"]).any()  # absent stays absent
    frac = (~modality_dropout(present, 0.2, g)["speech"]).float().mean()
    assert 0.15 < frac < 0.25  # dropped at a rate near p (slightly less: an all-dropped row keeps one)
    same = modality_dropout(present, 0.0, g)
    assert all(torch.equal(same[k], present[k]) for k in present)
    with pytest.raises(ParameterError):
        modality_dropout(present, 1.5)


def test_modality_dropout_per_modality_rates():
    g = torch.Generator().manual_seed(1)
    n = 4000
    present = {"speech": torch.ones(n, dtype=torch.bool), "face": torch.ones(n, dtype=torch.bool)}
    out = modality_dropout(present, {"speech": 0.5, "face": 0.1}, g)
    assert 0.4 < float((~out["speech"]).float().mean()) < 0.5  # ~0.5 less the rows where both were drawn
    assert 0.05 < float((~out["face"]).float().mean()) < 0.1
    assert (out["speech"] | out["face"]).all()
    kept = modality_dropout(present, {"speech": 0.3}, g)  # a modality not named is never dropped
    assert kept["face"].all() and not kept["speech"].all()
    with pytest.raises(ParameterError, match="face"):
        modality_dropout(present, {"face": -0.1})
