"""The cross-corpus benchmark's protocol on synthetic rows: who trains, validates and tests where; scores over
the test corpus's classes; the whole suite on synthetic features with a copy of its settings (``--config``)."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.benchmark.cross_corpus import MULTI, RAVDESS_ONLY, TARGETED, TRANSFER, corpus_metrics, make_jobs
from avemo.benchmark.cross_corpus_settings import suite_settings
from avemo.data.manifest import Recording
from avemo.data.recipes import corpus_class_mask
from avemo.labels import label_set
from avemo.systems.speech_probe import CorpusInputs, SpeechProbeSystem

CORPORA = {"ravdess": 24, "nemo": 9, "emovo": 6, "turev": 6, "urdu": 29}
SETTINGS, DEFINITIONS = suite_settings()
RECIPE, ALTERNATIVES = SETTINGS["recipe_name"], [a["name"] for a in SETTINGS["alternatives"]]
PLAIN = next(a["name"] for a in SETTINGS["alternatives"] if not a["copies"])  # the one on clean clips
ATTENTIVE = next(a["name"] for a in SETTINGS["alternatives"]
                 if a["global_heads"] == ["attentive"] and not a.get("attentive_copies"))
ATTENTIVE_AUGMENTED = next(a["name"] for a in SETTINGS["alternatives"] if a.get("attentive_copies"))


@pytest.fixture(scope="module")
def rows():
    recordings, corpus, speaker = [], [], []
    for name, n in CORPORA.items():
        for s in range(1, n + 1):
            sid = f"{s:02d}" if name == "ravdess" else f"{name}:{s}"
            for k in range(2):
                recordings.append(Recording(id=f"{name}-{s}-{k}", path="/x.wav", corpus=name, speaker=sid,
                                            emotion="angry", attributes={"gender": "female" if s % 2 else "male"}))
                corpus.append(name)
                speaker.append(sid if ":" in sid else f"ravdess:{sid}")
    inputs = CorpusInputs.create(np.zeros((len(corpus), 4)), corpus, speaker, (0,))
    return recordings, inputs


def test_jobs_keep_speakers_and_corpora_apart(rows):
    recordings, inputs = rows
    jobs = make_jobs(inputs, recordings, {**SETTINGS, "corpora": list(CORPORA), "targeted": True})
    loco = [(name, fold) for protocol, name, fold in jobs if protocol == "loco"]
    assert len(loco) == 5 + 5 + 4  # both multi-corpus recipes for every held-out corpus, RAVDESS-only for four
    assert len([j for j in jobs if j[0] == "ravdess_6fold"]) == 18  # RAVDESS-only, transfer, targeted
    rav = {name: [f for p, n, f in jobs if p == "ravdess_6fold" and n == name] for name in (TRANSFER, TARGETED)}
    assert rav[TRANSFER] == rav[TARGETED]  # they differ in weights and choices, not data
    assert [f for _, n, f in jobs if n == MULTI] == [f for p, n, f in jobs if n == TRANSFER and p == "loco"]
    for protocol, name, fold in jobs:
        parts = {p: set(inputs.speaker[list(getattr(fold, p))]) for p in ("train", "val", "test")}
        assert not parts["train"] & parts["test"] and not parts["val"] & parts["test"]
        assert not parts["train"] & parts["val"]
        train_corpora = set(inputs.corpus[list(fold.train) + list(fold.val)])
        test_corpora = set(inputs.corpus[list(fold.test)])
        assert len(test_corpora) == 1
        if protocol == "loco":
            assert not train_corpora & test_corpora  # the held-out corpus is never seen
            assert len(fold.test) == 2 * CORPORA[test_corpora.pop()]
        if name == RAVDESS_ONLY:
            assert train_corpora == {"ravdess"}
        elif protocol == "loco":
            assert len(train_corpora) == 4
        else:
            assert train_corpora == set(CORPORA)
    # Every training corpus gives validation speakers (about a tenth, at least one).
    _, fold = next((n, f) for n, f in loco if n == MULTI and f.name == "loco-ravdess")
    val = inputs.speaker[list(fold.val)]
    assert {c: sum(s.startswith(c) for s in set(val)) for c in ("nemo", "emovo", "turev", "urdu")} == \
        {"nemo": 1, "emovo": 1, "turev": 1, "urdu": 3}


def test_metrics_over_the_test_corpus_classes():
    classes = label_set("ravdess8")
    mask = corpus_class_mask("turev", classes)  # angry, calm, happy, sad
    y = np.array([classes.index(c) for c in ("angry", "calm", "happy", "sad")])
    probs = np.full((4, 8), 0.01)
    probs[:, classes.index("neutral")] = 0.9  # a class turev lacks: ignored by the argmax
    probs[np.arange(4), y] = 0.5
    m = corpus_metrics(y, probs, "turev", classes)
    assert m["ua"] == 1.0 and m["wa"] == 1.0 and m["macro_f1"] == 1.0 and m["n_test"] == 4
    assert np.asarray(m["confusion"]).shape == (8, 8) and mask.sum() == 4
    assert m["top_share"] == 0.25 and (m["top_class_all"], m["top_share_all"]) == ("neutral", 1.0)
    assert "abstained" not in m
    probs[0] = 1 / 8  # one clip the model is not sure of
    m = corpus_metrics(y, probs, "turev", classes, abstain_below=0.5)
    assert m["abstained"] == 0.25 and m["wa_answered"] == 1.0 and m["ua_answered"] == 1.0


def test_a_class_that_swallows_the_rest_shows_in_the_share():
    classes = label_set("ravdess8")
    y = np.array([classes.index(c) for c in ("angry", "calm", "happy", "sad")] * 5)
    probs = np.full((20, 8), 0.01)
    probs[:, classes.index("sad")] = 0.9
    m = corpus_metrics(y, probs, "turev", classes)
    assert (m["top_class"], m["top_share"], m["ua"]) == ("sad", 1.0, 0.25)


def test_augmented_fold_adds_the_copies_of_its_training_rows_only(rows):
    from avemo.benchmark.cross_corpus import _with_copies

    recordings, inputs = rows
    _, _, fold = make_jobs(inputs, recordings, {**SETTINGS, "corpora": list(CORPORA)})[0]
    n = len(inputs)
    augmented = _with_copies(fold, [n])
    assert augmented.train == tuple(fold.train) + tuple(i + n for i in fold.train)
    assert augmented.val == fold.val and augmented.test == fold.test  # validation and test stay clean
    twice = _with_copies(fold, [n, 3 * n])  # a block of copies anywhere (rows 2n..3n: another recipe's copies)
    assert twice.train == augmented.train + tuple(i + 3 * n for i in fold.train) and twice.test == fold.test


def test_results_table_lists_variants_and_the_compensation_choices():
    from avemo.benchmark.cross_corpus_report import ADAPTED, results_table

    def entry(ua, compensation=None):
        folds = [{"test_corpus": c, "ua": ua, "top_class": "sad", "top_share": 0.5, "top_class_all": "calm",
                  "top_share_all": 0.6, "choices": {} if compensation is None else
                  {"compensation": compensation[i], "loss": "full", "layers": [0], "l2": 0.1,
                   "loco_by_loss": {"masked": 0.4, "full": 0.5}}} for i, c in enumerate(("ravdess", "urdu"))]
        return {"folds": folds, "mean": {"ua": ua}}

    corpora = {c: {"language": "x", "n_recordings": 1, "n_speakers": 1, "classes": ["angry"]}
               for c in ("ravdess", "urdu")}
    summary = {"corpora": corpora, "settings": {"model": "base"}, "ravdess_6fold": {"systems": {}},
               "variants": {"vad": DEFINITIONS["vad"]},  # what the variant run changes, for the legend
               "loco": {"systems": {MULTI: entry(0.5), MULTI + ADAPTED: entry(0.6, [1.0, 0.0]),
                                    TRANSFER: entry(0.55, [0.0, 0.0]), DEFINITIONS["vad"]["name"]: entry(0.4)}}}
    text = results_table(summary)
    assert text.startswith("#### One recording of a voice never heard")  # the single file leads
    assert "| probe-transfer+vad | 40.0 | 40.0 | 40.0 |" in text
    assert "One step of `probe-transfer` changed: `+vad` clips trimmed to their speech (Silero VAD)." in text
    assert "| probe-multicorpus | sad 50.0 (calm 60.0) | sad 50.0 (calm 60.0) | 50.0 |" in text
    assert "| probe-transfer | urdu | linear | full | [0] | 0.1 | masked 40.0, full 50.0 | 55.0 |" in text
    assert text.index("| probe-multicorpus[speaker-adapted] |") > text.index("#### Several recordings")


def synthetic_corpora(seed: int = 0, per_class: int = 2, width: int = 4, layers=(0, 1), frames: bool = False):
    """What :func:`load_corpora` returns, for five small synthetic corpora: each emotion one direction of the
    feature space, each speaker a large offset of its own (what speaker adaptation is there to remove); with
    ``frames``, each clip's frames too (its emotion's direction in every frame)."""
    rng = np.random.default_rng(seed)
    classes = label_set("ravdess8")
    dim = 2 * width * len(layers)
    emotion = rng.normal(0, 1.5, (len(classes), dim))
    recordings, y, x, corpus, speaker, clip_frames = [], [], [], [], [], []
    for name, n in CORPORA.items():
        present = np.flatnonzero(corpus_class_mask(name, classes))
        for s in range(1, n + 1):
            sid = f"{s:02d}" if name == "ravdess" else f"{name}:{s}"
            voice = rng.normal(0, 3.0, dim)
            for k in present:
                for i in range(per_class):
                    recordings.append(Recording(id=f"{name}-{s}-{k}-{i}", path="/x.wav", corpus=name, speaker=sid,
                                                emotion=classes[k], attributes={"gender": "female" if s % 2 else
                                                                                "male"}))
                    y.append(k)
                    x.append(voice + emotion[k] + rng.normal(0, 0.5, dim))
                    clip_frames.append(emotion[k][:width] + rng.normal(0, 0.5, (int(rng.integers(3, 12)), width)))
                    corpus.append(name)
                    speaker.append(sid if ":" in sid else f"ravdess:{sid}")
    inputs = CorpusInputs.create(np.array(x), corpus, speaker, layers, clip_frames if frames else None)
    return recordings, np.array(y), inputs, {name: 0.0 for name in CORPORA}


def test_the_benchmark_writes_its_report_end_to_end(tmp_path, monkeypatch):
    """The whole suite on synthetic features (the extractor replaced), with a user's copy of its settings changed
    and one more setting changed by an override: both protocols, a variant, the report's schema and figures that
    can fail (a system that learnt nothing scores near chance); run again from the command line, every fit loaded
    back."""
    import json

    import yaml

    import avemo.benchmark.cross_corpus as cross_corpus
    from avemo.systems.spec import configs_dir

    calls = []

    def fake_load(data_root, corpora, labels, cache=None, jobs=1, condition=None, **features):
        calls.append((tuple(corpora), condition, features))
        return synthetic_corpora(frames=features.get("frames", False))

    monkeypatch.setattr(cross_corpus, "load_corpora", fake_load)
    monkeypatch.chdir(tmp_path)  # the command line keeps its fits in runs/cross-corpus
    config = tmp_path / "my-cross-corpus.yaml"
    settings = yaml.safe_load((configs_dir() / "benchmarks" / "cross-corpus.yaml").read_text())
    settings.update({"corpora": list(CORPORA), "conditions": [],
                     "variants": ["masked", "telephone"], "layer_grid": [[0], [0, 1]], "l2_grid": [0.01, 0.1]})
    # the attentive recipe runs in test_a_run_of_some_systems_carries_the_other_rows_over
    settings["alternatives"] = [a for a in settings["alternatives"] if a["global_heads"] != ["attentive"]]
    alternatives = [a["name"] for a in settings["alternatives"]]
    settings["variant_definitions"]["telephone"] = {  # a variant with copies of its own
        "name": "probe-transfer+telephone", "text": "a telephone-band copy of every clip", "system": {},
        "copies": [{"condition": "telephone"}]}
    config.write_text(yaml.safe_dump(settings))
    runs = tmp_path / "runs" / "cross-corpus"
    summary = cross_corpus.run_cross_corpus_benchmark("/nowhere", tmp_path, jobs=1, cache=None, ravdess_folds=[1],
                                                      config=config, overrides=["targeted=true"], runs_dir=runs)
    assert (runs / MULTI / "loco-nemo" / "fit_key.json").is_file()
    assert summary["settings"]["targeted"] and summary["settings"]["l2_grid"] == [0.01, 0.1]
    assert summary["variants"]["masked"] == DEFINITIONS["masked"] and set(summary["variants"]) == {"masked",
                                                                                                  "telephone"}
    # the clips, then each copy the recipes train on, once (randomly degraded; the voices from the int8 encoder);
    # the first variant reuses the base features; the second loads its copies
    assert [(c[1], c[2].get("backend")) for c in calls] == [(None, None), ("random", "torch"), ("voice", "onnx-int8"),
                                                            ("telephone", "torch")]
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["loco"] == json.loads(json.dumps(summary["loco"]))
    loco = summary["loco"]["systems"]
    heads = ("", "[speaker-adapted]", "[speaker-adapted-varied]")
    assert set(loco) == {name + head for name in (MULTI, RECIPE, *alternatives, RAVDESS_ONLY, TRANSFER + "-masked",
                                                  TRANSFER + "+telephone") for head in heads}
    for fold in loco[RECIPE]["folds"]:  # chosen by the nested rule, with an abstention level
        assert fold["choices"]["loss"] in ("masked", "partial", "full") and "loco_by_loss" in fold["choices"]
        assert 0 <= fold["abstained"] <= 1 and fold["top_share"] <= 1
    multi = loco[RECIPE + "[speaker-adapted]"]
    assert [f["test_corpus"] for f in multi["folds"]] == list(CORPORA)
    assert [f["n_test"] for f in multi["folds"]] == [n * 2 * int(corpus_class_mask(c, label_set("ravdess8")).sum())
                                                     for c, n in CORPORA.items()]
    for fold in multi["folds"]:  # emotion is plainly there once each speaker's voice is taken out
        assert fold["ua"] > 0.8, fold
        assert fold["val_speakers"]
        assert not [s for s in fold["val_speakers"] if s.startswith(fold["test_corpus"] + ":")]  # held out
    assert multi["mean"]["ua"] == pytest.approx(np.mean([f["ua"] for f in multi["folds"]]))
    assert 0 <= loco[MULTI]["mean"]["ua"] <= multi["mean"]["ua"]
    rav = summary["ravdess_6fold"]["systems"]
    assert set(rav) == {name + head for name in (RECIPE, *alternatives, TARGETED, RAVDESS_ONLY) for head in heads}
    assert rav[RECIPE + heads[2]]["folds"][0]["choices"] == summary_choices(runs, RECIPE, "adapted-varied")
    # the alternative's adapted heads are plain, as its settings say (no compensation, no prior weight)
    assert rav[PLAIN + heads[1]]["folds"][0]["choices"]["compensation"] == 0.0
    assert rav[PLAIN + heads[1]]["folds"][0]["choices"]["tau"] == 0.0
    assert all(len(entry["folds"]) == 1 and entry["folds"][0]["test_speakers"] for entry in rav.values())
    assert summary["targets"]["loco_system"] == RECIPE  # the shipped recipe, named by the settings
    assert set(summary["targets"]) >= {"loco_single_file", "loco_speaker_adapted", "ravdess_6fold_single_file",
                                       "ravdess_6fold_speaker_adapted", "ravdess_6fold_speaker_adapted_varied"}
    text = (tmp_path / "results.md").read_text()
    assert "| probe-multicorpus[speaker-adapted] |" in text and "`-masked` the masked loss only" in text
    assert f"`{RECIPE}` is the shipped model's recipe" in text and f"| {PLAIN} | ravdess |" in text
    assert all(f"`{name}`, run beside it:" in text for name in alternatives)
    # the recipe rule: only systems trained on degraded copies are eligible
    assert f"| {PLAIN} | no: clean clips only |" in text and "| probe-transfer-masked | no: clean" in text
    assert f"| {RECIPE} | yes |" in text and "| probe-transfer+telephone | yes |" in text
    assert (tmp_path / "tsne.png").stat().st_size > 0
    from avemo.cli import main

    fits = []  # a second run, from the command line, loads every fitted system back and writes the same figures
    monkeypatch.setattr(SpeechProbeSystem, "_fit", lambda self, *a: fits.append(1))
    assert main(["benchmark", "cross-corpus", "--data", "/nowhere", "--out", "again", "--jobs", "1", "--cache",
                 "none", "--folds", "1", "--config", str(config), "--set", "targeted=true"]) == 0
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert not fits and again["loco"] == written["loco"] and again["ravdess_6fold"] == written["ravdess_6fold"]
    # an existing report re-written from its summary.json, nothing fitted
    table = (tmp_path / "results.md").read_text()
    (tmp_path / "results.md").write_text("stale")
    assert main(["benchmark", "cross-corpus", "--report", str(tmp_path)]) == 0
    assert not fits and (tmp_path / "results.md").read_text() == table
    assert json.loads((tmp_path / "summary.json").read_text())["targets"] == summary["targets"]
    assert main(["benchmark", "cross-corpus", "--report", str(tmp_path / "nowhere")]) == 2


def summary_choices(runs, system, head):
    """What the fitted ``system``'s ``head`` chose, read from its saved RAVDESS fold in ``runs``."""
    import json

    (folder,) = [p for p in (runs / system).iterdir() if not p.name.startswith("loco")]
    return json.loads((folder / "system.json").read_text())["heads"][head]


