"""The multi-corpus speech probe: masked training across corpora with different label sets, speaker adaptation,
layer choice on validation rows, save / load, the engine's features-dict path."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from avemo.data.recipes import corpus_class_mask
from avemo.errors import CheckpointError, ParameterError
from avemo.labels import label_set
from avemo.systems.base import load_system, system_kind
from avemo.systems.person_stats import standardise_by_speaker
from avemo.systems.probe_inputs import CorpusInputs
from avemo.systems.probe_stats import balance_weights, corpus_ua
from avemo.systems.speech_probe import SpeechProbeSystem

CLASSES = label_set("ravdess8")
WIDTH = 4  # a tiny "encoder": 4 dims per layer, layers 0..2 -> [mean, std] blocks of 8 columns
LAYERS = (0, 1, 2)


def synthetic(corpora=("ravdess", "turev", "urdu"), speakers=4, per_class=4, shift=3.0, seed=0):
    """Rows whose class shows in layer 1's block; every speaker adds a large offset of its own (what speaker
    standardisation removes); each corpus has only its own classes."""
    rng = np.random.default_rng(seed)
    xs, ys, cs, ss = [], [], [], []
    centres = rng.normal(size=(len(CLASSES), 2 * WIDTH)) * 1.5
    for corpus in corpora:
        present = np.flatnonzero(corpus_class_mask(corpus))
        for s in range(speakers):
            offset = rng.normal(size=2 * WIDTH * len(LAYERS)) * shift
            for k in present:
                for _ in range(per_class):
                    x = rng.normal(size=2 * WIDTH * len(LAYERS))
                    x[2 * WIDTH: 4 * WIDTH] += centres[k]
                    xs.append(x + offset)
                    ys.append(k)
                    cs.append(corpus)
                    ss.append(f"{corpus}:{s}")
    return CorpusInputs.create(np.array(xs), cs, ss, LAYERS), np.array(ys)


def split_by_speaker(inputs, test_speaker_index=0, val_speaker_index=1):
    index = np.array([int(s.split(":")[1]) for s in inputs.speaker])
    test = np.flatnonzero(index == test_speaker_index)
    val = np.flatnonzero(index == val_speaker_index)
    train = np.flatnonzero((index != test_speaker_index) & (index != val_speaker_index))
    return train, val, test


def make_system(**kw):
    return SpeechProbeSystem(model="tiny.en", layer_grid=[(0,), (1,), (0, 1, 2)], l2_grid=[1e-3], **kw)


@pytest.fixture(scope="module")
def fitted():
    inputs, y = synthetic()
    train, val, test = split_by_speaker(inputs)
    return make_system().fit(inputs, y, (train, val)), inputs, y, test


def test_fit_chooses_on_validation_and_generalises(fitted):
    system, inputs, y, test = fitted
    report = system.fit_report()
    assert set(report) == {"global", "adapted", "adapted-varied"}
    assert report["adapted"]["layers"] == [1]  # the layer that carries the class, found on validation speakers
    probs = system.predict_proba(inputs.take(test))
    assert probs.shape == (len(test), 8) and np.allclose(probs.sum(1), 1.0)
    adapted = system.predict_proba(inputs.take(test), adapt=True)
    scores = corpus_ua(y[test], probs, inputs.corpus[test], CLASSES)
    adapted_scores = corpus_ua(y[test], adapted, inputs.corpus[test], CLASSES)
    # Large per-speaker offsets: standardising each speaker by its own statistics is what recovers the classes.
    assert np.mean(list(adapted_scores.values())) > 0.8
    assert np.mean(list(adapted_scores.values())) > np.mean(list(scores.values()))


def test_masking_keeps_classes_a_corpus_lacks(fitted):
    """turev has no neutral and urdu no calm, yet both stay predictable where their own corpus has them."""
    system, inputs, y, test = fitted
    probs = system.predict_proba(inputs.take(test), adapt=True)
    for name in ("neutral", "calm"):
        k = CLASSES.index(name)
        rows = y[test] == k
        assert rows.any() and (probs[rows].argmax(1) == k).mean() > 0.5, name


def test_balance_weights_equalise_corpora_and_classes():
    corpus = np.array(["a"] * 6 + ["b"] * 2)
    y = np.array([0, 0, 0, 0, 1, 1, 0, 2])
    w = balance_weights(corpus, y)
    assert w[corpus == "a"].sum() == pytest.approx(w[corpus == "b"].sum())
    assert w[(corpus == "a") & (y == 0)].sum() == pytest.approx(w[(corpus == "a") & (y == 1)].sum())
    assert w.sum() == pytest.approx(len(y))


def test_a_target_corpus_weighs_as_much_as_the_others_together():
    corpus = np.array(["a"] * 4 + ["b"] * 2 + ["c"] * 3)
    y = np.array([0, 0, 1, 1, 0, 2, 0, 1, 1])
    w = balance_weights(corpus, y, target="b")
    assert w[corpus == "b"].sum() == pytest.approx(w[corpus != "b"].sum())
    assert w[corpus == "a"].sum() == pytest.approx(w[corpus == "c"].sum())
    assert w[(corpus == "b") & (y == 0)].sum() == pytest.approx(w[(corpus == "b") & (y == 2)].sum())
    np.testing.assert_allclose(balance_weights(corpus, y, target="zz"), balance_weights(corpus, y))


def test_a_targeted_system_scores_choices_on_its_target_corpus():
    targeted, plain = SpeechProbeSystem(target_corpus="b"), SpeechProbeSystem()
    scores = {"a": 0.9, "b": 0.5, "c": 0.7}
    assert targeted._val_score(scores) == 0.5
    assert plain._val_score(scores) == pytest.approx(0.7)
    assert targeted._val_score({"a": 0.9, "c": 0.7}) == pytest.approx(0.8)  # no target speakers: the mean


def test_standardise_by_speaker_leaves_single_recordings():
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 5.0]], np.float32)
    out, done = standardise_by_speaker(x, np.array(["a", "a", "b"], dtype=object))
    assert done.tolist() == [True, True, False]
    np.testing.assert_allclose(out[:2], [[-1, -1], [1, 1]], atol=1e-5)
    np.testing.assert_array_equal(out[2], x[2])


def test_features_dict_and_adaptation_statistics_paths(fitted):
    system, inputs, y, test = fitted
    rows = inputs.take(test)
    x = rows.columns(system.layers)  # what the system's own extractor outputs
    np.testing.assert_allclose(system.predict_proba({"whisper_stats": list(x)}), system.predict_proba(rows),
                               rtol=1e-5)
    with pytest.raises(ParameterError, match="dimensions"):
        system.predict_proba({"whisper_stats": list(rows.x[:, :5])})
    one = np.flatnonzero(rows.speaker == rows.speaker[0])
    residuals = system.speaker_residuals(x[one])
    mean, std = residuals.mean(0), residuals.std(0)
    np.testing.assert_allclose(system.predict_proba_adapted(x[one], mean, std, count=len(one)),
                               system.predict_proba(rows.take(one), adapt=True), rtol=1e-4, atol=1e-6)


def test_save_load_round_trip(fitted, tmp_path):
    system, inputs, y, test = fitted
    folder = system.save(tmp_path / "probe")
    assert system_kind(folder) == "speech-probe"
    loaded = load_system(folder, kind=("speech", "speech-probe"))
    rows = inputs.take(test)
    for adapt in (False, True):
        np.testing.assert_allclose(loaded.predict_proba(rows, adapt=adapt), system.predict_proba(rows, adapt=adapt),
                                   rtol=1e-5, atol=1e-7)
    assert loaded.layers == system.layers
    json.dumps(loaded.describe())
    targeted = copy.copy(system)
    targeted.target_corpus = "ravdess"
    assert load_system(targeted.save(tmp_path / "targeted")).target_corpus == "ravdess"
    (folder / "weights.safetensors").write_bytes(b"broken")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_system(folder)


def test_a_fit_with_a_checkpoint_folder_resumes_and_refits_when_stale(fitted, tmp_path, monkeypatch):
    import avemo.systems.probe_fitting as fitting
    from avemo.systems.probe_fit_cache import FIT_KEY_FILE

    system, inputs, y, test = fitted
    train, val, _ = split_by_speaker(inputs)
    folder = tmp_path / "fit"
    first = make_system().fit(inputs, y, (train, val), checkpoint_dir=folder)
    assert (folder / FIT_KEY_FILE).is_file()
    calls = []
    real = fitting.fit_softmax_regression
    monkeypatch.setattr(fitting, "fit_softmax_regression", lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = make_system().fit(inputs, y, (train, val), checkpoint_dir=folder)
    assert calls == []  # loaded, not fitted again
    rows = inputs.take(test)
    for adapt in (False, True):
        np.testing.assert_array_equal(resumed.predict_proba(rows, adapt=adapt), first.predict_proba(rows, adapt=adapt))
        np.testing.assert_allclose(first.predict_proba(rows, adapt=adapt), system.predict_proba(rows, adapt=adapt))
    assert resumed.fit_report() == first.fit_report()
    make_system(compensations=[0.0]).fit(inputs, y, (train, val), checkpoint_dir=folder)  # other settings: refit
    assert calls
    calls.clear()
    (folder / "weights.safetensors").write_bytes(b"broken")  # a corrupt checkpoint is fitted again
    make_system(compensations=[0.0]).fit(inputs, y, (train, val), checkpoint_dir=folder)
    assert calls
    calls.clear()
    make_system(compensations=[0.0]).fit(inputs, y, (train[1:], val), checkpoint_dir=folder)  # other rows: refit
    assert calls


def test_bad_inputs(fitted):
    system, inputs, y, test = fitted
    with pytest.raises(ParameterError, match="CorpusInputs"):
        make_system().fit(inputs.x, y, (test, test))
    bad = y.copy()
    bad[inputs.corpus == "turev"] = CLASSES.index("neutral")  # turev has no neutral
    with pytest.raises(ParameterError, match="corpus's classes"):
        make_system().fit(inputs, bad, (np.arange(10), np.arange(10, 20)))
    with pytest.raises(ParameterError, match="not fitted"):
        make_system().predict_proba(inputs)
    with pytest.raises(ParameterError, match="layers"):
        system.predict_proba(CorpusInputs.create(inputs.x[:, :8], inputs.corpus, inputs.speaker, (2,)))


def test_speaker_statistics_shrink_towards_the_prior():
    from avemo.systems.person_stats import speaker_statistics

    x = np.array([[0.0, 10.0], [2.0, 10.0]])
    prior = (np.array([4.0, 0.0]), np.array([2.0, 2.0]))
    mean, std = speaker_statistics(x)
    np.testing.assert_allclose(mean, [1.0, 10.0]) and np.testing.assert_allclose(std, [1.0, 1e-3])
    mean, std = speaker_statistics(x, prior, tau=2.0)  # the prior counts as two recordings: halfway
    np.testing.assert_allclose(mean, [2.5, 5.0])
    np.testing.assert_allclose(std, np.sqrt([(2 * 1 + 2 * 4) / 4, (0 + 2 * 4) / 4]), rtol=1e-6)


def test_tau_is_chosen_on_validation(fitted):
    system, *_ = fitted
    report = system.fit_report()
    assert report["adapted"]["tau"] in SpeechProbeSystem.TAU_GRID and "tau" not in report["global"]
    tried = system.info["selection"]["adaptation"]
    assert set(tried) == {"any", "varied"}
    for use, head in (("any", "adapted"), ("varied", "adapted-varied")):
        assert set(tried[use]) == {str(c) for c in system.compensations}
        assert all(set(t["tau"]) == {str(v) for v in SpeechProbeSystem.TAU_GRID} for t in tried[use].values())
        assert report[head]["compensation"] in system.compensations
        assert report[head]["tau"] in SpeechProbeSystem.TAU_GRID


def test_emotion_offsets_keep_the_emotion_of_a_speaker_heard_in_one():
    """A speaker with only angry recordings: plain standardisation centres them on zero (the anger is gone);
    taking each recording's anger offset out of the statistics first keeps them on the angry side."""
    from avemo.systems.probe_stats import class_offsets, emotion_offsets

    x = np.array([[-1.0], [1.0], [3.0], [5.0]])  # class 0 around 0, class 1 around 4
    y = np.array([0, 0, 1, 1])
    offsets, between = class_offsets(x, y, np.ones(4), n_classes=3)
    np.testing.assert_allclose(offsets, [[-2.0], [2.0], [0.0]])  # absent class 2: no offset
    np.testing.assert_allclose(between, [4.0])
    angry = np.array([[13.0], [15.0]])  # one speaker (voice at +10), class 1 only
    speakers = np.array(["s", "s"], dtype=object)
    plain, _ = standardise_by_speaker(angry, speakers)
    assert plain.mean() == pytest.approx(0.0, abs=1e-6)
    shift = emotion_offsets(np.array([[0.0, 1.0, 0.0]] * 2), offsets)
    kept, _ = standardise_by_speaker(angry, speakers, offsets=shift, between=between)
    assert kept.mean() == pytest.approx(2.0 / np.sqrt(1.0 + 4.0), rel=1e-5)  # +2 (anger) over sqrt(var + between)


