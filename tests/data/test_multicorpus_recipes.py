"""The nEMO, EMOVO, TurEV-DB and URDU recipes: on a few tiny synthetic files laid out like each corpus (speakers,
labels, attributes, what is skipped and why, the error for a folder with nothing recognisable), and on the real
corpora (conftest's require_data: $AVEMO_DATA or ../shared/data) when present."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avemo.data.recipes import RECIPES, RecipeRecordings, corpus_class_mask, corpus_classes, prepare
from avemo.data.recipes.emovo import prepare_emovo
from avemo.data.recipes.nemo import prepare_nemo
from avemo.data.recipes.turev import prepare_turev
from avemo.data.recipes.urdu import prepare_urdu
from avemo.errors import CorpusError, ParameterError
from avemo.io.audio import load_audio


def clip(root: Path, name: str) -> Path:
    """A 0.1 s 16 kHz tone (WAV or Ogg, from the extension)."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.1 * np.sin(2 * np.pi * 220 * np.arange(1600) / 16000).astype(np.float32)
    fmt = {"wav": ("WAV", "PCM_16"), "ogg": ("OGG", "VORBIS")}[name.rsplit(".", 1)[1]]
    sf.write(path, x, 16000, format=fmt[0], subtype=fmt[1])
    return path


def by_id(recordings):
    return {r.id: r for r in recordings}


# ---- nEMO ------------------------------------------------------------------------------------------------------

NEMO_HEADER = "file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage\n"


