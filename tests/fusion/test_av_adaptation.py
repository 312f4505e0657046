"""Per-person adaptation of the audio-visual systems: per-person statistics (one clip, a constant feature), the
adapted head of AVLateFusionSystem (what it learns, "seen once -> global", persistence), the grouping warnings, the
OpenFace recognizer and CLI with --speaker-key."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from avemo.cli import main
from avemo.errors import ParameterError
from avemo.features.openface import AU_COLUMNS
from avemo.labels import label_set
from avemo.systems.av_fusion import AU, FUSED, SPEECH, AVLateFusionSystem, random_groups
from avemo.systems.inputs import AVInputs
from avemo.systems.person_stats import population_prior, standardise_by_speaker
from avemo.train.metrics import unweighted_accuracy

CLASSES = label_set("ravdess8")
SR = 16000


def _people_data(n_people=10, per_class=3, dim=10, seed=0):
    """Speech vectors and AUs whose class signal is small next to each person's own offset and scale."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(CLASSES), dim))
    au_centres = rng.uniform(0.5, 2.0, size=(len(CLASSES), 35))
    xs, xa, y, people = [], [], [], []
    for p in range(n_people):
        offset, scale = rng.normal(scale=4.0, size=dim), rng.uniform(0.5, 2.0)
        au_offset = rng.uniform(0, 3.0, size=35)
        for label in range(len(CLASSES)):
            for _ in range(per_class):
                xs.append(offset + scale * (centres[label] + 0.3 * rng.normal(size=dim)))
                xa.append(au_offset + au_centres[label] + 0.3 * rng.normal(size=35))
                y.append(label)
                people.append(f"p{p}")
    return (np.array(xs, np.float32), np.array(xa, np.float32), np.array(y), np.array(people, dtype=object))


@pytest.fixture(scope="module")
def adapted_system():
    xs, xa, y, people = _people_data()
    inputs = AVInputs.create(xs, xa, person=people)
    train = np.flatnonzero(~np.isin(people, ["p8", "p9"]))
    val = np.flatnonzero(np.isin(people, ["p6", "p7"]))
    train = np.setdiff1d(train, val)
    system = AVLateFusionSystem(speech_vectors=["egemaps"], adapt=True, tau_grid=(0.0, 2.0))
    system.fit(inputs, y, (train, val))
    test = np.flatnonzero(np.isin(people, ["p8", "p9"]))
    return system, inputs.take(test), y[test]


# ---- per-person statistics -----------------------------------------------------------------------------------


def test_person_statistics_one_clip_and_constant_feature():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [2.0, 5.0], [7.0, 1.0]], np.float32)
    people = np.array(["a", "a", "a", "b"], dtype=object)
    out, done = standardise_by_speaker(x, people)
    assert done.tolist() == [True, True, True, False]
    assert np.isfinite(out).all()
    assert out[:3, 1] == pytest.approx([0, 0, 0])  # a constant feature of a person: 0, not a division by 0
    assert out[:3, 0].mean() == pytest.approx(0, abs=1e-6) and out[:3, 0].std() == pytest.approx(1, abs=1e-3)
    assert out[3].tolist() == [7.0, 1.0]  # a person seen once is left as it is
    prior_mean, prior_std = population_prior(x, people)
    assert prior_mean.tolist() == pytest.approx([2.0, 5.0])  # person b (one row) is not in the prior
    assert (prior_std > 0).all()
    with pytest.raises(ValueError, match="no person"):
        population_prior(x[3:], people[3:])


def test_per_person_inputs_min_recordings_and_missing_faces():
    xs = np.arange(12, dtype=np.float32).reshape(6, 2)
    xa = np.ones((6, 35), np.float32) + np.arange(6)[:, None]
    present = np.array([True, False, True, True, True, True])
    inputs = AVInputs.create(xs, xa, present, ["a", "a", "a", "b", "b", "c"])
    adapted, done = inputs.per_person()
    assert done[SPEECH].tolist() == [True, True, True, True, True, False]
    assert done[AU].tolist() == [True, False, True, True, True, False]  # a's row 1 has no face
    assert adapted.au[1].tolist() == xa[1].tolist() and adapted.speech[5].tolist() == xs[5].tolist()
    _, done3 = inputs.per_person(min_recordings=3)
    assert done3[SPEECH].tolist() == [True, True, True, False, False, False]
    assert done3[AU].tolist() == [False] * 6  # a has only two faces
    with pytest.raises(ParameterError, match="who each recording"):
        AVInputs.create(xs, xa).per_person()
    with pytest.raises(ParameterError, match="same recordings"):
        AVInputs.create(xs, xa, person=["a"])


