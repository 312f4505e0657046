"""Training on target distributions (FER+ votes) and distillation from a teacher ensemble, on tiny synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from avemo.errors import ParameterError
from avemo.models import create_model
from avemo.train import TrainConfig, fit, predict_proba
from avemo.train.distill import DistillConfig, distill, distillation_targets, ensemble_soft_targets, mix_targets
from avemo.train.losses import soft_target_cross_entropy


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_one_hot_vote_equals_cross_entropy_on_the_label(smoothing, weighted):
    torch.manual_seed(0)
    logits = torch.randn(12, 8, requires_grad=True)
    labels = torch.randint(0, 8, (12,))
    weight = torch.rand(8) + 0.2 if weighted else None
    soft = soft_target_cross_entropy(logits, F.one_hot(labels, 8).float(), weight=weight, label_smoothing=smoothing)
    hard = F.cross_entropy(logits, labels, weight=weight, label_smoothing=smoothing)
    assert soft.item() == pytest.approx(hard.item(), rel=1e-6)
    g_soft, = torch.autograd.grad(soft, logits)
    g_hard, = torch.autograd.grad(hard, logits)
    assert torch.allclose(g_soft, g_hard, atol=1e-7)


def test_vote_distribution_loss_values():
    # uniform logits: every distribution costs log C
    assert float(soft_target_cross_entropy(torch.zeros(3, 8), torch.full((3, 8), 1 / 8))) == pytest.approx(np.log(8))
    # a 6/4 vote split: -0.6 log p0 - 0.4 log p1, lowest when the prediction is the vote split itself
    votes = torch.tensor([[0.6, 0.4, 0, 0, 0, 0, 0, 0]])
    at_votes = float(soft_target_cross_entropy(torch.log(votes.clamp_min(1e-9)), votes))
    assert at_votes == pytest.approx(-(0.6 * np.log(0.6) + 0.4 * np.log(0.4)), rel=1e-5)
    for other in ([0.9, 0.1], [0.5, 0.5], [0.3, 0.7]):
        p = torch.tensor([other + [0] * 6]).clamp_min(1e-9)
        assert float(soft_target_cross_entropy(torch.log(p), votes)) > at_votes
    with pytest.raises(ParameterError, match="sum to 1"):
        soft_target_cross_entropy(torch.zeros(1, 8), torch.tensor([[0.5] * 8]))
    with pytest.raises(ParameterError, match="label_smoothing"):
        soft_target_cross_entropy(torch.zeros(1, 8), votes, label_smoothing=1.0)


def blobs(n: int, seed: int, dim: int = 4, classes: int = 3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = np.eye(classes, dim) * 2.0
    x = (centres[y] + rng.normal(0, 0.7, (n, dim))).astype(np.float32)
    return list(x), y


def test_trainer_one_hot_targets_train_the_same_weights_as_labels():
    xs, y = blobs(48, 0)
    config = TrainConfig(epochs=3, batch_size=16, lr=0.01, label_smoothing=0.1, mixup=0.4, class_balanced=True)
    weights = []
    for targets in (None, np.eye(3, dtype=np.float32)[y]):
        torch.manual_seed(0)
        model = create_model("mlp", 4, 3)
        fit(model, xs, y, config=config, train_targets=targets)
        weights.append(model.state_dict())
    for key in weights[0]:
        assert torch.allclose(weights[0][key], weights[1][key], atol=1e-6), key
    # real vote distributions change the result, and bad ones are refused
    torch.manual_seed(0)
    model = create_model("mlp", 4, 3)
    soft = np.full((48, 3), 1 / 3, np.float32)
    fit(model, xs, y, config=config, train_targets=soft)
    assert any(not torch.allclose(v, weights[0][k]) for k, v in model.state_dict().items())
    with pytest.raises(ParameterError, match="not a distribution"):
        fit(create_model("mlp", 4, 3), xs, y, config=config, train_targets=soft * 2)
    with pytest.raises(ParameterError, match=r"\(48, 3\)"):
        fit(create_model("mlp", 4, 3), xs, y, config=config, train_targets=soft[:, :2])


def test_ensemble_soft_targets_and_mixing():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    assert np.allclose(ensemble_soft_targets([p], 1.0), p, atol=1e-6)
    q = np.array([[0.1, 0.8, 0.1], [0.2, 0.2, 0.6]], np.float32)
    assert np.allclose(ensemble_soft_targets([p, q], 1.0), (p + q) / 2, atol=1e-6)
    hot = ensemble_soft_targets([p], 4.0)  # a higher temperature flattens, keeping the order
    assert hot[0].max() < p[0].max() and hot[0].argmax() == 0 and np.allclose(hot.sum(1), 1)
    votes = np.array([[0, 1, 0], [0, 0, 1]], np.float32)
    assert np.allclose(mix_targets(p, votes, 0.25), 0.25 * p + 0.75 * votes, atol=1e-6)
    assert np.allclose(distillation_targets([p], votes, DistillConfig(1.0, 1.0)), p, atol=1e-6)
    with pytest.raises(ParameterError):
        ensemble_soft_targets([p, q[:, :2]])
    with pytest.raises(ParameterError):
        DistillConfig(temperature=0)


def kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.mean(np.sum(p * (np.log(p + 1e-9) - np.log(q + 1e-9)), axis=1)))


def test_distillation_moves_the_student_toward_the_teacher_ensemble():
    """Two 'teachers' that hold soft, deliberately unusual beliefs (class 0 looks half like class 1): the student,
    trained on their tempered mean mixed with one-hot votes, loses less each epoch and ends much closer to the
    teachers' distribution than it started."""
    xs, y = blobs(60, 1)
    val_x, val_y = blobs(30, 2)
    base = np.eye(3, dtype=np.float32)[y] * 0.6 + 0.4 / 3
    base[y == 0] = [0.45, 0.45, 0.10]
    rng = np.random.default_rng(3)
    members = [np.clip(base + rng.normal(0, 0.02, base.shape), 0.01, 1) for _ in range(2)]
    members = [m / m.sum(1, keepdims=True) for m in members]
    dc = DistillConfig(temperature=1.0, teacher_weight=0.8)
    teacher = distillation_targets(members, np.eye(3, dtype=np.float32)[y], dc)

    torch.manual_seed(0)
    student = create_model("mlp", 4, 3)
    before = kl(teacher, predict_proba(student, xs))
    history = distill(student, xs, y, members, np.eye(3, dtype=np.float32)[y], val_x, val_y,
                      config=TrainConfig(epochs=25, batch_size=20, lr=0.02, class_balanced=False, patience=25,
                                         scheduler="none"), distill_config=dc)
    after = kl(teacher, predict_proba(student, xs))
    assert history.train_loss[-1] < history.train_loss[0] - 0.05
    assert after < 0.5 * before
    # the student learnt the teachers' doubt about class 0, not the one-hot labels
    p0 = predict_proba(student, [x for x, label in zip(xs, y) if label == 0]).mean(0)
    assert 0.2 < p0[1] < 0.6