def one_emotion_speakers(seed=1):
    """Like :func:`synthetic` (with smaller speaker offsets, so the global head is informative), but the urdu
    corpus's speakers are each heard in one emotion only."""
    inputs, y = synthetic(corpora=("ravdess", "turev", "urdu"), speakers=6, shift=1.0, seed=seed)
    keep = np.ones(len(y), bool)
    for speaker in np.unique(inputs.speaker[inputs.corpus == "urdu"]):
        rows = np.flatnonzero(inputs.speaker == speaker)
        keep[rows[y[rows] != y[rows][int(speaker.split(":")[1]) % 4 * 4]]] = False
    rows = np.flatnonzero(keep)
    return inputs.take(rows), y[rows]


def test_compensated_adaptation_is_chosen_for_one_emotion_speakers_and_round_trips(tmp_path):
    inputs, y = one_emotion_speakers()
    index = np.array([int(s.split(":")[1]) for s in inputs.speaker])
    train, val = np.flatnonzero(index >= 2), np.flatnonzero(index < 2)
    system = make_system().fit(inputs, y, (train, val))
    tried = system.info["selection"]["adaptation"]["any"]
    assert tried["1.0"]["val_ua"] >= tried["0.0"]["val_ua"]
    assert system.fit_report()["adapted"]["compensation"] == 1.0
    loaded = load_system(system.save(tmp_path / "probe"))
    urdu = inputs.take(np.flatnonzero(inputs.corpus == "urdu"))
    np.testing.assert_allclose(loaded.predict_proba(urdu, adapt=True), system.predict_proba(urdu, adapt=True),
                               rtol=1e-5, atol=1e-7)
    one = np.flatnonzero(urdu.speaker == urdu.speaker[0])  # the running-statistics path agrees
    x = urdu.columns(system.layers)[one]
    residuals = system.speaker_residuals(x)
    np.testing.assert_allclose(system.predict_proba_adapted(x, residuals.mean(0), residuals.std(0), len(one)),
                               system.predict_proba(urdu.take(one), adapt=True), rtol=1e-4, atol=1e-6)


