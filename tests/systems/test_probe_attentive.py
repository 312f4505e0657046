"""The attentive global head: it finds the few frames that carry the class among many (its gain over plain frame
statistics on real corpora: ``reports/cross-corpus/head-check``), is deterministic, reads clips whole whatever their
length, and refuses bad input with a message."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.errors import ParameterError
from avemo.systems.probe_attentive import PARAMETERS, WINDOW, attentive_logits, fit_attentive

WIDTH, CLASSES = 16, 3


def bursts(n_per_class=60, seed=0):
    """Clips of 20-90 noise frames in which 3 frames (somewhere) carry their class's direction plus a marker that
    says "look here": the clip's mean and std over frames hardly show the class, its few marked frames do."""
    directions = np.random.default_rng(42).normal(size=(CLASSES, WIDTH))  # the same classes in every draw
    rng = np.random.default_rng(seed)
    directions[:, 0] = 0.0
    clips, y = [], []
    for k in range(CLASSES):
        for _ in range(n_per_class):
            frames = rng.normal(size=(int(rng.integers(20, 90)), WIDTH))
            at = rng.integers(0, min(len(frames), WINDOW) - 3)
            frames[at:at + 3] += 2.0 * directions[k]
            frames[at:at + 3, 0] += 6.0  # the marker
            clips.append(frames.astype(np.float32))
            y.append(k)
    return clips, np.array(y)


def test_attention_finds_the_few_frames_that_carry_the_class():
    clips, y = bursts()
    test_clips, test_y = bursts(seed=1)
    mask, w = np.ones((len(y), CLASSES), bool), np.ones(len(y))
    head = fit_attentive(clips, y, mask, w, epochs=100)
    assert set(head) == set(PARAMETERS)
    accuracy = (attentive_logits(test_clips, head).argmax(1) == test_y).mean()
    assert accuracy > 0.8, accuracy
    again = fit_attentive(clips, y, mask, w, epochs=100)
    assert all(np.array_equal(head[k], again[k]) for k in PARAMETERS)


def test_clips_are_read_whole_in_any_order():
    clips, y = bursts(n_per_class=10)
    head = fit_attentive(clips, y, np.ones((len(y), CLASSES), bool), np.ones(len(y)), epochs=2)
    logits = attentive_logits(clips, head)
    assert logits.shape == (len(clips), CLASSES) and np.isfinite(logits).all()
    one_by_one = np.concatenate([attentive_logits([c], head) for c in clips[:5]])
    np.testing.assert_allclose(logits[:5], one_by_one, rtol=1e-4, atol=1e-4)
    long = np.concatenate([clips[0]] * 5)  # far longer than the training window
    assert np.isfinite(attentive_logits([long, clips[1][:1]], head)).all()


def test_masked_classes_and_bad_input():
    clips, y = bursts(n_per_class=5)
    mask = np.ones((len(y), CLASSES), bool)
    w = np.ones(len(y))
    narrow = mask.copy()
    narrow[y == 2, 2] = False
    with pytest.raises(ParameterError, match="outside the classes its mask allows"):
        fit_attentive(clips, y, narrow, w, epochs=1)
    with pytest.raises(ParameterError, match="no clips"):
        fit_attentive([], y[:0], mask[:0], w[:0])
    with pytest.raises(ParameterError, match="one width"):
        fit_attentive([clips[0], clips[1][:, :4]], y[:2], mask[:2], w[:2], epochs=1)
    with pytest.raises(ParameterError, match="one width"):
        fit_attentive([clips[0], clips[1][:0]], y[:2], mask[:2], w[:2], epochs=1)
    head = fit_attentive(clips, y, mask, w, epochs=1)
    with pytest.raises(ParameterError, match="the head reads 16"):
        attentive_logits([clips[0][:, :8]], head)
