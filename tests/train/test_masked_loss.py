"""Masked cross-entropy: absent classes get no gradient and no probability; equals cross-entropy when unmasked."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from avemo.data.recipes import corpus_class_mask
from avemo.errors import ParameterError
from avemo.train.losses import masked_cross_entropy, soft_target_cross_entropy


def batch(seed=0, b=6, c=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, generator=g, requires_grad=True), torch.randint(0, c, (b,), generator=g)


def test_absent_class_gets_zero_gradient():
    # TurEV has no neutral/fearful/disgust/surprised; RAVDESS has all 8.
    masks = torch.stack([torch.from_numpy(corpus_class_mask("turev")), torch.from_numpy(corpus_class_mask("ravdess"))])
    logits = torch.randn(2, 8, requires_grad=True)
    labels = torch.tensor([1, 0])  # calm (TurEV), neutral (RAVDESS)
    loss = masked_cross_entropy(logits, labels, masks)
    loss.backward()
    absent = ~masks[0]
    assert torch.all(logits.grad[0][absent] == 0)
    assert torch.all(logits.grad[0][masks[0]] != 0) and torch.all(logits.grad[1] != 0)
    # the absent classes' logits do not change the loss at all
    bumped = logits.detach().clone()
    bumped[0, absent] += 100.0
    assert torch.allclose(masked_cross_entropy(bumped, labels, masks), loss.detach())


def test_all_true_mask_equals_cross_entropy():
    logits, labels = batch()
    mask = torch.ones_like(logits, dtype=torch.bool)
    assert torch.allclose(masked_cross_entropy(logits, labels, mask), F.cross_entropy(logits, labels))
    weight = torch.linspace(0.5, 2.0, 8)
    assert torch.allclose(masked_cross_entropy(logits, labels, mask, weight),
                          F.cross_entropy(logits, labels, weight=weight))


def test_masked_equals_cross_entropy_over_the_present_classes():
    logits, _ = batch(1, b=3)
    mask = torch.zeros(3, 8, dtype=torch.bool)
    mask[:, [0, 2, 5]] = True
    labels = torch.tensor([2, 0, 5])
    want = F.cross_entropy(logits[:, [0, 2, 5]], torch.tensor([1, 0, 2]))
    assert torch.allclose(masked_cross_entropy(logits, labels, mask), want)


def test_label_outside_its_mask_raises():
    logits, _ = batch(b=2)
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1, 3] = False
    with pytest.raises(ParameterError, match="example 1 has label 3, which its class_mask excludes"):
        masked_cross_entropy(logits, torch.tensor([0, 3]), mask)
    with pytest.raises(ParameterError, match="at least one allowed class"):
        masked_cross_entropy(logits, torch.tensor([0, 1]), torch.zeros(2, 8, dtype=torch.bool))
    with pytest.raises(ParameterError, match="class_mask must be"):
        masked_cross_entropy(logits, torch.tensor([0, 1]), torch.ones(2, 7, dtype=torch.bool))


def test_soft_target_one_hot_equals_cross_entropy():
    logits, labels = batch()
    target = F.one_hot(labels, 8).float()
    assert torch.allclose(soft_target_cross_entropy(logits, target), F.cross_entropy(logits, labels))
    mask = torch.ones(6, 8, dtype=torch.bool)
    mask[:, 7] = False
    target = torch.full((6, 8), 1 / 7)
    target[:, 7] = 0
    loss = soft_target_cross_entropy(logits, target, mask)
    loss.backward()
    assert torch.isfinite(loss) and torch.all(logits.grad[:, 7] == 0)
    with pytest.raises(ParameterError):
        soft_target_cross_entropy(logits, torch.full((6, 8), 0.5))
