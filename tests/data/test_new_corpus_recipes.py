"""The SAVEE and ASED recipes and the CREMA-D recipe's skip counts: on tiny synthetic files laid out like each
corpus (speakers, labels, what is skipped and why, the error for a folder with nothing recognisable), and on the
real corpora (conftest's require_data: $AVEMO_DATA or ../shared/data) when present."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from avemo.data.recipes import RECIPES, corpus_class_mask, corpus_classes, prepare
from avemo.data.recipes.ased import prepare_ased
from avemo.data.recipes.cremad import prepare_cremad
from avemo.data.recipes.savee import prepare_savee
from avemo.errors import CorpusError
from tests.data.test_multicorpus_recipes import by_id, clip


def test_savee(tmp_path):
    for name in ("DC/DC_a01.ogg", "DC/DC_sa02.ogg", "JE/JE_su15.wav", "KL/KL_n30.ogg", "JK/d03.wav",
                 "DC/DC_x01.ogg",        # unknown emotion code
                 "JE/DC_h01.ogg",        # prefix of another speaker than the folder
                 "KL/notes.ogg"):        # unreadable name
        clip(tmp_path, name)
    recs = prepare_savee(tmp_path)
    r = by_id(recs)
    assert {k: (v.speaker, v.emotion) for k, v in r.items()} == {
        "DC_a01": ("savee:DC", "angry"), "DC_sa02": ("savee:DC", "sad"), "JE_su15": ("savee:JE", "surprised"),
        "KL_n30": ("savee:KL", "neutral"), "JK_d03": ("savee:JK", "disgust")}  # the published AudioData names
    assert all(v.corpus == "savee" and v.attributes["language"] == "en" for v in recs)
    assert recs.skipped == {"unknown label code": 1, "speaker prefix disagrees with the folder": 1,
                            "unrecognised file name": 1}


def test_ased_keys_speakers_by_gender_and_number(tmp_path):
    for name in ("01Neutral/n1-01-01-01-09.ogg", "01Neutral/n1-01-01-02-09.ogg",  # speaker 09: two people
                 "05Angry/a5-02-03-02-65.ogg", "04Sad/S4-04-02-01-29.ogg",       # an upper-case letter
                 "04Sad/a4-01-01-01-01.ogg",       # letter a in the Sad folder
                 "03Happy/h3-01-01-07-01.ogg",     # unknown gender code
                 "02Fearful/f2-x.ogg",             # unreadable name
                 "Other/n1-01-01-01-02.ogg"):      # not a class folder
        clip(tmp_path, name)
    recs = prepare_ased(tmp_path)
    assert {(r.speaker, r.emotion, r.attributes["gender"]) for r in recs} == {
        ("ased:F09", "neutral", "female"), ("ased:M09", "neutral", "male"), ("ased:M65", "angry", "male"),
        ("ased:F29", "sad", "female")}
    assert recs.skipped == {"label letter disagrees with the folder": 1, "unknown gender code (01 female, 02 male)": 1,
                            "unrecognised file name": 1,
                            "not in a class folder (01Neutral, 02Fearful, 03Happy, 04Sad, 05Angry)": 1}
    assert len({r.id for r in recs}) == len(recs)


def test_cremad_counts_what_it_skips(tmp_path):
    for name in ("1002/1002_DFA_ANG_XX.ogg", "1002/1002_DFA_XYZ_XX.ogg", "1002/1002_DFA_ANG_QQ.ogg",
                 "1003/readme.ogg"):
        clip(tmp_path, name)
    recs = prepare_cremad(tmp_path)
    assert [(r.speaker, r.emotion) for r in recs] == [("1002", "angry")]
    assert recs.skipped == {"unknown label code": 1, "unknown intensity code": 1, "unrecognised file name": 1}


@pytest.mark.parametrize("recipe", [prepare_savee, prepare_ased, prepare_cremad])
def test_nothing_recognisable_says_what_was_expected(tmp_path, recipe):
    clip(tmp_path, "x/nothing.ogg")
    with pytest.raises(CorpusError, match="expected"):
        recipe(tmp_path)


def test_registered_with_their_classes():
    assert {"savee", "ased", "cremad"} <= set(RECIPES)
    assert corpus_classes("savee") == ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    assert corpus_classes("ased") == ("neutral", "happy", "sad", "angry", "fearful")
    assert corpus_class_mask("cremad").tolist() == [True, False, True, True, True, True, True, False]


REAL = {  # corpus: (clips, speakers, classes); ASED: 65 speaker numbers, five of them with both gender codes
    "savee": (480, 4, {"neutral": 120, **{e: 60 for e in ("angry", "disgust", "fearful", "happy", "sad",
                                                           "surprised")}}),
    "ased": (2474, 70, {"neutral": 522, "fearful": 510, "happy": 486, "angry": 486, "sad": 470}),
    "cremad": (7360, 90, {"neutral": 1075, **{e: 1257 for e in ("angry", "disgust", "fearful", "happy", "sad")}}),
}


@pytest.mark.corpus
@pytest.mark.parametrize("corpus", sorted(REAL))
def test_real_corpus_counts(corpus, require_data):
    recs = prepare(corpus, require_data(corpus, what=f"the {corpus} corpus"))
    n, n_speakers, classes = REAL[corpus]
    assert len(recs) == n and recs.skipped == {}
    assert len({r.speaker for r in recs}) == n_speakers
    assert dict(Counter(r.emotion for r in recs)) == classes
    assert Path(recs[0].path).is_file()


def test_load_corpora_skips_and_counts_what_it_cannot_use(tmp_path, monkeypatch):
    """An unknown label code (the recipe) and a clip that does not decode (extraction) are skipped and counted;
    the other clips are loaded."""
    import numpy as np

    import avemo.features.base as features_base
    from avemo.shipping.corpora import load_corpora

    for name in ("DC/DC_a01.ogg", "DC/DC_sa02.ogg", "DC/DC_x03.ogg"):
        clip(tmp_path / "savee", name)
    (tmp_path / "savee" / "DC" / "DC_h04.ogg").write_bytes(b"OggS not really")

    class Fake:  # the features of a clip without running Whisper
        name = "fake"

        class config:
            layer_list = (0,)

        def process_file(self, path):
            from avemo.io.audio import load_audio

            return np.full(2, load_audio(path).std(), np.float32)

        def cache_key(self):
            return {"name": "fake"}

    monkeypatch.setattr(features_base, "create_extractor", lambda *a, **k: Fake())
    recordings, y, inputs, _ = load_corpora(tmp_path, ["savee"], cache=None)
    assert sorted(r.id for r in recordings) == ["DC_a01", "DC_sa02"] and len(inputs) == 2
    assert recordings.skipped == {"savee: unknown label code": 1, "savee: unreadable clip": 1}
    assert "DC_h04.ogg" in recordings.skipped_examples["savee: unreadable clip"][0]
