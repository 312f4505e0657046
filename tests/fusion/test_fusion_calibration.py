"""Temperature scaling, ECE, reliability diagram, abstention."""

import numpy as np
import pytest
from scipy.special import softmax

from avemo.errors import ParameterError
from avemo.train.calibration import (UNCERTAIN, TemperatureScaler, apply_abstain, expected_calibration_error,
                                     negative_log_likelihood, reliability_diagram)


def _calibrated_logits(n, c, seed):
    """Logits whose softmax is the true label distribution (labels drawn from it): calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, c))
    p = softmax(logits, axis=1)
    y = np.array([rng.choice(c, p=row) for row in p])
    return logits, y


def test_ece_small_for_calibrated_data():
    logits, y = _calibrated_logits(20000, 5, 0)
    assert expected_calibration_error(softmax(logits, axis=1), y) < 0.02


def test_temperature_scaling_fixes_overconfidence():
    logits, y = _calibrated_logits(4000, 6, 1)
    over = 3.0 * logits  # over-confident
    val, test = slice(0, 2000), slice(2000, None)
    ece_before = expected_calibration_error(softmax(over[test], axis=1), y[test])
    scaler = TemperatureScaler().fit(over[val], y[val])
    assert scaler.temperature_ == pytest.approx(3.0, rel=0.15)
    ece_after = expected_calibration_error(scaler.transform(over[test]), y[test])
    assert ece_after < ece_before / 2
    assert scaler.nll_after_ < scaler.nll_before_
    # argmax unchanged
    np.testing.assert_array_equal(scaler.transform(over[test]).argmax(1), over[test].argmax(1))
    assert negative_log_likelihood(over[val], y[val], scaler.temperature_) == pytest.approx(scaler.nll_after_)


def test_scaler_errors():
    with pytest.raises(ParameterError, match="not fitted"):
        TemperatureScaler().transform(np.zeros((2, 3)))
    with pytest.raises(ParameterError):
        TemperatureScaler().fit(np.zeros((3, 3)), [0, 1, 5])
    with pytest.raises(ParameterError):
        expected_calibration_error(np.array([[2.0, -1.0]]), [0])  # logits, not probabilities


def test_reliability_diagram_bins():
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.55, 0.45]])
    y = np.array([0, 1, 0, 0])
    rd = reliability_diagram(probs, y, n_bins=10)
    assert rd.count.sum() == 4 and rd.count[9] == 2 and rd.count[5] == 2
    assert rd.accuracy[9] == pytest.approx(0.5) and rd.confidence[9] == pytest.approx(0.95)
    assert rd.ece == pytest.approx((2 * 0.45 + 2 * 0.45) / 4)
    assert rd.to_dict()["accuracy"][0] is None


def test_apply_abstain():
    probs = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.8]])
    assert apply_abstain(probs, 0.6, ["happy", "sad"]) == ["happy", UNCERTAIN, "sad"]
    assert apply_abstain(probs[0], 0.5) == ["0"]
    with pytest.raises(ParameterError):
        apply_abstain(probs, 1.5)