def test_the_recipe_to_ship_is_chosen_on_inner_scores_not_test_scores():
    from avemo.benchmark.cross_corpus_report import ADAPTED, ADAPTED_VARIED
    from avemo.benchmark.cross_corpus_tables import recipe_table

    def entry(inner, test):
        return {"folds": [{"ua": test, "choices": {"val_ua": inner, "loco_by_loss": {"masked": inner}}}]}

    loco = {"a": entry(0.40, 0.60), "b": entry(0.45, 0.30), "b[speaker-adapted]": entry(0.9, 0.9),
            "c": {"folds": [{"ua": 0.9, "choices": {"val_ua": 0.99}}]}}  # not chosen by the nested rule
    lines = recipe_table(loco, (ADAPTED, ADAPTED_VARIED))
    assert lines[-1] == "By this rule the recipe to ship is `b`."
    assert recipe_table(loco, (ADAPTED, ADAPTED_VARIED), {"b"})[-1] == "By this rule the recipe to ship is `a`."
    assert recipe_table(loco, (ADAPTED, ADAPTED_VARIED), {"a", "b"})[-1].startswith("No system is eligible")
    assert not any(line.startswith(("| c |", "| b[speaker-adapted] |")) for line in lines)
    assert recipe_table({"a": loco["a"]}, (ADAPTED, ADAPTED_VARIED)) == []


