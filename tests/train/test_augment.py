"""Batch augmentation of face crops: shapes, ranges, determinism, centre crop and test-time views."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avemo.errors import ParameterError
from avemo.train.augment import ImageAugment, ImageAugmentConfig


def images(n=4, side=48):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, side, side, generator=g)


def test_train_shape_range_and_determinism():
    aug = ImageAugment(ImageAugmentConfig(crop=40))
    torch.manual_seed(1)
    a = aug.train(images())
    torch.manual_seed(1)
    b = aug.train(images())
    assert a.shape == (4, 1, 40, 40)
    assert torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1


def test_identity_settings_give_the_image():
    cfg = ImageAugmentConfig(crop=None, scale=0, rotation=0, shift=0, flip=False, brightness=0, contrast=0, erase=0)
    aug = ImageAugment(cfg)
    x = images()
    # with no randomness left the warp samples the pixel centres exactly
    torch.manual_seed(0)
    warped = aug.train(x)
    assert torch.allclose(warped, aug.eval(x), atol=1e-5)


def test_flip_mirrors():
    cfg = ImageAugmentConfig(crop=None, scale=0, rotation=0, shift=0, flip=True, brightness=0, contrast=0, erase=0)
    aug = ImageAugment(cfg)
    x = images(64)
    torch.manual_seed(0)
    out = aug.train(x)
    flipped = [torch.allclose(o, xi.flip(-1), atol=1e-5) for o, xi in zip(out, x)]
    same = [torch.allclose(o, xi, atol=1e-5) for o, xi in zip(out, x)]
    assert all(f or s for f, s in zip(flipped, same))
    assert 10 < sum(flipped) < 54


def test_tta_views():
    x = images()
    assert len(ImageAugment(ImageAugmentConfig(tta="none")).tta_views(x)) == 1
    views = ImageAugment(ImageAugmentConfig(tta="flip")).tta_views(x)
    assert len(views) == 2 and torch.equal(views[1], views[0].flip(-1))
    views = ImageAugment(ImageAugmentConfig(tta="shifts")).tta_views(x)
    assert len(views) == 6 and all(v.shape == (4, 1, 40, 40) for v in views)


def test_tta_scales_zooms_the_centre_by_the_training_scale():
    x = images()
    views = ImageAugment(ImageAugmentConfig(tta="scales", crop=40, scale=0.15)).tta_views(x)
    assert len(views) == 6 and all(v.shape == (4, 1, 40, 40) for v in views)
    assert torch.equal(views[0], x[..., 4:44, 4:44]) and torch.equal(views[1], views[0].flip(-1))
    # zoomed in: the central 34x34 (40 * 0.85) window blown up to 40; zoomed out: the central 46x46 (40 * 1.15)
    zoom_in = torch.nn.functional.interpolate(x[..., 7:41, 7:41], size=(40, 40), mode="bilinear", align_corners=False)
    assert torch.allclose(views[2], zoom_in) and torch.equal(views[3], views[2].flip(-1))
    assert not torch.allclose(views[4], views[0], atol=1e-3) and torch.equal(views[5], views[4].flip(-1))
    # a blank image stays blank at every zoom (no border or interpolation artefacts)
    grey = ImageAugment(ImageAugmentConfig(tta="scales")).tta_views(torch.full((2, 1, 48, 48), 0.5))
    assert all(torch.allclose(v, torch.tensor(0.5)) for v in grey)
    # without a zoom range, or when the zoomed-out window would pass the image edge, those views are left out
    assert len(ImageAugment(ImageAugmentConfig(tta="scales", scale=0)).tta_views(x)) == 2
    assert len(ImageAugment(ImageAugmentConfig(tta="scales", crop=None)).tta_views(x)) == 4


@pytest.mark.parametrize("bad", [{"crop": 4}, {"scale": 1.5}, {"erase": 2}, {"tta": "many"}, {"rotation": -1}])
def test_bad_config(bad):
    with pytest.raises(ParameterError):
        ImageAugmentConfig(**bad)


def test_crop_larger_than_image():
    with pytest.raises(ParameterError, match="larger"):
        ImageAugment(ImageAugmentConfig(crop=64)).eval(images())


def test_trainer_learns_images_with_augmentation():
    """One tiny image model learns bright-vs-dark blobs through the Trainer with augmentation and TTA."""
    from avemo.models import create_model
    from avemo.train.predict import predict_proba
    from avemo.train.trainer import TrainConfig, Trainer

    rng = np.random.default_rng(0)
    xs, ys = [], []
    for k in range(48):
        label = k % 2
        img = rng.integers(0, 60, (1, 24, 24)).astype(np.uint8)
        if label:
            img[:, 6:18, 6:18] += 150
        xs.append(img)
        ys.append(label)
    aug = ImageAugment(ImageAugmentConfig(crop=20, erase=0))
    model = create_model("face_cnn", 1, 2, config={"channels": [8, 16], "convs_per_block": 1})
    hist = Trainer(TrainConfig(epochs=8, batch_size=16, lr=0.01, patience=8), augment=aug).fit(
        model, xs, np.array(ys), xs, np.array(ys))
    p = predict_proba(model, xs, augment=aug, tta=True)
    assert p.shape == (48, 2)
    assert (p.argmax(1) == np.array(ys)).mean() > 0.9
    assert hist.best_val_ua > 0.9
