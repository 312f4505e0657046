"""``avemo benchmark cross-corpus``: does the speech model work on voices and languages it never heard?

Five acted-speech corpora (RAVDESS, nEMO, EMOVO, TurEV-DB, URDU; see :mod:`avemo.systems.corpora`), one system
class (:class:`~avemo.systems.speech_probe.SpeechProbeSystem`, the shipped multi-corpus model's), two protocols:

- **leave-one-corpus-out** (``loco``): train on four corpora, test on every recording of the fifth;
- **RAVDESS 6-fold** (``ravdess_6fold``): the speaker-independent RAVDESS folds, the other four corpora added to
  every fold's training data.

Each protocol runs the system trained on several corpora (``probe-multicorpus``), the same trained also on a
randomly degraded copy of every training clip (``probe-multicorpus+augment``: the shipped model's recipe,
:data:`SHIPPED`, with the setting ``augment``) and the system trained on RAVDESS alone (``probe-ravdess-only``),
each tested with its global head (one recording at a time) and with speaker adaptation
(``[speaker-adapted]``: each test speaker's recordings standardised by that speaker's own statistics, no labels).
The multi-corpus system is also run with each step changed (:data:`VARIANTS`: the Whisper tiny.en encoder, no
emotion compensation of the speaker statistics, per-utterance normalisation, voice-activity trimming, no loudness
normalisation), so the report shows what each step does. RAVDESS 6-fold also runs the multi-corpus system built
for RAVDESS (``probe-multicorpus+target``: RAVDESS weighs as much as the other corpora together and every choice is
scored on the fold's RAVDESS validation actors), as a user with their own labelled corpus would train it. Every
system is scored three ways: global, speaker-adapted for any use (``[speaker-adapted]``) and speaker-adapted for
speakers heard in several emotions (``[speaker-adapted-varied]``; :data:`~avemo.systems.speech_probe.ADAPTED_HEADS`).
Scores are over the classes the test corpus has (the argmax taken among them). Every choice (layers, L2,
temperature) is made on validation speakers drawn from the training corpora, never on the test corpus.
Writes ``summary.json``, ``results.md`` and ``tsne.png`` (the best leave-one-corpus-out system's test logits).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from avemo.benchmark.tsne import logit_embedding, write_tsne
from avemo.data.splits import Fold, make_folds
from avemo.errors import ParameterError
from avemo.labels import corpus_class_mask, label_set
from avemo.systems.corpora import CORPUS_FOLDERS, LANGUAGES, load_corpora, stack_inputs, validation_speakers
from avemo.systems.cross_validation import cross_validate
from avemo.systems.probe_train import RECIPES, SETTINGS
from avemo.systems.speech_probe import ADAPTED_HEADS, CorpusInputs, SpeechProbeSystem
from avemo.train.metrics import mean_std

#: The shipped model's recipe (:mod:`avemo.systems.probe_train`) by the setting ``augment``, whose figures the
#: targets check: the multi-corpus system, trained with degraded copies when ``augment`` is on.
SHIPPED = RECIPES
MULTI, AUGMENTED, RAVDESS_ONLY = RECIPES[False], RECIPES[True], "probe-ravdess-only"
#: The multi-corpus system built for RAVDESS (RAVDESS 6-fold only): RAVDESS weighs as much as the other corpora
#: together and every choice is scored on the fold's RAVDESS validation actors.
TARGETED = "probe-multicorpus+target"
#: Test predictions of each system, by name suffix: global (""), and the adapted head for any use or for speakers
#: heard in several emotions (``adapt_for``).
ADAPTED, ADAPTED_VARIED = "[speaker-adapted]", "[speaker-adapted-varied]"
PREDICTIONS = {"": None, ADAPTED: "any", ADAPTED_VARIED: "varied"}
#: Settings of the suite; ``options`` of :func:`run_cross_corpus_benchmark` override them.
DEFAULTS: dict[str, Any] = {"corpora": list(CORPUS_FOLDERS), "label_set": "ravdess8", **SETTINGS,
                            # RAVDESS test clips are also scored under these recording conditions ...
                            "conditions": ["noise-10db", "reverb", "telephone", "codec", "gain-20db"],
                            # ... and run with each step changed (names of VARIANTS)
                            "variants": ["tiny.en", "no-compensation", "utterance-norm", "vad", "no-loudness"]}
#: The multi-corpus system with one step changed (run leave-one-corpus-out): its name, what it changes (for the
#: report), and the feature extractor's and the system's options.
VARIANTS: dict[str, dict[str, Any]] = {
    "tiny.en": {"name": f"{MULTI}-tiny.en", "text": "the Whisper tiny.en encoder instead of base",
                "features": {"model": "tiny.en"},
                "system": {"model": "tiny.en", "layer_grid": [[1, 2, 3], [2, 3, 4], [0, 1, 2, 3, 4]]}},
    "no-compensation": {"name": f"{MULTI}-no-compensation", "text": "plain speaker statistics",
                        "system": {"compensations": [0.0]}},
    "utterance-norm": {"name": f"{MULTI}+utterance-norm",
                       "text": "each layer's statistics standardised across their own dimensions per recording",
                       "system": {"utterance_norm": True}},
    "vad": {"name": f"{MULTI}+vad", "text": "clips trimmed to their speech (Silero VAD)", "features": {"vad": True},
            "system": {"vad": True}},
    "no-loudness": {"name": f"{MULTI}-no-loudness", "text": "no loudness normalisation",
                    "features": {"loudness_db": None}, "system": {"loudness_db": None}},
}


def _split(inputs: CorpusInputs, pool: np.ndarray, cfg: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    val = validation_speakers(inputs, pool, cfg["val_fraction"], cfg["seed"])
    is_val = np.isin(inputs.speaker[pool], list(val))
    return pool[~is_val], pool[is_val]


def _fold(name: str, train: np.ndarray, val: np.ndarray, test: np.ndarray, inputs: CorpusInputs) -> Fold:
    return Fold(name, tuple(int(i) for i in train), tuple(int(i) for i in val), tuple(int(i) for i in test),
                tuple(sorted(set(inputs.speaker[test]))), tuple(sorted(set(inputs.speaker[val]))))


def make_jobs(inputs: CorpusInputs, recordings: Sequence[Any], cfg: Mapping[str, Any],
              ravdess_folds: Sequence[int] | None = None) -> list[tuple[str, str, Fold]]:
    """``(protocol, system, fold)`` of every fit: leave-one-corpus-out, then RAVDESS 6-fold."""
    corpus = inputs.corpus
    everything = np.arange(len(inputs))
    is_ravdess = corpus == "ravdess"
    jobs: list[tuple[str, str, Fold]] = []
    for held_out in cfg["corpora"]:
        test = everything[corpus == held_out]
        train, val = _split(inputs, everything[corpus != held_out], cfg)
        jobs.append(("loco", MULTI, _fold(f"loco-{held_out}", train, val, test, inputs)))
        if held_out != "ravdess" and is_ravdess.any():
            train, val = _split(inputs, everything[is_ravdess], cfg)
            jobs.append(("loco", RAVDESS_ONLY, _fold(f"loco-{held_out}", train, val, test, inputs)))
    if is_ravdess.any():
        ravdess_rows = everything[is_ravdess]
        others = everything[~is_ravdess]
        other_train, other_val = _split(inputs, others, cfg) if len(others) else (others, others)
        for k, fold in enumerate(make_folds("ravdess-6fold", [recordings[i] for i in ravdess_rows]), 1):
            if ravdess_folds and k not in ravdess_folds:
                continue
            train, val, test = (ravdess_rows[list(part)] for part in (fold.train, fold.val, fold.test))
            alone = _fold(fold.name, train, val, test, inputs)
            jobs.append(("ravdess_6fold", RAVDESS_ONLY, alone))
            if len(others):
                multi = _fold(fold.name, np.concatenate([train, other_train]), np.concatenate([val, other_val]),
                              test, inputs)
                jobs += [("ravdess_6fold", name, multi) for name in (MULTI, TARGETED)]
    return jobs


def _with_copies(fold: Fold, n: int) -> Fold:
    """``fold`` whose training rows also include their degraded copies (rows ``i + n``)."""
    train = tuple(fold.train) + tuple(i + n for i in fold.train)
    return Fold(fold.name, train, fold.val, fold.test, fold.test_speakers, fold.val_speakers)


def corpus_metrics(y: np.ndarray, probs: np.ndarray, corpus: str, classes: Sequence[str]) -> dict[str, Any]:
    """UA, WA and macro-F1 over the classes ``corpus`` has (the argmax taken among them), and the confusion
    matrix over the full label set."""
    from sklearn.metrics import confusion_matrix, f1_score

    from avemo.train.metrics import unweighted_accuracy

    allowed = corpus_class_mask(corpus, tuple(classes))
    pred = np.where(allowed, probs, -np.inf).argmax(1)
    present = np.flatnonzero(allowed)
    return {"ua": unweighted_accuracy(y, pred), "wa": float(np.mean(pred == y)),
            "macro_f1": float(f1_score(y, pred, labels=present, average="macro", zero_division=0)),
            "n_test": int(len(y)),
            "confusion": confusion_matrix(y, pred, labels=np.arange(len(classes))).tolist()}


def run_cross_corpus_benchmark(data_root: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                               jobs: int = 2, cache: str | None = "default", ravdess_folds: Sequence[int] | None = None,
                               options: Mapping[str, Any] | None = None,
                               runs_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run the benchmark (see the module docstring) and write its report folder; returns the summary.

    ``runs_dir``: every fitted system is kept in ``runs_dir/<system>/<fold>`` and loaded back by a later run when
    it was fitted on the same rows with the same settings and code (a run that stopped part-way resumes; see
    :meth:`SpeechProbeSystem.fit`); ``None``: nothing kept.

    Raises:
        ParameterError: for missing corpora or unknown settings.
    """
    unknown = sorted(set(options or {}) - set(DEFAULTS))
    if unknown:
        raise ParameterError(f"unknown cross-corpus settings {unknown}; known: {sorted(DEFAULTS)}")
    cfg = {**DEFAULTS, **(options or {})}
    out = Path(out_dir or "reports/cross-corpus")
    classes = label_set(cfg["label_set"])
    unknown = sorted(set(cfg["variants"]) - set(VARIANTS))
    if unknown:
        raise ParameterError(f"unknown cross-corpus variants {unknown}; known: {sorted(VARIANTS)}")
    t0 = time.perf_counter()

    def load(corpora: Sequence[str], condition: str | None = None, **features: Any):
        options = {"model": cfg["model"], "loudness_db": cfg["loudness_db"], **features}
        return load_corpora(data_root, corpora, cfg["label_set"], cache=cache, jobs=jobs, condition=condition,
                            **options)

    def make_system(**changes: Any) -> Any:
        settings = {"model": cfg["model"], "layer_grid": cfg["layer_grid"], "l2_grid": cfg["l2_grid"],
                    "loudness_db": cfg["loudness_db"], **changes}
        return lambda fold: SpeechProbeSystem(cfg["label_set"], **settings)

    recordings, y, inputs, extract_seconds = load(cfg["corpora"])
    base_jobs = make_jobs(inputs, recordings, cfg, ravdess_folds)
    job_list = list(base_jobs)
    n = len(inputs)
    blocks, labels = [inputs], [y]
    if cfg["augment"]:  # rows n..2n: a randomly degraded copy of every clip, for the augmented system's training
        _, _, augmented, seconds = load(cfg["corpora"], "random")
        extract_seconds["augmented copies"] = round(sum(seconds.values()), 1)
        blocks.append(augmented)
        labels.append(y)
        job_list += [(protocol, AUGMENTED, _with_copies(fold, n)) for protocol, name, fold in job_list
                     if name == MULTI]
    ravdess_rows = np.flatnonzero(inputs.corpus == "ravdess")
    condition_rows: dict[str, np.ndarray] = {}  # condition -> its row of each RAVDESS clip, in ravdess_rows order
    if "ravdess" in cfg["corpora"]:
        for condition in cfg["conditions"]:
            _, _, degraded, seconds = load(["ravdess"], condition)
            extract_seconds[f"ravdess {condition}"] = seconds["ravdess"]
            start = sum(len(b) for b in blocks)
            condition_rows[condition] = np.arange(start, start + len(degraded))
            blocks.append(degraded)
            labels.append(y[ravdess_rows])
    everything = stack_inputs(blocks)
    y_all = np.concatenate(labels)
    position = np.full(n, -1)
    position[ravdess_rows] = np.arange(len(ravdess_rows))

    def predict(system: SpeechProbeSystem, rows: CorpusInputs, fold: Fold) -> dict[str, np.ndarray]:
        out = {}
        tests = {"": np.asarray(fold.test)}
        if not fold.name.startswith("loco") and rows is everything:
            tests.update({f"@{c}": r[position[np.asarray(fold.test)]] for c, r in condition_rows.items()})
        for suffix, test_rows in tests.items():
            test = rows.take(test_rows)
            for name, adapt_for in PREDICTIONS.items():
                out[name + suffix] = system.predict_proba(test, adapt=adapt_for is not None,
                                                          adapt_for=adapt_for or "any")
        return out

    def checkpoint(name: str, fold: Fold) -> Path | None:
        return None if runs_dir is None else Path(runs_dir) / name / fold.name

    def progress(outcome: Any) -> None:
        print(f"{outcome.system} {outcome.fold.name}: {outcome.seconds:.0f} s", flush=True)

    t1 = time.perf_counter()
    systems = {**{name: make_system() for name in (MULTI, RAVDESS_ONLY, AUGMENTED)},
               TARGETED: make_system(target_corpus="ravdess")}
    outcomes = cross_validate(systems, everything, y_all,
                              [], workers=jobs, predict=predict, jobs=[(name, fold) for _, name, fold in job_list],
                              checkpoint_dir=checkpoint, on_done=progress)
    for key in cfg["variants"]:  # the multi-corpus system with one step changed, on its own features
        variant = VARIANTS[key]
        rows = inputs
        if variant.get("features"):
            found, _, rows, seconds = load(cfg["corpora"], **variant["features"])
            if [r.id for r in found] != [r.id for r in recordings]:
                raise ParameterError(f"variant {key}: the corpora changed while the benchmark ran; run it again")
            extract_seconds.update({f"{c} ({key})": v for c, v in seconds.items()})
        todo = [(protocol, variant["name"], fold) for protocol, name, fold in base_jobs
                if name == MULTI and protocol == "loco"]
        job_list += todo
        outcomes += cross_validate({variant["name"]: make_system(**variant["system"])}, rows, y, [], workers=jobs,
                                   predict=predict, jobs=[(name, fold) for _, name, fold in todo],
                                   checkpoint_dir=checkpoint, on_done=progress)
    train_seconds = time.perf_counter() - t1
    summary: dict[str, Any] = {"benchmark": "cross-corpus", "classes": list(classes), "settings": cfg,
                               "corpora": {}, "loco": {"systems": {}}, "ravdess_6fold": {"systems": {}}}
    for c in cfg["corpora"]:
        rows = inputs.corpus == c
        summary["corpora"][c] = {"n_recordings": int(rows.sum()), "n_speakers": len(set(inputs.speaker[rows])),
                                 "language": LANGUAGES.get(c, "?"),
                                 "classes": [k for k, on in zip(classes, corpus_class_mask(c, tuple(classes))) if on]}
    for (protocol, name, fold), outcome in zip(job_list, outcomes):
        test = np.asarray(fold.test)
        test_corpus = str(inputs.corpus[test[0]])
        for variant, probs in outcome.test_probs.items():
            entry = summary[protocol]["systems"].setdefault(f"{name}{variant}", {"folds": []})
            use = PREDICTIONS[variant.split("@")[0]]
            row = {"fold": fold.name, **corpus_metrics(y[test], probs, test_corpus, classes),
                   "val_speakers": list(fold.val_speakers),
                   "choices": outcome.report.get(ADAPTED_HEADS[use] if use else "global", {})}
            row["test_corpus" if protocol == "loco" else "test_speakers"] = (
                test_corpus if protocol == "loco" else list(fold.test_speakers))
            entry["folds"].append(row)
    for protocol in ("loco", "ravdess_6fold"):
        for entry in summary[protocol]["systems"].values():
            for key in ("ua", "wa", "macro_f1"):
                stats = mean_std([f[key] for f in entry["folds"]])
                entry.setdefault("mean", {})[key], entry.setdefault("std", {})[key] = stats["mean"], stats["std"]
    summary["timing"] = {"extract_seconds": extract_seconds, "train_test_seconds": round(train_seconds, 1),
                         "total_seconds": round(time.perf_counter() - t0, 1), "cpu_count": os.cpu_count(),
                         "jobs": jobs}
    write_report(summary, out)
    _draw_tsne(summary, job_list, outcomes, y, classes, out)
    return summary


