"""The settings that train the shipped models and run their benchmarks live in YAML (``configs/shipping/``,
``configs/benchmarks/``). Read back, they are exactly the values the Python dicts held before they moved there
(types included: a fit key hashes them, so kept fits stay valid) and those the shipped models were trained with;
a copied config with a bad, missing or wrongly typed key fails on one line naming the file and the key."""

from __future__ import annotations

import json

import pytest

from avemo.benchmark.cross_corpus_settings import suite_settings
from avemo.cli import main
from avemo.errors import ParameterError
from avemo.shipping.av_corpus import late_fusion_system, suite_config
from avemo.shipping.probe_train import recipe
from avemo.systems.speech_probe import SpeechProbeSystem
from avemo.systems.spec import configs_dir

PRETRAINED = configs_dir().parent / "pretrained"
# Literal copies of the dicts the settings were in: avemo.shipping.probe_train.SETTINGS,
# avemo.benchmark.cross_corpus.DEFAULTS and VARIANTS, avemo.shipping.av_corpus.DEFAULTS (with the YAML then over it).
PROBE_SETTINGS = {"model": "base", "loudness_db": -23.0,
                  "corpora": ["ravdess", "nemo", "emovo", "turev", "urdu", "cremad", "savee", "ased"],
                  "layer_grid": [[2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5, 6]],
                  "l2_grid": [1e-2, 1e-1, 1.0],
                  "val_fraction": 0.1, "seed": 0,
                  "copies": [{"condition": "random"}, {"condition": "voice", "backend": "onnx-int8"}],
                  "losses": ["masked", "partial", "full"], "selection": "loco", "abstain_coverage": 0.8,
                  "compensations": [0.0, 1.0], "tau_grid": None, "global_heads": ["linear", "mlp"],
                  "attentive_copies": False, "recipe_name": "probe-transfer+augment+voices+mlp"}
CROSS_CORPUS_DEFAULTS = {"corpora": ["ravdess", "nemo", "emovo", "turev", "urdu", "cremad", "savee", "ased"],
                         "label_set": "ravdess8", "model": "base", "loudness_db": -23.0,
                         "layer_grid": [[2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5, 6]], "l2_grid": [1e-2, 1e-1, 1.0],
                         "val_fraction": 0.1, "seed": 0, "copies": PROBE_SETTINGS["copies"],
                         "losses": ["masked", "partial", "full"], "selection": "loco", "abstain_coverage": 0.8,
                         "compensations": [0.0, 1.0], "tau_grid": None, "global_heads": ["linear", "mlp"],
                         "attentive_copies": False, "recipe_name": "probe-transfer+augment+voices+mlp",
                         "alternatives": [
                             {"name": "probe-transfer+augment+voices+attentive-augmented",
                              "text": "the same recipe with attentive statistics pooling over each clip's frames as "
                                      "the global head, trained on the clean clips and on the frames of their "
                                      "randomly degraded copies and copies as another voice; the adapted heads as "
                                      "in the recipe",
                              "copies": PROBE_SETTINGS["copies"], "compensations": [0.0, 1.0], "tau_grid": None,
                              "global_heads": ["attentive"], "attentive_copies": True},
                             {"name": "probe-transfer+augment+voices+attentive",
                              "text": "the same recipe with attentive statistics pooling over each clip's frames as "
                                      "the global head, trained on the clean clips alone (the copies' frames set "
                                      "aside), which reports/cross-corpus/head-check's nested rule chose over the "
                                      "heads on clip statistics on clean clips; the adapted heads as in the recipe",
                              "copies": PROBE_SETTINGS["copies"], "compensations": [0.0, 1.0], "tau_grid": None,
                              "global_heads": ["attentive"]},
                             {"name": "probe-transfer+augment+voices",
                              "text": "the same recipe with the softmax regression as the only kind of global head "
                                      "(the recipe shipped before)",
                              "copies": PROBE_SETTINGS["copies"], "compensations": [0.0, 1.0], "tau_grid": None,
                              "global_heads": ["linear"]},
                             {"name": "probe-transfer+augment",
                              "text": "the same nested rule with the softmax regression as the only kind of global "
                                      "head and without the copies as another voice (trained on the clean clips and "
                                      "a randomly degraded copy of each)",
                              "copies": [{"condition": "random"}], "compensations": [0.0, 1.0],
                              "tau_grid": None, "global_heads": ["linear"]},
                             {"name": "probe-transfer-plain-adaptation",
                              "text": "the same nested rule on clean clips only, with the softmax regression as the "
                                      "only kind of global head, each speaker's recordings standardised by plain "
                                      "statistics (no emotion compensation, no prior weight)",
                              "copies": [], "compensations": [0.0], "tau_grid": [0.0],
                              "global_heads": ["linear"]}],
                         "conditions": ["noise-10db", "telephone"], "targeted": False, "variants": []}