def test_random_groups():
    people = np.array(["a"] * 7 + ["b"] * 2, dtype=object)
    groups = random_groups(people, 3, seed=1)
    assert sorted(np.unique(groups[:7], return_counts=True)[1].tolist()) == [1, 3, 3]
    assert all(g.startswith("a/") for g in groups[:7]) and all(g.startswith("b/") for g in groups[7:])
    assert (random_groups(people, 0) == people).all()


# ---- the adapted head ------------------------------------------------------------------------------------------


def test_adapted_head_removes_each_persons_offset(adapted_system):
    system, test, y = adapted_system
    global_ua = unweighted_accuracy(y, system.predict_proba(test).argmax(1))
    parts, adapted = system.adapted_proba(test)
    assert adapted.all()
    adapted_ua = unweighted_accuracy(y, parts[FUSED].argmax(1))
    assert adapted_ua > global_ua + 0.2 and adapted_ua > 0.8, (global_ua, adapted_ua)
    for part in (SPEECH, AU, FUSED):
        assert parts[part].shape == (len(y), len(CLASSES)) and np.allclose(parts[part].sum(1), 1)
    report = system.fit_report()
    assert report["adapted"]["tau"] in (0.0, 2.0) and report["adapted"]["min_recordings"] >= 2
    assert set(report["adapted"]["tau_ua"]) == {"0.0", "2.0"}
    assert len(report["adapted_validation"][FUSED]) == len(report["adapted_validation"]["index"])


def test_a_person_seen_once_gets_the_global_head(adapted_system):
    system, test, _ = adapted_system
    alone = test.with_people([f"one{i}" for i in range(len(test))])
    parts, adapted = system.adapted_proba(alone)
    assert not adapted.any()
    assert np.allclose(parts[FUSED], system.predict_proba(test))
    # below the fewest recordings worth adapting from: global too
    few = system.adapted_["min_recordings"]
    if few > 2:
        parts, adapted = system.adapted_proba(test.take(range(few - 1)).with_people(["x"] * (few - 1)))
        assert not adapted.any()


def test_adapted_head_survives_save_and_load(adapted_system, tmp_path):
    system, test, _ = adapted_system
    loaded = AVLateFusionSystem.load(system.save(tmp_path / "av"))
    assert loaded.adapt and loaded.adapted_["tau"] == system.adapted_["tau"]
    a, b = system.adapted_proba(test)[0], loaded.adapted_proba(test)[0]
    assert all(np.allclose(a[k], b[k], atol=1e-5) for k in (SPEECH, AU, FUSED))
    doc = json.loads((tmp_path / "av" / "system.json").read_text())
    assert doc["adapted"]["min_recordings"] == system.adapted_["min_recordings"]
    assert "adapted" in loaded.describe()


def test_no_adapted_head_or_no_people_is_a_clear_error(adapted_system):
    system, test, y = adapted_system
    plain = AVLateFusionSystem(speech_vectors=["egemaps"], n_val_speakers=2)
    xs, xa, yy, people = _people_data(n_people=5, per_class=2)
    from avemo.data.manifest import Recording

    recs = [Recording(str(i), f"/x/{i}.wav", "synthetic", p, CLASSES[k], {}) for i, (p, k) in
            enumerate(zip(people, yy))]
    plain.fit(plain.inputs(xs, xa), yy, recordings=recs)
    with pytest.raises(ParameterError, match="no adapted head"):
        plain.adapted_proba(test)
    with pytest.raises(ParameterError, match="who each recording"):
        system.adapted_proba(AVInputs.create(test.speech, test.au))
    with pytest.raises(ParameterError, match="who each recording"):
        AVLateFusionSystem(adapt=True).fit(AVInputs.create(test.speech, test.au), y, (range(10), range(10, 20)))
    with pytest.raises(ParameterError, match="tau_grid"):
        AVLateFusionSystem(tau_grid=())