def nemo_dir(root: Path, ext: str = "ogg") -> Path:
    rows = [("WR0_surprised_64.wav", "surprised", "Ucho.", "ucho", "        WR0", "male", "23"),
            ("EB0_anger_1.wav", "anger", "Tak.", "tak", "  EB0 ", "female", "27"),
            ("EB0_happiness_2.wav", " happiness ", "Nie.", "nie", "EB0", "female", "27"),
            ("KS0_fear_3.wav", "fear", "A.", "a", "KS0", "male", "23"),
            ("KS0_boredom_4.wav", "boredom", "B.", "b", "KS0", "male", "23"),      # unknown label
            ("KS0_sadness_5.wav", "sadness", "C.", "c", "KS0", "male", "23")]      # file missing
    (root / "data.tsv").parent.mkdir(parents=True, exist_ok=True)
    (root / "data.tsv").write_text(NEMO_HEADER + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    for r in rows[:5]:
        clip(root / "samples", r[0].replace(".wav", f".{ext}"))
    clip(root / "samples", f"XX0_neutral_9.{ext}")  # not listed in data.tsv
    return root


@pytest.mark.parametrize("ext", ["ogg", "wav"])
def test_nemo_speakers_labels_attributes(tmp_path, ext, caplog):
    with caplog.at_level(logging.WARNING, logger="avemo.data.recipes"):
        recs = prepare_nemo(nemo_dir(tmp_path, ext))
    assert isinstance(recs, RecipeRecordings) and isinstance(recs, list)
    recs_by_id = by_id(recs)
    assert sorted(recs_by_id) == ["EB0_anger_1", "EB0_happiness_2", "KS0_fear_3", "WR0_surprised_64"]
    r = recs_by_id["WR0_surprised_64"]
    assert (r.corpus, r.speaker, r.emotion) == ("nemo", "nemo:WR0", "surprised")
    assert r.attributes == {"language": "pl", "gender": "male", "age": 23, "text": "Ucho."}
    assert r.path.endswith(f"WR0_surprised_64.{ext}") and Path(r.path).is_file()
    assert recs_by_id["EB0_anger_1"].speaker == "nemo:EB0" and recs_by_id["EB0_anger_1"].emotion == "angry"
    assert recs_by_id["EB0_happiness_2"].emotion == "happy"
    assert recs_by_id["KS0_fear_3"].emotion == "fearful"
    assert recs.skipped == {"unknown label code": 1, "missing file": 1, "audio file not listed in data.tsv": 1}
    assert recs.n_skipped == 3
    assert "KS0_sadness_5.wav" in recs.skipped_examples["missing file"]
    warning = " ".join(m for m in caplog.messages if "nemo" in m)
    assert "skipped 3 of 7" in warning and "missing file" in warning and "unknown label code" in warning


def test_nemo_without_data_tsv_or_columns(tmp_path):
    clip(tmp_path / "samples", "WR0_anger_1.ogg")
    with pytest.raises(CorpusError, match="data.tsv"):
        prepare_nemo(tmp_path)
    (tmp_path / "data.tsv").write_text("file_id\temotion\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="speaker_id"):
        prepare_nemo(tmp_path)


def test_nemo_with_no_usable_row(tmp_path):
    (tmp_path / "data.tsv").write_text(NEMO_HEADER + "A_anger_1.wav\tanger\tx\tx\tA\tmale\t20\n", encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        prepare_nemo(tmp_path)
    message = str(err.value)
    assert "\n" not in message and "1 missing file" in message and "samples/" in message


# ---- EMOVO -----------------------------------------------------------------------------------------------------

def test_emovo(tmp_path):
    for name in ("f1/dis-f1-b1.ogg", "f1/gio-f1-l2.ogg", "m3/pau-m3-n5.wav", "m3/rab-m3-d1.wav",
                 "f2/sor-f2-b2.ogg", "f2/tri-f2-b3.ogg", "f2/neu-f2-l1.ogg",
                 "f2/xyz-f2-b1.ogg",          # unknown emotion code
                 "f2/notes.ogg",              # unreadable name
                 "f2/neu-f2-l1.wav"):         # the same take again, as WAV
        clip(tmp_path, name)
    (tmp_path / "README.txt").write_text("not audio")
    recs = prepare_emovo(tmp_path)
    r = by_id(recs)
    assert {k: v.emotion for k, v in r.items()} == {
        "dis-f1-b1": "disgust", "gio-f1-l2": "happy", "pau-m3-n5": "fearful", "rab-m3-d1": "angry",
        "sor-f2-b2": "surprised", "tri-f2-b3": "sad", "neu-f2-l1": "neutral"}
    assert r["pau-m3-n5"].speaker == "emovo:m3" and r["pau-m3-n5"].attributes == {
        "language": "it", "gender": "male", "sentence": "n5"}
    assert r["dis-f1-b1"].attributes["gender"] == "female"
    assert recs.skipped == {"unknown label code": 1, "unrecognised file name": 1, "same take in another format": 1}


def test_emovo_nothing_recognisable(tmp_path):
    clip(tmp_path, "f1/hello.ogg")
    with pytest.raises(CorpusError, match=r"expected .*dis-f1-b1") as err:
        prepare_emovo(tmp_path)
    assert "\n" not in str(err.value) and "1 unrecognised file name" in str(err.value)
    with pytest.raises(CorpusError):
        prepare_emovo(tmp_path / "missing")


# ---- TurEV-DB --------------------------------------------------------------------------------------------------

def test_turev(tmp_path):
    for name in ("Angry/1157_kz_acik.ogg", "Calm/1234_hl_bal.ogg", "Happy/1234_sk_gel.wav", "Sad/7895_mt_su.ogg",
                 "Sad/word_only.ogg",        # no speaker number
                 "Bored/1157_kz_x.ogg",      # not a class folder
                 "1157_kz_y.ogg"):           # not in any folder
        clip(tmp_path, name)
    recs = prepare_turev(tmp_path)
    r = by_id(recs)
    assert {k: (v.speaker, v.emotion) for k, v in r.items()} == {
        "Angry/1157_kz_acik": ("turev:1157", "angry"), "Calm/1234_hl_bal": ("turev:1234", "calm"),
        "Happy/1234_sk_gel": ("turev:1234", "happy"), "Sad/7895_mt_su": ("turev:7895", "sad")}
    assert r["Angry/1157_kz_acik"].attributes == {"language": "tr", "tag": "kz", "word": "acik"}
    assert recs.skipped == {"unrecognised file name": 1, "not in a class folder (Angry, Calm, Happy, Sad)": 2}


def test_turev_nothing_recognisable(tmp_path):
    clip(tmp_path, "Other/1_a_b.ogg")
    with pytest.raises(CorpusError, match=r"expected \{Angry,Calm,Happy,Sad\}"):
        prepare_turev(tmp_path)


# ---- URDU ------------------------------------------------------------------------------------------------------

def test_urdu(tmp_path):
    for name in ("Angry/SM1_F1_A01.ogg", "Happy/SF3_F2_H016.ogg", "Neutral/SM20_F1_N01.wav", "Sad/SF10_F1_S01.ogg",
                 "Sad/SM2_F1_A02.ogg",       # letter A in the Sad folder
                 "Happy/SM5_F1_X03.ogg",     # unknown letter
                 "Angry/speaker1.ogg"):      # unreadable name
        clip(tmp_path, name)
    recs = prepare_urdu(tmp_path)
    r = by_id(recs)
    assert {k: (v.speaker, v.emotion, v.attributes["gender"]) for k, v in r.items()} == {
        "SM1_F1_A01": ("urdu:SM1", "angry", "male"), "SF3_F2_H016": ("urdu:SF3", "happy", "female"),
        "SM20_F1_N01": ("urdu:SM20", "neutral", "male"), "SF10_F1_S01": ("urdu:SF10", "sad", "female")}
    assert all(v.attributes["language"] == "ur" and v.corpus == "urdu" for v in recs)
    assert recs.skipped == {"label letter disagrees with the folder": 1, "unknown label code": 1,
                            "unrecognised file name": 1}
    assert recs.skipped_examples["label letter disagrees with the folder"] == [str(Path("Sad/SM2_F1_A02.ogg"))]


def test_urdu_nothing_recognisable(tmp_path):
    clip(tmp_path, "Sad/SM2_F1_A02.ogg")
    with pytest.raises(CorpusError, match="disagrees with the folder"):
        prepare_urdu(tmp_path)


# ---- registry, class sets --------------------------------------------------------------------------------------

def test_registered_and_prepare_keeps_skip_counts(tmp_path):
    assert {"nemo", "emovo", "turev", "urdu"} <= set(RECIPES)
    clip(tmp_path, "f1/dis-f1-b1.ogg")
    clip(tmp_path, "f1/zzz-f1-b1.ogg")
    recs = prepare("emovo", tmp_path, tmp_path / "out" / "emovo.jsonl")
    assert len(recs) == 1 and recs.skipped == {"unknown label code": 1}
    assert (tmp_path / "out" / "emovo.jsonl").read_text().count("\n") == 1


def test_corpus_classes_and_masks():
    assert corpus_classes("turev") == ("calm", "happy", "sad", "angry")
    assert corpus_classes("urdu") == ("neutral", "happy", "sad", "angry")
    assert corpus_classes("nemo") == ("neutral", "happy", "sad", "angry", "fearful", "surprised")
    assert corpus_classes("emovo") == ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    assert corpus_class_mask("turev").tolist() == [False, True, True, True, True, False, False, False]
    assert corpus_class_mask("ravdess").all()
    assert corpus_class_mask("urdu", ["angry", "calm", "neutral"]).tolist() == [True, False, True]
    with pytest.raises(ParameterError):
        corpus_classes("nope")


def test_speakers_unique_across_corpora(tmp_path):
    recs = (prepare_emovo(clip(tmp_path, "e/f1/dis-f1-b1.ogg").parents[1])
            + prepare_turev(clip(tmp_path, "t/Angry/1_kz_a.ogg").parents[1])
            + prepare_urdu(clip(tmp_path, "u/Angry/SF1_F1_A01.ogg").parents[1]))
    assert [r.speaker for r in recs] == ["emovo:f1", "turev:1", "urdu:SF1"]


# ---- the real corpora ------------------------------------------------------------------------------------------

REAL = {  # corpus: (clips, speakers, classes). URDU's paper counts 38 speakers; its file names hold 29 codes.
    "nemo": (4481, 9, {"angry": 749, "fearful": 736, "happy": 749, "neutral": 809, "sad": 769, "surprised": 669}),
    "emovo": (588, 6, {e: 84 for e in ("disgust", "happy", "neutral", "fearful", "angry", "surprised", "sad")}),
    "turev": (1735, 6, {"angry": 487, "calm": 408, "happy": 357, "sad": 483}),
    "urdu": (400, 29, {"angry": 100, "happy": 100, "neutral": 100, "sad": 100}),
}


@pytest.mark.corpus
@pytest.mark.parametrize("corpus", sorted(REAL))
def test_real_corpus_counts(corpus, require_data):
    path = require_data(corpus, what=f"the {corpus} corpus")
    recs = prepare(corpus, path)
    n, n_speakers, classes = REAL[corpus]
    assert len(recs) == n and recs.skipped == {}
    assert len({r.speaker for r in recs}) == n_speakers
    assert all(r.speaker.startswith(f"{corpus}:") for r in recs)
    assert dict(Counter(r.emotion for r in recs)) == classes
    assert set(classes) == set(corpus_classes(corpus))
    assert {r.attributes["language"] for r in recs} == {{"nemo": "pl", "emovo": "it", "turev": "tr",
                                                         "urdu": "ur"}[corpus]}
    x = load_audio(recs[0].path)
    assert x.dtype == np.float32 and x.size > 1600