def test_utterance_normalisation_ignores_level_and_round_trips(tmp_path):
    from avemo.systems.probe_stats import normalise_utterances

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2 * WIDTH * len(LAYERS)))
    scaled = x * np.repeat(rng.uniform(0.5, 4, size=(3, 2 * len(LAYERS))), WIDTH, axis=1) + 7.0  # per block
    np.testing.assert_allclose(normalise_utterances(scaled, WIDTH), normalise_utterances(x, WIDTH), atol=1e-5)
    inputs, y = synthetic()
    train, val, test = split_by_speaker(inputs)
    system = make_system(utterance_norm=True, compensations=(0.0,)).fit(inputs, y, (train, val))
    assert system.fit_report()["adapted"]["compensation"] == 0.0
    loaded = load_system(system.save(tmp_path / "probe"))
    assert loaded.utterance_norm and loaded.compensations == [0.0]
    rows = inputs.take(test)
    for adapt in (False, True):
        np.testing.assert_allclose(loaded.predict_proba(rows, adapt=adapt), system.predict_proba(rows, adapt=adapt),
                                   rtol=1e-5, atol=1e-7)
    one = np.flatnonzero(rows.speaker == rows.speaker[0])
    x = rows.columns(system.layers)[one]
    residuals = system.speaker_residuals(x)
    np.testing.assert_allclose(system.predict_proba_adapted(x, residuals.mean(0), residuals.std(0), len(one)),
                               system.predict_proba(rows.take(one), adapt=True), rtol=1e-4, atol=1e-6)
    with pytest.raises(ParameterError, match="compensations"):
        make_system(compensations=(2.0,))


