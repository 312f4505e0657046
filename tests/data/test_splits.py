"""Speaker folds: the EmoBox RAVDESS 6-fold protocol, leave-one-speaker-out and the (leaking) random split."""

from __future__ import annotations

import pytest

from avemo.data.manifest import Recording
from avemo.data.splits import (RAVDESS_6FOLD, leave_one_speaker_out, make_folds, random_split, ravdess_6fold,
                               speaker_folds)
from avemo.errors import ParameterError
from avemo.labels import label_set

EMOTIONS = label_set("ravdess8")


def fake_ravdess(actors=range(1, 25), per_emotion: int = 2) -> list[Recording]:
    recs = []
    for a in actors:
        for e, emotion in enumerate(EMOTIONS, 1):
            for k in range(per_emotion):
                name = f"03-01-{e:02d}-01-01-{k + 1:02d}-{a:02d}"
                recs.append(Recording(name, f"/corpus/Actor_{a:02d}/{name}.wav", "ravdess", f"{a:02d}", emotion,
                                      {"gender": "male" if a % 2 else "female"}))
    return recs


def speakers_of(recs, index):
    return {recs[i].speaker for i in index}


def test_ravdess_6fold_protocol():
    recs = fake_ravdess()
    folds = ravdess_6fold(recs)
    assert len(folds) == 6
    assert [f.name for f in folds] == [f"fold{k}" for k in range(1, 7)]
    all_speakers = {r.speaker for r in recs}
    gender = {r.speaker: r.attributes["gender"] for r in recs}
    for fold, expected in zip(folds, RAVDESS_6FOLD):
        assert fold.test_speakers == expected
        train, val, test = (speakers_of(recs, ix) for ix in (fold.train, fold.val, fold.test))
        assert test == set(expected)
        assert not (train & val) and not (train & test) and not (val & test)
        assert train | val | test == all_speakers
        assert len(fold.train) + len(fold.val) + len(fold.test) == len(recs)
        assert set(fold.val_speakers) == val and len(val) == 2
        assert sorted(gender[s] for s in val) == ["female", "male"]
        assert len(fold.test) == 4 * 16 and len(fold.val) == 2 * 16
    assert set().union(*(set(f.test_speakers) for f in folds)) == all_speakers
    assert sum(len(f.test) for f in folds) == len(recs)
    # Same seed -> same folds; another seed changes the validation speakers of some fold.
    assert ravdess_6fold(recs) == folds
    assert any(a.val_speakers != b.val_speakers for a, b in zip(folds, ravdess_6fold(recs, seed=1)))


def test_ravdess_6fold_test_groups_are_a_partition_of_24_actors():
    flat = [s for group in RAVDESS_6FOLD for s in group]
    assert sorted(flat) == [f"{a:02d}" for a in range(1, 25)]


def test_missing_test_speaker_raises():
    recs = [r for r in fake_ravdess() if r.speaker != "11"]
    with pytest.raises(ParameterError, match="11"):
        ravdess_6fold(recs)


def test_leave_one_speaker_out():
    recs = fake_ravdess(range(1, 7), per_emotion=1)
    folds = leave_one_speaker_out(recs)
    assert [f.test_speakers for f in folds] == [(f"{a:02d}",) for a in range(1, 7)]
    for f in folds:
        train, val, test = (speakers_of(recs, ix) for ix in (f.train, f.val, f.test))
        assert len(test) == 1 and len(val) == 2 and len(train) == 3
        assert not (train & val) and not (train & test) and not (val & test)
    with pytest.raises(ParameterError, match="at least 4"):
        leave_one_speaker_out(fake_ravdess(range(1, 4)))


def test_random_split_leaks_speakers():
    recs = fake_ravdess()
    folds = random_split(recs, n_folds=6)
    assert len(folds) == 6
    tested = []
    for f in folds:
        assert not (set(f.train) & set(f.test)) and not (set(f.val) & set(f.test)) and not (set(f.train) & set(f.val))
        assert len(f.train) + len(f.val) + len(f.test) == len(recs)
        # Its purpose: test speakers are also training speakers.
        assert speakers_of(recs, f.test) & speakers_of(recs, f.train)
        # Stratified: every class in every test fold.
        assert {recs[i].emotion for i in f.test} == set(EMOTIONS)
        tested += f.test
    assert sorted(tested) == list(range(len(recs)))


def test_folds_without_gender_or_with_one_gender():
    # No gender attribute (e.g. CREMA-D as prepared here) and a single gender must both work.
    for gender in (None, "female"):
        recs = [Recording(f"{s}_{k}", f"/{s}_{k}.wav", "x", s, EMOTIONS[k % 8],
                          {} if gender is None else {"gender": gender})
                for s in ("a", "b", "c", "d", "e") for k in range(4)]
        folds = speaker_folds(recs, [("a",), ("b", "c")])
        assert [f.test_speakers for f in folds] == [("a",), ("b", "c")]
        for f in folds:
            assert len(f.val_speakers) == 2
            assert not set(f.val_speakers) & set(f.test_speakers)
            assert speakers_of(recs, f.train)


def test_fold_without_training_speakers_raises():
    recs = fake_ravdess(range(1, 4), per_emotion=1)
    with pytest.raises(ParameterError, match="no training speakers"):
        speaker_folds(recs, [("01",)], n_val_speakers=2)


def test_make_folds():
    recs = fake_ravdess()
    assert make_folds("ravdess-6fold", recs) == ravdess_6fold(recs)
    assert len(make_folds("loso", recs)) == 24
    assert len(make_folds("random", recs, n_folds=3)) == 3
    with pytest.raises(ParameterError, match="unknown protocol"):
        make_folds("kfold", recs)