def test_adapted_neural_fusion_needs_every_person_twice():
    from avemo.systems.av_neural import AVFusionSystem

    xs, xa, y, people = _people_data(n_people=4, per_class=1)
    inputs = AVInputs.create(xs, xa, person=people)
    system = AVFusionSystem("fusion_concat", speech_vectors=["egemaps"], seeds=[0],
                            train={"epochs": 2, "patience": 2}, adapt=True)
    system.fit(inputs, y, (np.flatnonzero(people != "p3"), np.flatnonzero(people == "p3")))
    assert system.predict_proba(inputs).shape == (len(y), len(CLASSES))
    with pytest.raises(ParameterError, match="two or more recordings"):
        system.predict_proba(inputs.take([0]))


# ---- grouping warnings, the recognizer and the CLI -------------------------------------------------------------


def test_speaker_key_grouping_warnings(caplog):
    from avemo.inference.adaptation import warn_about_groups

    with caplog.at_level(logging.WARNING, logger="avemo.inference.adaptation"):
        warn_about_groups(["a", "a", "a"])
        warn_about_groups(["a", "b", "c"])
        warn_about_groups([], unmatched=3)
        warn_about_groups(["a", "a", "b"])  # useful groups: no warning
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert "all 3 files in one group" in messages[0] and "group of its own" in messages[1]
    assert "matched none of the 3" in messages[2]


def _write_au_row(path, values):
    df = pd.DataFrame([values], columns=list(AU_COLUMNS))
    df.insert(0, "name", path.stem)
    df.to_csv(path, sep=";", index=False)
    return path


@pytest.fixture(scope="module")
def tiny_adapted_av(tmp_path_factory):
    """A tiny adapted AV model on logmel:meanstd of synthetic voices whose pitch is set by the class and shifted
    per person, with AUs offset per person."""
    from avemo.features.base import create_extractor
    from avemo.io.synth import synth_voice

    extractor = create_extractor("logmel")
    rng = np.random.default_rng(0)
    signals, au, y, people = [], [], [], []
    for p in range(6):
        shift, au_offset = 1 + 0.1 * p, rng.uniform(0, 2, 35)
        for label in range(len(CLASSES)):
            signals.append(synth_voice(1.0, 100 * shift * (1 + 0.15 * label), SR, seed=10 * p + label))
            au.append(au_offset + 0.3 * label)
            y.append(label)
            people.append(f"p{p}")
    features = {"logmel": [extractor.process_signal(s, SR) for s in signals]}
    system = AVLateFusionSystem(speech_vectors=["logmel:meanstd"], adapt=True, tau_grid=(0.0,))
    inputs = system.inputs(features, np.array(au, np.float32)).with_people(people)
    people = np.array(people)
    system.fit(inputs, np.array(y), (np.flatnonzero(people < "p4"), np.flatnonzero(people >= "p4")))
    system.adapted_["min_recordings"] = 2  # the tiny validation set may choose more; the test needs 2
    return system.save(tmp_path_factory.mktemp("av") / "tiny-adapted")


