"""`avemo train speech-multicorpus` end to end on tiny synthetic corpora laid out like the real ones (the eight the
shipped recipe trains on, with the nested rule), with a copy of the recipe (``--config``); the recipe's settings."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from avemo.cli import main
from avemo.data.recipes import corpus_classes
from avemo.io.synth import synth_voice
from avemo.labels import label_set
from avemo.systems.spec import configs_dir

SR = 16000
CLASSES = label_set("ravdess8")
PITCH = dict(zip(CLASSES, (100.0, 120.0, 145.0, 175.0, 210.0, 250.0, 300.0, 360.0)))
EMOVO = {"disgust": "dis", "happy": "gio", "neutral": "neu", "fearful": "pau", "angry": "rab", "surprised": "sor",
         "sad": "tri"}
CREMAD = {"angry": "ANG", "disgust": "DIS", "fearful": "FEA", "happy": "HAP", "neutral": "NEU", "sad": "SAD"}
SAVEE = {"angry": "a", "disgust": "d", "fearful": "f", "happy": "h", "neutral": "n", "sad": "sa", "surprised": "su"}
ASED = {"neutral": "01Neutral", "fearful": "02Fearful", "happy": "03Happy", "sad": "04Sad", "angry": "05Angry"}
NEMO = {"angry": "anger", "fearful": "fear", "happy": "happiness", "neutral": "neutral", "sad": "sadness",
        "surprised": "surprised"}


def _write(path, emotion, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, synth_voice(0.6, PITCH[emotion], SR, seed=seed) * 0.3, SR)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    seed = 0
    for actor in (1, 2, 3):
        for code, emotion in enumerate(CLASSES, 1):
            _write(root / "ravdess" / f"Actor_{actor:02d}" / f"03-01-{code:02d}-01-01-01-{actor:02d}.wav", emotion,
                   seed := seed + 1)
    rows = []
    for speaker in ("AA0", "BB0"):
        for k, emotion in enumerate(corpus_classes("nemo")):
            name = f"{speaker}_{NEMO[emotion]}_{k}.wav"
            _write(root / "nemo" / "samples" / name, emotion, seed := seed + 1)
            rows.append(f"{name}\t{NEMO[emotion]}\tx\tx\t{speaker}\tmale\t30\n")
    (root / "nemo" / "data.tsv").write_text("file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage\n"
                                            + "".join(rows))
    for speaker in ("f1", "m1"):
        for emotion in corpus_classes("emovo"):
            _write(root / "emovo" / speaker / f"{EMOVO[emotion]}-{speaker}-b1.wav", emotion, seed := seed + 1)
    for speaker in ("1111", "2222"):
        for emotion in corpus_classes("turev"):
            _write(root / "turev" / emotion.capitalize() / f"{speaker}_ab_word.wav", emotion, seed := seed + 1)
    for speaker in ("SM1", "SF2"):
        for emotion in corpus_classes("urdu"):
            letter = emotion[0].upper()
            _write(root / "urdu" / emotion.capitalize() / f"{speaker}_F1_{letter}01.wav", emotion, seed := seed + 1)
    for actor in ("1002", "1003"):
        for emotion, code in CREMAD.items():
            _write(root / "cremad" / actor / f"{actor}_DFA_{code}_XX.wav", emotion, seed := seed + 1)
    for speaker in ("DC", "JE"):
        for emotion, code in SAVEE.items():
            _write(root / "savee" / speaker / f"{speaker}_{code}01.wav", emotion, seed := seed + 1)
    for gender, number in (("01", "09"), ("02", "09")):  # two people: ASED keys speakers by gender + number
        for emotion, folder in ASED.items():
            name = f"{folder[2].lower()}{folder[1]}-01-01-{gender}-{number}.wav"
            _write(root / "ased" / folder / name, emotion, seed := seed + 1)
    return root


def test_train_speech_multicorpus(corpora, tmp_path, monkeypatch, capsys):
    from avemo.inference.engine import InferenceEngine

    from avemo.systems.speech_probe import SpeechProbeSystem

    from avemo.shipping import probe_train

    monkeypatch.setenv("AVEMO_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # the fit is kept in runs/speech-multicorpus
    recipe = tmp_path / "my-recipe.yaml"  # a user's copy of the shipped recipe, changed: one strength, fewer fits,
    shipped = (configs_dir() / "shipping" / "speech-multicorpus.yaml").read_text()  # plain adaptation
    assert "\ncompensations: [0.0, 1.0]\ntau_grid: null\n" in shipped
    copies = "copies: [{condition: random}, {condition: voice, backend: onnx-int8}]"
    assert copies in shipped  # the voice copies from the reference encoder here: the int8 one is built apart
    recipe.write_text(shipped.replace("l2_grid: [0.01, 0.1, 1.0]", "l2_grid: [0.1]").replace(
        "\ncompensations: [0.0, 1.0]\ntau_grid: null\n", "\ncompensations: [0.0]\ntau_grid: [0.0]\n").replace(
        copies, "copies: [{condition: random}, {condition: voice}]"))
    out = tmp_path / "model"
    train = ["train", "speech-multicorpus", "--data", str(corpora), "--out", str(out), "--jobs", "1",
             "--config", str(recipe)]
    assert main(train) == 0
    assert (tmp_path / "runs" / "speech-multicorpus" / "fit_key.json").is_file()
    doc = json.loads((out / "system.json").read_text())
    assert doc["kind"] == "speech-probe" and doc["classes"] == list(CLASSES)
    assert doc["l2_grid"] == [0.1] and doc["info"]["command"].endswith(f"--config {recipe}")
    assert set(doc["info"]["corpora"]) == set(probe_train.recipe()["corpora"]) and len(doc["info"]["corpora"]) == 8
    assert doc["heads"]["global"]["loss"] in ("masked", "partial", "full") and doc["selection"] == "loco"
    assert doc["heads"]["global"]["abstain_below"] > 0  # the nested rule's "uncertain" level
    # plain per-speaker standardisation, as the copy says: no emotion compensation, no prior weight
    assert doc["compensations"] == [0.0] and doc["tau_grid"] == [0.0]
    assert doc["heads"]["adapted"]["compensation"] == 0.0 and doc["heads"]["adapted"]["tau"] == 0.0
    assert doc["info"]["validation_speakers"]  # drawn from every corpus
    clips = sum(c["n_recordings"] for c in doc["info"]["corpora"].values())
    assert doc["info"]["augmented"] and doc["info"]["corpora"]["ravdess"]["n_recordings"] == 24  # copies apart
    assert doc["info"]["copies"] == [{"condition": "random"}, {"condition": "voice"}]
    assert clips < doc["info"]["n_recordings"] < 3 * clips  # + two copies of the training (not validation) speakers'
    assert (doc["info"]["n_recordings"] - clips) % 2 == 0
    card = (out / "MODEL_CARD.md").read_text()
    for words in ("Polish", "Italian", "Turkish", "Urdu", "non-commercial", "speaker-adapted", "validation speakers"):
        assert words in card, words
    engine = InferenceEngine(out, modalities=("speech",))
    result = engine.predict_signal(synth_voice(1.0, PITCH["angry"], SR) * 0.3, SR)
    assert result.status in ("ok", "uncertain") and set(result.probabilities) == set(CLASSES)
    fits = []  # a second run (a new model card, say) loads the kept fit instead of fitting again
    monkeypatch.setattr(SpeechProbeSystem, "_fit", lambda self, *a: fits.append(1))
    assert main(train) == 0
    info = json.loads((out / "system.json").read_text())["info"]
    assert not fits and info["validation_speakers"] and info["fit_loaded_from"] == "runs/speech-multicorpus"
    assert "train_seconds" not in info and doc["info"]["train_seconds"] > 0
    assert main(["train", "speech-multicorpus", "--data", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "ravdess" in capsys.readouterr().err
    report = tmp_path / "summary.json"  # a cross-corpus report without this recipe's figures
    report.write_text(json.dumps({"benchmark": "cross-corpus", "loco": {"systems": {"probe-transfer": {}}}}))
    assert main(train + ["--cv-report", str(report)]) == 2
    err = capsys.readouterr().err
    assert "no figures of the recipe 'probe-transfer+augment+voices+mlp'" in err and len(err.strip().splitlines()) == 1