def write_report(summary: dict[str, Any], out: Path) -> None:
    """Check the targets (:func:`_targets`, for the recipe the settings ship) and write ``summary.json`` and
    ``results.md`` in ``out``."""
    summary["targets"] = _targets(summary, SHIPPED[bool(summary["settings"].get("augment"))])
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "results.md").write_text(results_table(summary))


def rewrite_report(folder: str | os.PathLike) -> dict[str, Any]:
    """Re-check the targets and rewrite ``results.md`` of an existing report from its ``summary.json`` with this
    code (no fitting; ``tsne.png`` is kept); returns the summary.

    Raises:
        ParameterError: when ``folder`` holds no cross-corpus ``summary.json``.
    """
    path = Path(folder) / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ParameterError(f"{path}: cannot read a report there ({err}); give a folder written by "
                             "`avemo benchmark cross-corpus`") from None
    if summary.get("benchmark") != "cross-corpus":
        raise ParameterError(f"{path} is not a cross-corpus summary.json")
    write_report(summary, Path(folder))
    return summary


def _draw_tsne(summary: Mapping[str, Any], job_list: Sequence[tuple[str, str, Fold]], outcomes: Sequence[Any],
               y: np.ndarray, classes: Sequence[str], out: Path) -> Path | None:
    """``tsne.png``: the logits of the best leave-one-corpus-out system (by mean UA), each recording scored once,
    by the system trained without its corpus."""
    loco = summary["loco"]["systems"]
    if not loco:
        return None
    best = max(loco, key=lambda n: loco[n]["mean"]["ua"])
    tests, probs = [], []
    for (protocol, name, fold), outcome in zip(job_list, outcomes):
        for variant, p in outcome.test_probs.items():
            if protocol == "loco" and f"{name}{variant}" == best:
                tests.append(np.asarray(fold.test))
                probs.append(p)
    test = np.concatenate(tests)
    return write_tsne(logit_embedding(np.concatenate(probs)), [classes[i] for i in y[test]], out,
                      f"{best}: logits of every corpus's recordings, leave-one-corpus-out (each scored once, by "
                      "the system trained without its corpus)")