def test_recipes_of_reports_written_before_copies_keep_their_copies():
    from avemo.benchmark.cross_corpus_tables import RANDOM_COPY, clean_only, named_recipes

    old = {"recipe_name": "probe-transfer+augment", "augment": True, "compensations": [0.0, 1.0],
           "alternative": {"name": "probe-transfer-plain-adaptation", "text": "clean", "augment": False}}
    recipes = named_recipes(old)
    assert recipes["probe-transfer+augment"]["copies"] == [RANDOM_COPY]
    assert recipes["probe-transfer-plain-adaptation"]["copies"] == []
    assert clean_only({"settings": old}) == {"probe-transfer-plain-adaptation"}
    # now: every alternative by name, with its own copies; copies as another voice alone are not degraded
    recipes = named_recipes(SETTINGS)
    assert list(recipes) == [RECIPE, *ALTERNATIVES] and recipes[RECIPE]["copies"] == SETTINGS["copies"]
    voice_only = {**SETTINGS, "alternatives": [{"name": "v", "text": "", "copies": [{"condition": "voice"}]}]}
    assert clean_only({"settings": voice_only}) == {"v"}
    # an attentive global head trains on the clean clips alone, whatever copies the other heads train on
    assert ATTENTIVE in clean_only({"settings": SETTINGS}) and RECIPE not in clean_only({"settings": SETTINGS})
    assert ATTENTIVE_AUGMENTED not in clean_only({"settings": SETTINGS})