def test_openface_speaker_key_adapts_each_person(tiny_adapted_av, tmp_path, capsys):
    from avemo.io.synth import synth_voice

    files, csvs = [], []
    for person, count in (("anna", 3), ("ben", 1)):
        for k in range(count):
            wav = tmp_path / f"{person}_{k}.wav"
            sf.write(wav, synth_voice(1.0, 130 + 20 * k, SR, seed=k), SR)
            files.append(str(wav))
            csvs.append(str(_write_au_row(tmp_path / f"{person}_{k}.csv", np.full(35, 0.5 + 0.2 * k))))
    code = main(["predict", "--format", "json", "--model", str(tiny_adapted_av), *files, "--openface", *csvs,
                 "--speaker-key", r"^([a-z]+)_"])
    assert code == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(out) == 4
    for doc in out[:3]:
        assert doc["fusion"]["adapted"] == {"person": "anna", "clips": 3}
        assert "adapted to person anna (3 clips)" in doc["message"]
        assert sum(doc["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert "adapted" not in out[3]["fusion"] and "global: person ben has 1 usable clip" in out[3]["message"]
    # the adapted head scores anna's clips, not the global one
    from avemo.inference.openface import OpenFaceRecognizer

    recognizer = OpenFaceRecognizer(tiny_adapted_av)
    adapted = recognizer.predict_people(list(zip(files[:3], csvs[:3])), ["anna"] * 3)
    plain = recognizer.predict(files[0], csvs[0])
    assert adapted[0].modalities[SPEECH].probabilities != pytest.approx(plain.modalities[SPEECH].probabilities)
    assert adapted[0].probabilities != pytest.approx(plain.probabilities) or \
        adapted[0].modalities[AU].probabilities != pytest.approx(plain.modalities[AU].probabilities)
    # a key that matches no file name: each pair is an error, and a warning says why
    code = main(["predict", "--model", str(tiny_adapted_av), files[0], "--openface", csvs[0],
                 "--speaker-key", "zzz"])
    assert code == 1 and "does not match --speaker-key" in capsys.readouterr().err


def test_cross_fitted_choices_use_every_training_person(tmp_path):
    """With cross_fit, C, temperatures and the fusion weight are chosen on every training and validation person's
    recordings, each group of people scored by regressions fitted without it; the validation probabilities handed
    on are still those of the validation rows; the setting survives save/load; cross_fit=0 chooses on the
    validation people alone."""
    from avemo.systems.av_adapted import people_groups
    from avemo.systems.av_choice import choice_log_probs, fit_regressions

    xs, xa, y, people = _people_data(n_people=8)
    inputs = AVInputs.create(xs, xa, person=people)
    val = np.flatnonzero(np.isin(people, ["p6", "p7"]))
    train = np.flatnonzero(~np.isin(people, ["p6", "p7"]))
    groups = people_groups(people, 3, seed=1)
    assert sorted(p for g in groups for p in g) == sorted(set(people)) and len(groups) == 3
    assert len(people_groups(people, 20)) == 8  # no more groups than people

    def fit(rows):
        return fit_regressions(xs, xa, np.ones(len(y), bool), y, rows, len(CLASSES), 0.05, [0.1], {"max_iter": 100,
                               "tol": 1e-3}, {"max_iter": 200, "tol": 1e-4})

    choice = choice_log_probs(fit, xs, xa, train, val, people, 4, 0)
    rows, logits = choice.rows, choice.log_probs
    assert np.array_equal(rows, np.union1d(train, val)) and logits["speech"].shape == (len(rows), len(CLASSES))
    held = np.isin(people[rows], people_groups(people[rows], 4, 0)[0])  # the first group's rows: out of fold
    assert np.allclose(logits[0.1][held], fit(rows[~held]).log_probs(xs, xa, rows[held])[0.1])
    rows = choice_log_probs(fit, xs, xa, train, val, people, 0, 0).rows
    assert np.array_equal(rows, val)
    # cross-fitted, the train-only regressions are fitted only when asked for (without refit they are the final ones)
    assert choice.train_only is not None
    assert choice_log_probs(fit, xs, xa, train, val, people, 4, 0, keep_train_only=False).train_only is None

    crossed = AVLateFusionSystem(speech_vectors=["egemaps"], cross_fit=4).fit(inputs, y, (train, val))
    plain = AVLateFusionSystem(speech_vectors=["egemaps"]).fit(inputs, y, (train, val))
    assert crossed.info["validation"]["n_choice_recordings"] == len(y) and crossed.info["validation"]["cross_fit"] == 4
    assert plain.info["validation"]["n_choice_recordings"] == len(val)
    # what the report calibrates on: the rows the choices were made on (every row out of fold; the validation rows)
    assert crossed.validation_[FUSED].shape == (len(y), len(CLASSES))
    assert np.array_equal(crossed.validation_["index"], np.union1d(train, val))
    assert np.array_equal(plain.validation_["index"], val) and plain.validation_[FUSED].shape == (len(val), 8)
    assert AVLateFusionSystem.load(crossed.save(tmp_path / "m")).cross_fit == 4
    # the adapted head's prior weight and fewest recordings: cross-fitted too, on every person's groups of clips
    adapted = AVLateFusionSystem(speech_vectors=["egemaps"], adapt=True, cross_fit=4, tau_grid=(0.0, 4.0))
    adapted.fit(inputs, y, (train, val))
    chosen = adapted.info["adapted_validation"]
    assert set(chosen["tau_ua"]) == {"0.0", "4.0"} and set(chosen["group_size_ua"]) == {"2", "4", "8"}
    probs, done = adapted.adapted_proba(inputs.take(val))
    assert done.all() and unweighted_accuracy(y[val], probs[FUSED].argmax(1)) > 0.5
    with pytest.raises(ParameterError, match="cross_fit"):
        AVLateFusionSystem(cross_fit=1)