def _by_corpus(entry: Mapping[str, Any]) -> dict[str, float]:
    return {f["test_corpus"]: f["ua"] for f in entry["folds"]}


def _targets(summary: Mapping[str, Any], shipped: str) -> dict[str, Any]:
    """The issue's targets, checked (UA in fractions): leave-one-corpus-out for the ``shipped`` recipe, RAVDESS
    6-fold for the multi-corpus systems."""
    out: dict[str, Any] = {"loco_system": shipped}
    loco = summary["loco"]["systems"]
    keys = {"": "global", ADAPTED: "speaker_adapted", ADAPTED_VARIED: "speaker_adapted_varied"}
    for variant, key in keys.items():
        multi, alone = loco.get(shipped + variant), loco.get(RAVDESS_ONLY + variant)
        if multi:
            ua = _by_corpus(multi)
            base = _by_corpus(alone) if alone else {}
            out[f"loco_{key}"] = {"mean_ua": multi["mean"]["ua"], "mean_ua_ge_0.55": multi["mean"]["ua"] >= 0.55,
                                  "beats_ravdess_only": {c: ua[c] > base[c] for c in base if c in ua}}
    rav = summary["ravdess_6fold"]["systems"]
    for name, prefix in ((MULTI, "ravdess_6fold"), (AUGMENTED, "ravdess_6fold_augment"),
                         (TARGETED, "ravdess_6fold_target")):
        for variant, key in keys.items():
            if name + variant in rav:
                ua = rav[name + variant]["mean"]["ua"]
                out[f"{prefix}_{key}"] = {"ua": ua, "ua_ge_0.82": ua >= 0.82}
    return out