def test_adaptation_for_varied_speakers_is_scored_on_all_of_their_recordings(tmp_path):
    """The ``varied`` adapted head's compensation and prior weight are scored by the UA of the validation speakers
    adapted with all of their recordings (what ``predict_proba(adapt=True, adapt_for="varied")`` does); the ``any``
    head's by the average over uses, another score. Both heads are saved, loaded and used by the running-statistics
    path."""
    inputs, y = one_emotion_speakers()
    index = np.array([int(s.split(":")[1]) for s in inputs.speaker])
    train, val = np.flatnonzero(index >= 2), np.flatnonzero(index < 2)
    system = make_system(refit=False).fit(inputs, y, (train, val))
    report, validation = system.fit_report(), inputs.take(val)
    scored = {}
    for use, head in (("any", "adapted"), ("varied", "adapted-varied")):
        chosen = report[head]
        tried = system.info["selection"]["adaptation"][use][str(chosen["compensation"])]["tau"][str(chosen["tau"])]
        probs = system.predict_proba(validation, adapt=True, adapt_for=use)
        scored[use] = (tried, float(np.mean(list(corpus_ua(y[val], probs, validation.corpus, CLASSES).values()))))
    assert scored["varied"][0] == pytest.approx(scored["varied"][1])
    assert scored["any"][0] != pytest.approx(scored["any"][1])  # the average over uses is another score
    loaded = load_system(system.save(tmp_path / "probe"))
    urdu = inputs.take(np.flatnonzero(inputs.corpus == "urdu"))
    for use in ("any", "varied"):
        np.testing.assert_allclose(loaded.predict_proba(urdu, adapt=True, adapt_for=use),
                                   system.predict_proba(urdu, adapt=True, adapt_for=use), rtol=1e-5, atol=1e-7)
        one = np.flatnonzero(urdu.speaker == urdu.speaker[0])
        x = urdu.columns(system.layers)[one]
        residuals = system.speaker_residuals(x, use)
        np.testing.assert_allclose(
            system.predict_proba_adapted(x, residuals.mean(0), residuals.std(0), len(one), use),
            system.predict_proba(urdu.take(one), adapt=True, adapt_for=use), rtol=1e-4, atol=1e-6)
    with pytest.raises(ParameterError, match="adapt_for"):
        system.predict_proba(urdu, adapt=True, adapt_for="everyone")


