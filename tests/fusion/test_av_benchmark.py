"""run_av_benchmark end to end on a tiny synthetic RAVDESS-named corpus (speech + a clip-mean AU table)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from corpora import write_ravdess_av

from avemo.benchmark.av import av_results_table, run_av_benchmark
from avemo.cli import main
from avemo.data.recipes import prepare
from avemo.errors import ParameterError
from avemo.data.splits import make_folds
from avemo.shipping.av_corpus import av_clip_name, face_matrix, late_fusion_system, load_av_corpus, suite_config
from avemo.systems.av_fusion import FUSED
from avemo.train.calibration import expected_calibration_error

FOLDS = [1, 2]
MODELS = ["fusion_concat", "fusion_decision", "fusion_attention", "fusion_transformer"]
OPTIONS = {"speech_vectors": ["logmel:meanstd"], "speech_copies": [], "au_logreg": {"C_grid": [0.1, 1.0]},
           "fusion": {"seeds": [0], "train": {"epochs": 3, "patience": 2}}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """24 actors x 8 emotions: a 0.6-s synthetic voice (emotion in the pitch) and a row of AU means (emotion in
    two AUs, plus noise), in the shared layout ``speech16k/Actor_XX/`` + ``openface_au_mean.csv``."""
    return write_ravdess_av(tmp_path_factory.mktemp("ravdess_av"))


def test_face_matrix_pairs_by_take(corpus):
    recs = prepare("ravdess", corpus / "speech16k")
    x, present = face_matrix(recs, corpus / "openface_au_mean.csv")
    assert x.shape == (192, 35) and present.all()
    assert av_clip_name("03-01-05-01-02-01-12") == "01-01-05-01-02-01-12"
    for r, row in zip(recs, x):
        emo = int(r.id.split("-")[2])
        assert row[(emo - 1) % 35] >= 1.0  # the AU row of the same take


def test_av_benchmark_summary(corpus, tmp_path):
    out = tmp_path / "report"
    summary = run_av_benchmark(corpus, out, folds=FOLDS, cache=str(tmp_path / "cache"), options=OPTIONS)

    assert summary["protocol"] == "ravdess-6fold"
    assert summary["classes"] == ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    assert summary["n_recordings"] == 192 and summary["n_with_face"] == 192 and summary["n_speakers"] == 24
    assert summary["folds_run"] == ["fold1", "fold2"]
    expected = {"speech-logreg", "au-logreg", "late-fusion-logreg"}
    expected |= {f"{m}{v}" for m in MODELS for v in ("", "[-action_units]", "[-speech]")}
    # every system adapted per person too, and the adapted late fusion from 1, 2, 4 and 8 clips per person
    expected |= {f"{n}[adapted]" for n in ("speech-logreg", "au-logreg", "late-fusion-logreg", *MODELS)}
    expected |= {f"late-fusion-logreg[adapted]@{k}" for k in (1, 2, 4, 8)}
    systems = summary["systems"]
    assert set(systems) == expected
    for entry in systems.values():
        assert {"folds", "mean", "std", "modalities", "test_modalities", "description"} <= set(entry)
        assert entry["description"]
        assert len(entry["folds"]) == len(FOLDS)
        for fold in entry["folds"]:
            assert {"fold", "test_speakers", "ua", "wa", "macro_f1", "n_test", "ece_before", "ece_after"} <= set(fold)
            assert fold["n_test"] == 4 * 8
            assert not set(fold["val_speakers"]) & set(fold["test_speakers"])
            for key in ("ua", "wa", "macro_f1", "ece_before", "ece_after"):
                assert 0.0 <= fold[key] <= 1.0
        for key in ("ua", "wa", "macro_f1", "ece_before", "ece_after"):
            assert entry["mean"][key] == pytest.approx(np.mean([f[key] for f in entry["folds"]]))
        assert np.asarray(entry["confusion"]).shape == (8, 8) and np.sum(entry["confusion"]) == 64
    assert systems["fusion_concat[-action_units]"]["test_modalities"] == ["speech"]
    assert systems["fusion_concat[-speech]"]["test_modalities"] == ["action_units"]
    assert systems["fusion_concat"]["modalities"] == systems["fusion_concat"]["test_modalities"] == \
        ["speech", "action_units"]
    assert systems["speech-logreg"]["modalities"] == ["speech"]
    assert systems["au-logreg"]["modalities"] == ["action_units"]
    assert [f["fold"] for f in systems["au-logreg"]["folds"]] == ["fold1", "fold2"]
    assert systems["au-logreg"]["folds"][0]["test_speakers"] == ["01", "11", "20", "21"]
    # Both modalities carry the emotion: the linear systems learn it (chance is 0.125).
    assert systems["au-logreg"]["mean"]["ua"] >= 0.5
    assert systems["late-fusion-logreg"]["mean"]["ua"] >= 0.5
    assert summary["best_system"] in systems and "[" not in summary["best_system"]
    assert "best_fusion" in summary["targets"] and "missing_modality" in summary["targets"]
    assert {"adapted", "not_adapted", "eight_clips_per_person"} <= set(summary["targets"])
    assert summary["targets"]["adapted"]["system"].endswith("[adapted]")
    gain = summary["targets"]["fusion_gain"]  # every fusion against the single modalities of its own mode
    assert gain["adapted"]["single_system"] in ("speech-logreg[adapted]", "au-logreg[adapted]")
    assert gain["not_adapted"]["gain"] == pytest.approx(
        gain["not_adapted"]["ua"] - max(systems["speech-logreg"]["mean"]["ua"], systems["au-logreg"]["mean"]["ua"]))
    assert "Best fusion, not adapted:" in (out / "results.md").read_text()
    assert systems["late-fusion-logreg[adapted]"]["adapted"] and not systems["late-fusion-logreg"]["adapted"]
    assert "transductive" in systems["fusion_concat[adapted]"]["description"]
    assert systems["late-fusion-logreg[adapted]@1"]["clips_per_person"] == 1
    # one clip per person: the global head
    assert systems["late-fusion-logreg[adapted]@1"]["folds"][0]["confusion"] == \
        systems["late-fusion-logreg"]["folds"][0]["confusion"]

    # The late-fusion row is the shipped AVLateFusionSystem fitted on the fold's split: same predictions, and
    # (every clip has AUs) the report's validation temperature is the system's own, so the same ECE.
    cfg = suite_config(OPTIONS)
    recordings, y, inputs, _ = load_av_corpus(corpus, cfg, str(tmp_path / "cache"))
    fold = make_folds(cfg["protocol"], recordings)[0]
    system = late_fusion_system(cfg).fit(inputs, y, (fold.train, fold.val))
    probs = system.predict_proba(inputs.take(fold.test))
    row = systems["late-fusion-logreg"]["folds"][0]
    assert row["val_speakers"] == list(fold.val_speakers)
    confusion = np.zeros((8, 8), int)
    np.add.at(confusion, (y[list(fold.test)], probs.argmax(1)), 1)
    assert row["confusion"] == confusion.tolist()
    assert row["ece_after"] == pytest.approx(expected_calibration_error(probs, y[list(fold.test)], 15), abs=1e-6)
    assert systems["au-logreg"]["folds"][0]["C"] == system.au_C_
    # ... and its adapted row, each test actor's clips adapting that actor
    parts, adapted = system.adapted_proba(inputs.take(fold.test))
    assert adapted.all()
    confusion = np.zeros((8, 8), int)
    np.add.at(confusion, (y[list(fold.test)], parts[FUSED].argmax(1)), 1)
    assert systems["late-fusion-logreg[adapted]"]["folds"][0]["confusion"] == confusion.tolist()
    assert "How many clips adaptation needs" in (out / "results.md").read_text()

    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["systems"].keys() == systems.keys()
    assert (out / "results.md").read_text() == av_results_table(summary)
    for name in ("confusion_best.png", "reliability_best.png", "per_class_recall.png"):
        assert (out / name).stat().st_size > 1000, name


def test_av_benchmark_missing_inputs(corpus, tmp_path, capsys):
    (tmp_path / "noau" / "speech16k").mkdir(parents=True)
    with pytest.raises(ParameterError, match="openface_au_mean.csv"):
        run_av_benchmark(tmp_path / "noau", tmp_path / "r", options=OPTIONS)
    (tmp_path / "empty").mkdir()
    assert main(["benchmark", "ravdess-av", "--data", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "speech16k" in err and len(err.strip().splitlines()) == 1
    assert main(["benchmark", "ravdess-av"]) == 2
    assert "--data" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="not fusion models"):
        run_av_benchmark(corpus, tmp_path / "r", systems=["nope"], options=OPTIONS)