def _variant_legend(summary: Mapping[str, Any]) -> str:
    names = set(summary["loco"]["systems"])
    run = [f"`{v['name'][len(MULTI):]}` {v['text']}" for v in VARIANTS.values() if v["name"] in names]
    return " One step changed: " + "; ".join(run) + "." if run else ""


def results_table(summary: Mapping[str, Any]) -> str:
    """Markdown: UA per held-out corpus and the mean (leave-one-corpus-out), then the RAVDESS 6-fold table."""
    corpora = list(summary["corpora"])
    shipped = summary.get("targets", {}).get("loco_system")
    lines = ["Leave-one-corpus-out: trained on the other four corpora, tested on every recording of the held-out "
             "one; UA % over the classes it has (chance: 1 / its number of classes). `[speaker-adapted]`: each "
             "test speaker's recordings standardised by that speaker's own statistics (no labels), with each "
             "recording's expected emotion offset (from the global head's probabilities) taken out of the "
             "statistics first where the validation speakers chose that (emotion compensation: a speaker heard "
             "mostly in one emotion keeps it), its compensation and prior weight chosen on validation speakers "
             "for any use (few, all or one-emotion recordings of a speaker); `[speaker-adapted-varied]`: chosen for "
             "speakers adapted with all of their recordings, heard in several emotions. `+augment`: also trained on "
             "a randomly degraded copy of every training clip (noise, reverberation, gain, Opus, the telephone band)"
             + (f"; `{shipped}` is the shipped model's recipe." if shipped else ".") + _variant_legend(summary),
             "",
             "| system | " + " | ".join(corpora) + " | mean |", "|---|" + "---|" * (len(corpora) + 1)]
    for name, entry in summary["loco"]["systems"].items():
        ua = _by_corpus(entry)
        cells = [f"{100 * ua[c]:.1f}" if c in ua else "—" for c in corpora]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {100 * np.mean(list(ua.values())):.1f} |")
    chosen = [f["choices"].get("compensation", 0.0) for name, entry in summary["loco"]["systems"].items()
              if name == (shipped or MULTI) + ADAPTED for f in entry["folds"]]
    if chosen:
        lines += ["", f"`{shipped or MULTI}[speaker-adapted]` took the emotion offsets out (compensation chosen on "
                  f"validation speakers) in {sum(c > 0 for c in chosen)} of its {len(chosen)} leave-one-corpus-out "
                  "folds."]
    target = summary.get("targets", {}).get("loco_speaker_adapted")
    if target:
        beaten = target["beats_ravdess_only"]
        lines += ["", f"Targets for the shipped recipe `{shipped}[speaker-adapted]`: mean UA "
                  f"{100 * target['mean_ua']:.1f}% (≥ 55%: {'met' if target['mean_ua_ge_0.55'] else 'not met'}); "
                  f"above the RAVDESS-only system on {sum(beaten.values())} of the {len(beaten)} other held-out "
                  "corpora."]
    lines += ["", "Corpora: " + "; ".join(f"{c} ({s['language']}, {s['n_recordings']} clips, {s['n_speakers']} "
                                          f"speakers, {len(s['classes'])} classes)"
                                          for c, s in summary["corpora"].items()) + ".", ""]
    rav = {n: s for n, s in summary["ravdess_6fold"]["systems"].items() if "@" not in n}
    if rav:
        lines += ["RAVDESS 6-fold (speaker-independent; `probe-multicorpus` adds the other four corpora to each "
                  "fold's training data, `+augment` also a degraded copy of every training clip; `+target` is "
                  "built for RAVDESS: RAVDESS weighs as much as the other four corpora together, and the layers, "
                  "L2, compensation and prior weight are chosen on the fold's RAVDESS validation actors alone). "
                  "Mean ± std over folds:", "", "| system | UA % | WA % | macro-F1 % |",
                  "|---|---|---|---|"]
        for name, s in sorted(rav.items(), key=lambda kv: -kv[1]["mean"]["ua"]):
            lines.append(f"| {name} | " + " | ".join(f"{100 * s['mean'][k]:.1f} ± {100 * s['std'][k]:.1f}"
                                                      for k in ("ua", "wa", "macro_f1")) + " |")
    conditions = summary["settings"].get("conditions", [])
    if rav and conditions:
        every = summary["ravdess_6fold"]["systems"]
        lines += ["", "Recording conditions: the same RAVDESS test clips (6 folds) with pink noise at 10 dB SNR, "
                  "reverberation (RT60 0.6 s), the telephone band (300-3400 Hz through 8 kHz), Opus at 12 kbit/s and "
                  "20 dB less gain; UA %:", "", "| system | clean | " + " | ".join(conditions) + " |",
                  "|---|" + "---|" * (len(conditions) + 1)]
        for name in sorted(rav, key=lambda n: -rav[n]["mean"]["ua"]):
            cells = [f"{100 * every[f'{name}@{c}']['mean']['ua']:.1f}" if f"{name}@{c}" in every else "—"
                     for c in conditions]
            lines.append(f"| {name} | {100 * rav[name]['mean']['ua']:.1f} | " + " | ".join(cells) + " |")
    t = summary.get("timing", {})
    if t:
        lines += ["", f"Feature extraction (Whisper {summary['settings']['model']}, every layer; 0 s: from the cache): "
                  + ", ".join(f"{c} {s} s" for c, s in t["extract_seconds"].items())
                  + f"; training and testing every system {t['train_test_seconds']:.0f} s with {t['jobs']} workers "
                  f"on {t['cpu_count']} cores."]
    return "\n".join(lines) + "\n"
