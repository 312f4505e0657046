"""One short training run: the fusion trainer learns a separable problem and survives missing modalities."""

import numpy as np
import pytest
import torch

from avemo.errors import ParameterError
from avemo.train.fusion_trainer import (FusionTrainConfig, MultimodalArrays, class_weights, fit_fusion,
                                        predict_logits)


def _data(n=240, c=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    speech = rng.normal(size=(c, 8))[y] * 2 + rng.normal(size=(n, 8))
    face = rng.normal(size=(n, 4))  # noise
    face_present = rng.random(n) > 0.3
    face[~face_present] = np.nan  # absent entries may hold NaN
    return MultimodalArrays.create({"speech": speech, "face": face}, y, {"face": face_present})


@pytest.mark.parametrize("name", ["fusion_concat", "fusion_attention"])
def test_trainer_learns_and_returns_best(name):
    data = _data()
    train, val = data.subset(np.arange(160)), data.subset(np.arange(160, 240))
    cfg = FusionTrainConfig(epochs=10, patience=5, batch_size=32, seed=0)
    res = fit_fusion(name, train, val, 3, train_config=cfg)
    assert res.best_val_ua > 0.8
    assert 1 <= res.best_epoch <= len(res.history) <= 10
    assert not res.model.training
    logits = predict_logits(res.model, val)
    assert logits.shape == (80, 3) and torch.isfinite(logits).all()
    if name == "fusion_attention":  # seeded: reproducible
        again = fit_fusion(name, train, val, 3, train_config=cfg)
        assert again.best_val_ua == pytest.approx(res.best_val_ua)
        assert again.history == res.history


def test_class_weights_and_validation():
    w = class_weights(torch.tensor([0, 0, 0, 1]), 3)
    assert w[0] == pytest.approx(4 / 6) and w[1] == pytest.approx(2.0) and w[2] == 0
    with pytest.raises(ParameterError):
        MultimodalArrays.create({"speech": np.zeros((3, 2))}, [0, 1])
    with pytest.raises(ParameterError, match="NaN"):
        MultimodalArrays.create({"speech": np.full((2, 2), np.nan)}, [0, 1])
    with pytest.raises(ParameterError, match="no modality"):
        MultimodalArrays.create({"speech": np.zeros((2, 2))}, [0, 1], {"speech": [True, False]})


def test_train_config_modality_dropout_rate_or_per_modality_rates():
    FusionTrainConfig(modality_dropout={"speech": 0.5, "face": 0.2}).validate()
    for bad in (1.0, -0.1, {"speech": 1.0}, {"face": "high"}):
        with pytest.raises(ParameterError, match="modality_dropout"):
            FusionTrainConfig(modality_dropout=bad).validate()
