"""run_speech_benchmark end to end on a tiny synthetic RAVDESS-named corpus: report contents and the feature cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
from corpora import write_ravdess_voices, write_speech_suite

from avemo.benchmark.speech import load_suite, results_table, run_speech_benchmark
from avemo.errors import ParameterError
from avemo.features.audio import LogMelExtractor



@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """24 actors x 8 emotions, one 1-s synthetic voice each; the emotion is encoded in the pitch."""
    return write_ravdess_voices(tmp_path_factory.mktemp("ravdess"), 1.0)


@pytest.fixture()
def configs(tmp_path, monkeypatch):
    root = write_speech_suite(tmp_path / "configs", "tiny-suite")
    monkeypatch.setenv("AVEMO_CONFIGS", str(root))
    return root


def test_load_suite(configs):
    assert load_suite("tiny-suite")["systems"] == ["tiny-linear", "tiny-neural"]
    with pytest.raises(ParameterError, match="tiny-suite"):
        load_suite("nope")


def test_benchmark_report_and_feature_cache(corpus, configs, tmp_path, monkeypatch):
    cache, out = tmp_path / "cache", tmp_path / "report"
    summary = run_speech_benchmark(corpus, "tiny-suite", out_dir=out, folds=[1], jobs=1, cache=str(cache))

    assert summary["protocol"] == "ravdess-6fold" and summary["corpus"] == "ravdess"
    assert summary["classes"] == ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    assert summary["n_recordings"] == 192 and summary["n_speakers"] == 24
    assert summary["folds_run"] == ["fold1"]
    assert set(summary["systems"]) == {"tiny-linear", "tiny-neural", "tiny-linear@random"}
    for name in ("tiny-linear", "tiny-neural"):
        entry = summary["systems"][name]
        assert len(entry["folds"]) == 1
        fold = entry["folds"][0]
        assert fold["fold"] == "fold1" and fold["test_speakers"] == ["01", "11", "20", "21"]
        assert fold["n_test"] == 4 * 8
        assert not set(fold["val_speakers"]) & set(fold["test_speakers"])
        for key in ("ua", "wa", "macro_f1"):
            assert 0.0 <= fold[key] <= 1.0
            assert entry["mean"][key] == pytest.approx(fold[key])
            assert entry["std"][key] == pytest.approx(0.0)
        assert np.asarray(entry["confusion"]).shape == (8, 8) and np.sum(entry["confusion"]) == 32
    assert summary["systems"]["tiny-linear"]["mean"]["ua"] >= 0.5  # pitch is learnable; chance is 0.125
    assert summary["systems"]["tiny-neural"]["folds"][0]["best_epochs"] == [1]
    leak = summary["leakage"]
    assert leak["system"] == "tiny-linear" and leak["protocol"] == "random"
    assert leak["speaker_independent_ua"] == summary["systems"]["tiny-linear"]["mean"]["ua"]
    assert leak["random_split_ua"] == summary["systems"]["tiny-linear@random"]["mean"]["ua"]
    assert summary["best_system"] in ("tiny-linear", "tiny-neural")

    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["systems"].keys() == summary["systems"].keys()
    results = (out / "results.md").read_text()
    assert "tiny-linear" in results and "tiny-neural" in results and "Leakage gap" in results
    assert results == results_table(summary)
    for name in ("per_class_recall.png", "confusion_tiny-linear.png", "confusion_tiny-neural.png",
                 "confusion_tiny-linear_at_random.png", "roc_best.png", "curves_tiny-neural.png"):
        assert (out / name).stat().st_size > 1000, name
    assert list(cache.rglob("*.npy")), "features were not cached"

    # Second run: every feature comes from the cache.
    calls = []
    original = LogMelExtractor.process_file

    def counting(self, *args, **kwargs):
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LogMelExtractor, "process_file", counting)
    again = run_speech_benchmark(corpus, "tiny-suite", out_dir=tmp_path / "report2", systems=["tiny-linear"],
                                 folds=[1], jobs=1, cache=str(cache))
    assert calls == []
    want = summary["systems"]["tiny-linear"]["mean"]["ua"]
    assert again["systems"]["tiny-linear"]["mean"]["ua"] == pytest.approx(want)
    assert set(again["systems"]) == {"tiny-linear", "tiny-linear@random"}


def test_benchmark_unknown_system(corpus, configs, tmp_path):
    with pytest.raises(ParameterError, match="not in suite"):
        run_speech_benchmark(corpus, "tiny-suite", out_dir=tmp_path, systems=["other"], folds=[1], jobs=1,
                             cache=None)


def test_report_folder_drops_plots_of_systems_no_longer_in_the_suite(tmp_path):
    from avemo.benchmark.speech import remove_stale_plots

    for name in ("confusion_kept", "curves_kept", "confusion_kept_at_random", "confusion_gone", "curves_gone",
                 "confusion_best", "per_class_recall", "roc_best"):
        (tmp_path / f"{name}.png").write_bytes(b"png")
    removed = remove_stale_plots(tmp_path, ["kept", "kept@random"])
    assert sorted(p.name for p in removed) == ["confusion_gone.png", "curves_gone.png"]
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == ["confusion_best", "confusion_kept",
                                                              "confusion_kept_at_random", "curves_kept",
                                                              "per_class_recall", "roc_best"]
