"""Training copies of the speech in the audio-visual late fusion: the global speech regression trains on the clips
and on copies of them (e.g. each clip played faster or slower, as another voice); the AU regression and the adapted
head never see the copies; the inputs keep them through subsetting; bad copies and features without copies fail
with a message."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.errors import ParameterError
from avemo.labels import label_set
from avemo.shipping.av_corpus import copies_note, load_av_corpus, suite_config
from avemo.systems.av_choice import fit_regressions
from avemo.systems.av_fusion import AVLateFusionSystem
from avemo.systems.inputs import AVInputs
from corpora import write_ravdess_av

CLASSES = label_set("ravdess8")
FIT = {"max_iter": 200, "tol": 1e-4}


def _data(n_people=8, per_class=3, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(CLASSES), dim))
    n = n_people * per_class * len(CLASSES)
    y = np.tile(np.repeat(np.arange(len(CLASSES)), per_class), n_people)
    people = np.repeat([f"p{p}" for p in range(n_people)], per_class * len(CLASSES)).astype(object)
    xs = (centres[y] + rng.normal(size=(n, dim))).astype(np.float32)
    xa = (rng.uniform(0.5, 2.0, size=(len(CLASSES), 35))[y] + 0.3 * rng.normal(size=(n, 35))).astype(np.float32)
    copy = (xs * 1.1 + 0.5 + 0.2 * rng.normal(size=xs.shape)).astype(np.float32)  # "another voice"
    return xs, xa, y, people, copy


def test_the_speech_regression_trains_on_the_rows_and_their_copies_and_the_au_regression_on_the_rows():
    xs, xa, y, _, copy = _data()
    rows = np.arange(0, len(y), 2)
    present = np.ones(len(y), bool)
    with_copy = fit_regressions(xs, xa, present, y, rows, len(CLASSES), 0.05, [0.1], FIT, FIT, [copy])
    # the same as fitting on the rows and then their copies, stacked
    stacked = np.concatenate([xs[rows], copy[rows]])
    both = np.concatenate([rows, rows + len(y)])
    explicit = fit_regressions(np.concatenate([xs, copy]), np.concatenate([xa, xa]),
                               np.ones(2 * len(y), bool), np.concatenate([y, y]), both, len(CLASSES), 0.05, [0.1],
                               FIT, FIT)
    assert np.allclose(with_copy.speech_w[0], explicit.speech_w[0], atol=1e-5)
    assert np.allclose(with_copy.speech_scaler.mean_, stacked.mean(0), atol=1e-5)
    plain = fit_regressions(xs, xa, present, y, rows, len(CLASSES), 0.05, [0.1], FIT, FIT)
    assert not np.allclose(plain.speech_w[0], with_copy.speech_w[0])
    assert np.allclose(plain.au_ws[0.1][0], with_copy.au_ws[0.1][0])  # AUs: the rows alone


def test_inputs_keep_their_copies_through_subsetting_and_drop_them_when_standardised_per_person():
    xs, xa, y, people, copy = _data()
    inputs = AVInputs.create(xs, xa, person=people).with_speech_copies([copy])
    part = inputs.take([3, 1])
    assert len(part.speech_copies) == 1 and np.array_equal(part.speech_copies[0], copy[[3, 1]])
    assert inputs.with_people(people[::-1]).speech_copies[0] is inputs.speech_copies[0]
    assert inputs.per_person()[0].speech_copies == ()
    with pytest.raises(ParameterError, match="each speech copy must be"):
        inputs.with_speech_copies([copy[:5]])


def test_the_system_trains_its_global_speech_regression_on_the_copies_but_not_its_adapted_head(tmp_path):
    xs, xa, y, people, copy = _data()
    train, val = np.flatnonzero(~np.isin(people, ["p6", "p7"])), np.flatnonzero(np.isin(people, ["p6", "p7"]))
    inputs = AVInputs.create(xs, xa, person=people)
    settings = {"speech_vectors": ["egemaps"], "adapt": True, "tau_grid": (0.0,)}
    plain = AVLateFusionSystem(**settings).fit(inputs, y, (train, val))
    copied = AVLateFusionSystem(**settings).fit(inputs.with_speech_copies([copy]), y, (train, val))
    assert (plain.info["n_speech_copies"], copied.info["n_speech_copies"]) == (0, 1)
    assert not np.allclose(plain.speech_coef_, copied.speech_coef_)
    assert np.allclose(plain.adapted_["speech_w"][0], copied.adapted_["speech_w"][0])
    # nothing about the copies is needed to predict: the saved system loads and scores the clips alone
    again = AVLateFusionSystem.load(copied.save(tmp_path / "m"))
    assert np.allclose(again.predict_proba(inputs.take(val)), copied.predict_proba(inputs.take(val)), atol=1e-5)


def test_speech_features_without_copies_fail_with_a_message(tmp_path):
    cfg = suite_config({"speech_vectors": ["logmel:meanstd"]})
    assert cfg["speech_copies"] == [{"condition": "voice", "backend": "onnx-int8"}]
    root = write_ravdess_av(tmp_path)
    with pytest.raises(ParameterError, match="cannot be computed under .*voice.*leave speech_copies empty"):
        load_av_corpus(root, cfg, cache=None)
    assert copies_note([]) == "" and "faster or slower" in copies_note(cfg["speech_copies"])
