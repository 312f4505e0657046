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


def with_frames(inputs, y, seed=0, width=8):
    """``inputs`` with frames in which each clip's class shows in every frame (a strong signal: these tests are of
    the system's wiring, not of what attention finds)."""
    from avemo.systems.probe_inputs import CorpusInputs

    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(7).normal(size=(8, width)) * 2.0
    frames = [(rng.normal(size=(int(rng.integers(5, 30)), width)) + centres[k]).astype(np.float32) for k in y]
    return CorpusInputs.create(inputs.x, inputs.corpus, inputs.speaker, inputs.layers, frames)


def test_a_probe_with_an_attentive_global_head_fits_predicts_round_trips_and_refuses_missing_frames(tmp_path):
    from avemo.systems.probe_inputs import FEATURE, FRAMES
    from avemo.systems.speech_probe import SpeechProbeSystem
    from tests.systems.test_speech_probe import synthetic

    base, y = synthetic(per_class=6)
    inputs = with_frames(base, y)
    index = np.array([int(s.split(":")[1]) for s in inputs.speaker])
    train, val = np.flatnonzero(index != 0), np.flatnonzero(index == 0)
    system = SpeechProbeSystem(model="tiny.en", layer_grid=[(1,), (0, 1, 2)], l2_grid=[1e-2], losses=["masked"],
                               selection="loco", abstain_coverage=0.8, global_heads=["attentive"])
    assert set(system.feature_extractors()) == {FEATURE, FRAMES}
    system.fit(inputs, y, (train, val))
    head = system.heads_["global"]
    assert head["kind"] == "attentive" and head["layers"] == () and "abstain_below" in head
    assert system.info["selection"]["global"]["chosen"]["head"] == "attentive"
    assert "kind" not in system.heads_["adapted"]  # the adapted heads stay linear, on the statistics
    assert system.describe()["description"].startswith("attentive probe")
    probs = system.predict_proba(inputs)
    assert (probs.argmax(1) == y).mean() > 0.6
    as_dict = {FEATURE: list(inputs.columns(system.layers)), FRAMES: list(inputs.frames)}
    np.testing.assert_allclose(system.predict_proba(as_dict), probs, atol=1e-6)
    back = SpeechProbeSystem.load(system.save(tmp_path / "probe"))
    assert back.global_heads == ["attentive"] and back.fit_report() == system.fit_report()
    np.testing.assert_allclose(back.predict_proba(inputs), probs, atol=1e-6)
    np.testing.assert_allclose(back.predict_proba(inputs, adapt=True), system.predict_proba(inputs, adapt=True),
                               atol=1e-6)
    with pytest.raises(ParameterError, match="whisper_frames"):
        back.predict_proba({FEATURE: as_dict[FEATURE]})
    # a training copy without frames (a degraded copy) still trains the adapted heads; validation rows need frames
    copies = np.empty(len(inputs), dtype=object)
    from avemo.shipping.corpora import stack_inputs
    from avemo.systems.probe_inputs import CorpusInputs

    both = stack_inputs([inputs, CorpusInputs(inputs.x + 0.1, inputs.corpus, inputs.speaker, inputs.layers, None)])
    assert both.has_frames().sum() == len(inputs) and both.frames[len(inputs)] is None and copies[0] is None
    fresh = SpeechProbeSystem(model="tiny.en", layer_grid=[(1,)], l2_grid=[1e-2], losses=["masked"],
                              selection="loco", global_heads=["attentive"])
    fresh.fit(both, np.concatenate([y, y]), (np.concatenate([train, train + len(inputs)]), val))
    with pytest.raises(ParameterError, match="validation recording"):
        fresh.fit(both, np.concatenate([y, y]), (train, val + len(inputs)))


def test_an_attentive_head_stands_alone_and_needs_the_nested_rule():
    from avemo.systems.speech_probe import SpeechProbeSystem

    with pytest.raises(ParameterError, match="alone"):
        SpeechProbeSystem(selection="loco", global_heads=["linear", "attentive"])
    with pytest.raises(ParameterError, match="selection='loco'"):
        SpeechProbeSystem(global_heads=["attentive"])


def test_the_copies_frames_train_the_attentive_head_only_when_asked(tmp_path):
    """``attentive_copies``: the degraded copies' frames train the attentive head; without it they are set aside
    (the fit and its key are those of copies without frames, so fits kept before the setting stay valid)."""
    from avemo.shipping.corpora import stack_inputs
    from avemo.systems.probe_inputs import CorpusInputs
    from avemo.systems.speech_probe import SpeechProbeSystem
    from tests.systems.test_speech_probe import synthetic

    base, y = synthetic(per_class=4)
    inputs = with_frames(base, y)
    index = np.array([int(s.split(":")[1]) for s in inputs.speaker])
    train, val = np.flatnonzero(index != 0), np.flatnonzero(index == 0)
    copy_speakers = np.array([f"{s}#random" for s in inputs.speaker], dtype=object)
    noisy = [f + np.float32(0.5) for f in inputs.frames]
    with_copy_frames = stack_inputs([inputs, CorpusInputs.create(inputs.x + 0.1, inputs.corpus, copy_speakers,
                                                                 inputs.layers, noisy)])
    without = stack_inputs([inputs, CorpusInputs(inputs.x + 0.1, inputs.corpus, copy_speakers, inputs.layers, None)])
    assert with_copy_frames.is_copy().sum() == len(inputs) and not without.without_copy_frames().has_frames()[
        len(inputs):].any()
    yy, split = np.concatenate([y, y]), (np.concatenate([train, train + len(inputs)]), val)

    def system(**kw):
        return SpeechProbeSystem(model="tiny.en", layer_grid=[(1,)], l2_grid=[1e-2], losses=["masked"],
                                 selection="loco", global_heads=["attentive"], **kw)

    clean, aside, augmented = system(), system(), system(attentive_copies=True)
    assert clean.fit_key(without, yy, *split) == aside.fit_key(with_copy_frames.without_copy_frames(), yy, *split)
    assert augmented.fit_key(with_copy_frames, yy, *split) != clean.fit_key(with_copy_frames, yy, *split)
    clean.fit(without, yy, split)
    aside.fit(with_copy_frames, yy, split)
    augmented.fit(with_copy_frames, yy, split)
    np.testing.assert_array_equal(aside.heads_["global"]["frame_mean"], clean.heads_["global"]["frame_mean"])
    assert not np.allclose(augmented.heads_["global"]["frame_mean"], clean.heads_["global"]["frame_mean"])
    back = SpeechProbeSystem.load(augmented.save(tmp_path / "augmented"))
    assert back.attentive_copies and not SpeechProbeSystem.load(clean.save(tmp_path / "clean")).attentive_copies
    with pytest.raises(ParameterError, match="attentive_copies"):
        SpeechProbeSystem(selection="loco", global_heads=["linear", "mlp"], attentive_copies=True)