def test_a_run_of_some_systems_carries_the_other_rows_over(tmp_path, monkeypatch):
    """`--systems`: only the named systems are fitted; every other row of the report already in the folder is
    carried over unchanged and named; a name the settings do not run, a folder without a report and a report run
    with other settings are refused before anything is fitted."""
    import json

    import yaml

    import avemo.benchmark.cross_corpus as cross_corpus
    from avemo.benchmark.cross_corpus_settings import suite_settings
    from avemo.errors import ParameterError
    from avemo.systems.spec import configs_dir

    loads = []

    def fake_load(*args, **kwargs):
        loads.append((kwargs.get("condition"), kwargs.get("frames", False)))
        return synthetic_corpora(frames=kwargs.get("frames", False))

    monkeypatch.setattr(cross_corpus, "load_corpora", fake_load)
    fitted = []
    real = cross_corpus.cross_validate

    def spy(systems, *args, jobs, **kwargs):
        fitted.extend(name for name, _ in jobs)
        return real(systems, *args, jobs=jobs, **kwargs)

    monkeypatch.setattr(cross_corpus, "cross_validate", spy)
    config = tmp_path / "small.yaml"
    settings = yaml.safe_load((configs_dir() / "benchmarks" / "cross-corpus.yaml").read_text())
    settings.update({"corpora": list(CORPORA), "conditions": [], "layer_grid": [[0]], "l2_grid": [0.1]})
    config.write_text(yaml.safe_dump(settings))
    run = lambda out, folds=(1,), **kw: cross_corpus.run_cross_corpus_benchmark(  # noqa: E731
        "/nowhere", out, jobs=1, cache=None, ravdess_folds=list(folds), config=config, **kw)
    with pytest.raises(ParameterError, match="no readable summary.json"):
        run(tmp_path / "empty", systems=[RECIPE])
    first = run(tmp_path / "report")
    fitted.clear()
    with pytest.raises(ParameterError, match="not run by these settings"):
        run(tmp_path / "report", systems=["probe-nothing"])
    with pytest.raises(ParameterError, match="other settings") as refused:
        run(tmp_path / "report", systems=[RECIPE], overrides=["l2_grid=[0.01]"])
    report_grid = json.loads((tmp_path / "report" / "summary.json").read_text())["settings"]["l2_grid"]
    suggested = f"l2_grid={json.dumps(report_grid, separators=(',', ':'))}"
    assert f"--set '{suggested}'" in str(refused.value)
    with_suggestion, _ = suite_settings(config, ["l2_grid=[0.01]", suggested])  # the suggestion restores the report's
    assert with_suggestion["l2_grid"] == report_grid
    assert not fitted
    previous = json.loads((tmp_path / "report" / "summary.json").read_text())
    again = run(tmp_path / "report", systems=[PLAIN])
    assert set(fitted) == {PLAIN}
    for protocol in ("loco", "ravdess_6fold"):
        rows = again[protocol]["systems"]
        assert list(rows) == list(first[protocol]["systems"])  # the same rows, in the same order
        for row, entry in rows.items():
            if row == PLAIN or row.startswith(PLAIN + "["):
                assert entry["mlp_version"] and row not in again["carried_over"]["rows"]
            else:
                assert entry == previous[protocol]["systems"][row] and row in again["carried_over"]["rows"]
    assert again["carried_over"]["fitted"] == [PLAIN]
    text = (tmp_path / "report" / "results.md").read_text()
    assert f"This run fitted only `{PLAIN}` (`--systems`)" in text and f"`{RECIPE}[speaker-adapted]`" in text
    assert "This run fitted only RAVDESS 6-fold's folds 1 (`--folds`)." in text
    assert again["earlier_runs"] == [{"fitted": None, "timing": previous["timing"]}]  # the first run's time stays
    assert "carries over (as far back as their times were kept) took: the whole benchmark" in text
    # the recipes laid out anew: a recipe dropped takes its rows with it, and the attentive ones read the frames of
    # the clips they were tested on (the corpora's and RAVDESS's under the conditions) and the augmented one those
    # of the training copies too
    assert any(row.startswith(ATTENTIVE) for row in again["loco"]["systems"])
    assert f"| {ATTENTIVE} | nemo | attentive | masked | frames | — |" in text  # no layers or L2 to choose
    copies_read = {c for c, frames in loads if c is not None and frames}
    assert (None, True) in loads and copies_read == {c["condition"] for c in SETTINGS["copies"]}
    fewer = {**settings, "alternatives": [a for a in settings["alternatives"]
                                          if a["name"] not in (ATTENTIVE, ATTENTIVE_AUGMENTED)]}
    config.write_text(yaml.safe_dump(fewer))
    third = run(tmp_path / "report", folds=(0,), systems=[PLAIN])  # leave-one-corpus-out only
    assert not any(row.startswith(ATTENTIVE) for p in ("loco", "ravdess_6fold") for row in third[p]["systems"])
    assert not any(row.startswith(ATTENTIVE_AUGMENTED) for p in ("loco", "ravdess_6fold")
                   for row in third[p]["systems"])
    assert any(row.startswith(PLAIN) for row in third["loco"]["systems"]) and third["ravdess_folds"] == []
    assert [r["fitted"] for r in third["earlier_runs"]] == [None]  # PLAIN's earlier run: all its rows fitted anew
    assert not any(row.startswith(PLAIN) for row in third["ravdess_6fold"]["systems"])
    assert "fitted none of RAVDESS 6-fold's folds (`--folds 0`" in (tmp_path / "report" / "results.md").read_text()
    moved = {**fewer, "alternatives": [{**a, "compensations": [0.0]} if a["name"] != PLAIN else a
                                       for a in fewer["alternatives"]]}
    config.write_text(yaml.safe_dump(moved))
    with pytest.raises(ParameterError, match="new or have other settings"):
        run(tmp_path / "report", systems=[PLAIN])  # a carried recipe whose own settings changed
