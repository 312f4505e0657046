"""Late fusion: weights chosen on validation data, renormalisation over present modalities."""

import numpy as np
import pytest
from scipy.special import softmax

from avemo.errors import ParameterError
from avemo.models.fusion import weighted_late_fusion
from avemo.train.late_fusion import fit_late_fusion_weights, simplex_grid


def _problem(n=600, c=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    good = np.eye(c)[y] * 2.5 + rng.normal(size=(n, c))  # informative logits
    noise = rng.normal(scale=2.0, size=(n, c))  # pure noise
    return softmax(good, axis=1), softmax(noise, axis=1), y


@pytest.mark.parametrize("criterion", ["ua", "nll"])
def test_noise_modality_gets_low_weight(criterion):
    good, noise, y = _problem()
    w = fit_late_fusion_weights({"speech": good, "face": noise}, y, criterion=criterion, step=0.05)
    assert set(w) == {"speech", "face"} and sum(w.values()) == pytest.approx(1.0)
    assert w["speech"] >= 0.8
    w_list = fit_late_fusion_weights([noise, good], y, criterion=criterion)
    assert w_list[1] >= 0.8


def test_weighted_late_fusion_present_mask():
    a = np.array([[0.9, 0.1], [0.9, 0.1]])
    b = np.array([[0.2, 0.8], [0.2, 0.8]])
    present = np.array([[True, True], [False, True]])
    out = weighted_late_fusion([a, b], [0.5, 0.5], present)
    np.testing.assert_allclose(out[0], [0.55, 0.45])
    np.testing.assert_allclose(out[1], b[1])  # only b present
    log = weighted_late_fusion([a, b], [0.5, 0.5], method="log")
    np.testing.assert_allclose(log.sum(axis=1), 1.0)
    with pytest.raises(ParameterError):
        weighted_late_fusion([a, b], [0.5, -0.5])
    with pytest.raises(ParameterError):
        weighted_late_fusion([a, b[:, :1]], [0.5, 0.5])


def test_simplex_grid():
    g = simplex_grid(3, 0.25)
    assert len(g) == 15 and np.allclose(g.sum(axis=1), 1.0) and (g >= 0).all()