CROSS_CORPUS_VARIANTS = {
    **{loss: {"name": f"probe-transfer-{loss}", "text": f"the {loss} loss only (layers and L2 by the nested rule)",
              "system": {"losses": [loss]}} for loss in ("masked", "partial", "full")},
    "plain-adaptation": {"name": "probe-transfer-plain-adaptation",
                         "text": "plain per-speaker standardisation (no emotion compensation, no prior weight)",
                         "system": {"compensations": [0.0], "tau_grid": [0.0]}},
    "augment-plain-adaptation": {
        "name": "probe-transfer+augment+plain-adaptation",
        "text": "trained also on a randomly degraded copy of every training clip (as the recipe shipped before), each "
                "speaker's recordings standardised by plain statistics (no emotion compensation, no prior weight)",
        "system": {"compensations": [0.0], "tau_grid": [0.0]}, "copies": [{"condition": "random"}]},
    "tiny.en": {"name": "probe-transfer-tiny.en", "text": "the Whisper tiny.en encoder instead of base",
                "features": {"model": "tiny.en"},
                "system": {"model": "tiny.en", "layer_grid": [[1, 2, 3], [2, 3, 4], [0, 1, 2, 3, 4]]}},
    "utterance-norm": {"name": "probe-transfer+utterance-norm",
                       "text": "each layer's statistics standardised across their own dimensions per recording",
                       "system": {"utterance_norm": True}},
    "vad": {"name": "probe-transfer+vad", "text": "clips trimmed to their speech (Silero VAD)",
            "features": {"vad": True}, "system": {"vad": True}},
    "no-loudness": {"name": "probe-transfer-no-loudness", "text": "no loudness normalisation",
                    "features": {"loudness_db": None}, "system": {"loudness_db": None}},
}
AV_SUITE = {
    "name": "ravdess-av", "corpus": "ravdess", "protocol": "ravdess-6fold", "label_set": "ravdess8",
    "speech_dir": "speech16k", "au_table": "openface_au_mean.csv", "speech_vectors": ["whisper_stats"],
    "speech_copies": [{"condition": "voice", "backend": "onnx-int8"}],
    "speech_logreg": {"C": 0.05}, "au_logreg": {"C_grid": [0.01, 0.1, 1.0]},
    "late_fusion": {"step": 0.05, "cross_fit": 6},
    "refit_train_val": True,
    "fusion": {"models": ["fusion_concat", "fusion_decision", "fusion_attention", "fusion_transformer"],
               "seeds": [0, 1, 2], "train": {"modality_dropout": 0.3, "epochs": 100, "patience": 15},
               "model_configs": {}, "drop_tests": True},
    "adapt": {"enabled": True, "neural": True, "clips_per_person": [1, 2, 4, 8]},
    "ece_bins": 15, "threads": 1,
}