def test_a_system_saved_without_the_varied_head_says_so(tmp_path):
    """A system saved by an older avemo (no ``adapted-varied`` head) loads; asking for that head is a clear
    error, the other heads still predict."""
    import json

    from safetensors.numpy import load_file, save_file

    inputs, y = synthetic()
    train, val, test = split_by_speaker(inputs)
    folder = make_system().fit(inputs, y, (train, val)).save(tmp_path / "probe")
    doc = json.loads((folder / "system.json").read_text())
    del doc["heads"]["adapted-varied"]
    (folder / "system.json").write_text(json.dumps(doc))
    save_file({k: v for k, v in load_file(str(folder / "weights.safetensors")).items()
               if not k.startswith("adapted-varied.")}, str(folder / "weights.safetensors"))
    old, rows = load_system(folder), inputs.take(test)
    assert old.predict_proba(rows, adapt=True).shape == (len(test), len(CLASSES))
    with pytest.raises(ParameterError, match="re-train"):
        old.predict_proba(rows, adapt=True, adapt_for="varied")


def test_a_new_fit_version_makes_saved_fits_stale(fitted, tmp_path, monkeypatch):
    """Saved fits are keyed by FIT_VERSION (bumped when fitting changes results), not by hashing source: the
    same fit under another version is fitted again, and saved with the new key."""
    import avemo.systems.probe_fitting as fitting
    from avemo.systems.probe_fit_cache import FIT_KEY_FILE

    _, inputs, y, _ = fitted
    train, val, _ = split_by_speaker(inputs)
    folder = tmp_path / "fit"
    make_system().fit(inputs, y, (train, val), checkpoint_dir=folder)
    old_key = json.loads((folder / FIT_KEY_FILE).read_text())["fit_key"]
    assert "fit_loaded_from" in make_system().fit(inputs, y, (train, val), checkpoint_dir=folder).info
    monkeypatch.setattr(fitting, "FIT_VERSION", fitting.FIT_VERSION + 1)
    refitted = make_system().fit(inputs, y, (train, val), checkpoint_dir=folder)
    assert "fit_loaded_from" not in refitted.info  # stale: fitted again
    assert json.loads((folder / FIT_KEY_FILE).read_text())["fit_key"] != old_key
    assert "fit_loaded_from" in make_system().fit(inputs, y, (train, val), checkpoint_dir=folder).info