def typed(value):
    """``value`` with the type of every part beside it (``1`` and ``1.0``, lists and tuples differ), keys in order."""
    if isinstance(value, dict):
        return ("dict", [(k, typed(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__name__, value)


def test_settings_read_from_yaml_are_the_old_dicts_exactly():
    assert typed(recipe()) == typed(PROBE_SETTINGS)
    settings, variants = suite_settings()
    assert typed(settings) == typed(CROSS_CORPUS_DEFAULTS) and typed(variants) == typed(CROSS_CORPUS_VARIANTS)
    assert typed(suite_config()) == typed(AV_SUITE)
    # what went into fit keys and reports hashes and prints the same
    assert json.dumps(recipe()) == json.dumps(PROBE_SETTINGS) and json.dumps(settings) == json.dumps(
        CROSS_CORPUS_DEFAULTS)


def test_the_shipped_recipe_is_the_benchmark_candidate_and_the_shipped_models_were_trained_with_it():
    shipped = recipe()
    benchmark, _ = suite_settings()
    assert {key: benchmark[key] for key in shipped} == shipped
    doc = json.loads((PRETRAINED / "speech-multicorpus" / "system.json").read_text())
    for key in ("model", "loudness_db", "layer_grid", "l2_grid", "losses", "selection", "abstain_coverage",
                "compensations", "global_heads"):
        assert doc[key] == shipped[key], key
    assert doc["tau_grid"] == (shipped["tau_grid"] or list(SpeechProbeSystem.TAU_GRID))  # null: the default grid
    assert list(doc["info"]["corpora"]) == shipped["corpora"] and doc["info"]["copies"] == shipped["copies"]
    assert doc["info"].get("recipe_name", shipped["recipe_name"]) == shipped["recipe_name"]  # named since 12-2026
    av = json.loads((PRETRAINED / "av-ravdess-openface" / "system.json").read_text())
    system = late_fusion_system(suite_config())
    assert (av["label_set"], av["speech_vectors"], av["speech_C"], av["au_C_grid"], av["fusion"]["weight_step"],
            av["refit"], av["adapt"], av["tau_grid"], av["cross_fit"]) == \
        (system.label_set, system.speech_vectors, system.speech_C, system.au_C_grid, system.weight_step,
         system.refit, system.adapt, system.tau_grid, system.cross_fit)
    assert av["info"]["speech_copies"] == suite_config()["speech_copies"]
    assert av["info"]["n_speech_copies"] == len(suite_config()["speech_copies"])


def test_overrides_keep_the_types():
    changed = recipe(overrides=["loudness_db=-20", "l2_grid=[1e-2, 1]", "abstain_coverage=null"])
    assert typed(changed["loudness_db"]) == ("float", -20.0) and typed(changed["l2_grid"]) == typed([0.01, 1.0])
    assert changed["abstain_coverage"] is None
    settings, _ = suite_settings(overrides=["variants=[vad]", "targeted=true"])
    assert settings["variants"] == ["vad"] and settings["targeted"] is True
    assert suite_config(overrides=["fusion.seeds=[0]"])["fusion"]["seeds"] == [0]


@pytest.mark.parametrize("group,name,edit,words", [
    ("shipping", "speech-multicorpus", lambda t: t + "l2grid: [0.1]\n", ["unknown setting 'l2grid'", "l2_grid"]),
    ("shipping", "speech-multicorpus", lambda t: t.replace("\nseed: 0\n", "\n"), ["'seed' is missing"]),
    ("shipping", "speech-multicorpus", lambda t: t.replace("losses: [masked,", "losses: [masks,"),
     ["'losses.0'", "'masks'"]),
    ("benchmarks", "cross-corpus", lambda t: t.replace("variants: []", "variants: [vad, louder]"),
     ["'variants'", "unknown variants ['louder']"]),
    ("benchmarks", "cross-corpus", lambda t: t.replace("variants: []", "variants: [plain-adaptation]"),
     ["'variants'", "named as the recipe"]),
    ("benchmarks", "cross-corpus", lambda t: t.replace("features: {vad: true}", "features: {trim: true}"),
     ["'variant_definitions.vad.features.trim.[key]'"]),
    ("benchmarks", "ravdess-av", lambda t: t.replace("seeds: [0, 1, 2]", "seed: [0, 1, 2]"),
     ["unknown setting 'fusion.seed'", "'fusion.seeds' is missing"]),
    ("benchmarks", "ravdess-av", lambda t: t.replace("threads: 1", "threads: one"), ["'threads'", "'one'"]),
])
def test_a_bad_copy_fails_on_one_line_naming_the_file_and_the_key(tmp_path, group, name, edit, words):
    path = tmp_path / "copy.yaml"
    path.write_text(edit((configs_dir() / group / f"{name}.yaml").read_text()))
    read = {"speech-multicorpus": recipe, "cross-corpus": suite_settings,
            "ravdess-av": lambda config: suite_config(config=config)}[name]
    with pytest.raises(ParameterError) as err:
        read(config=path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for w in words:
        assert w in message, message


def test_the_commands_take_a_copy_and_report_a_bad_one(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text((configs_dir() / "shipping" / "speech-multicorpus.yaml").read_text() + "epochs: 3\n")
    data = tmp_path / "data"
    data.mkdir()
    assert main(["train", "speech-multicorpus", "--data", str(data), "--out", str(tmp_path / "m"),
                 "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(bad) in err and "'epochs'" in err and len(err.splitlines()) == 1
    for suite in ("cross-corpus", "ravdess-av"):
        assert main(["benchmark", suite, "--data", str(data), "--config", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert str(bad) in err and "unknown setting" in err and len(err.splitlines()) == 1
    assert main(["train", "speech-multicorpus", "--data", str(data), "--out", str(tmp_path / "m"),
                 "--set", "seed=first"]) == 2
    assert "'seed'" in capsys.readouterr().err
    assert main(["benchmark", "speed", "--config", str(bad)]) == 2
    assert "--config is for cross-corpus and ravdess-av" in capsys.readouterr().err
    assert main(["train", "egemaps-logreg", "--data", str(data), "--out", str(tmp_path / "m"),
                 "--config", str(bad)]) == 2
    assert "--config is for speech-multicorpus and av-late-fusion" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="not found"):
        recipe("no-such-recipe")
