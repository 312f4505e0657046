"""``avemo benchmark ravdess-av``: audio-visual fusion (speech + OpenFace action units) on the 6 speaker-independent
RAVDESS folds.

Inputs: a folder holding ``speech16k/`` (RAVDESS audio-only speech, ``Actor_XX/03-01-EE-II-SS-RR-AA.*``; a
folder of the original ``Actor_XX`` folders works too) and ``openface_au_mean.csv`` (one row of 35 clip-mean
AUs per audio-visual clip ``01-01-EE-II-SS-RR-AA``, the same take as the audio file with modality ``03``).

Systems (every choice made on validation speakers, drawn from each fold's training speakers, never on test):

- ``speech-logreg`` / ``au-logreg``: one logistic regression per modality (the AU model's ``C`` from a small grid,
  by validation UA);
- ``late-fusion-logreg``: both models' probabilities, temperature-scaled per modality on validation, fused
  by a weighted mean of log-probabilities whose weight is chosen on validation;
- every ``fusion_*`` model (trained with modality dropout, early stopping on validation UA, a small seed
  ensemble), tested with both modalities and again with one removed (``name[-action_units]``, ``name[-speech]``).

Every system also gets a temperature fitted on the rows it chose on (the fold's validation speakers; the late-fusion
rows, cross-fitted: every training speaker, out of fold): ``ece_before`` / ``ece_after`` are the test expected
calibration errors of its raw and temperature-scaled probabilities. Writes ``summary.json``,
``results.md``, the best system's confusion matrix, a reliability diagram and a t-SNE map of its test logits.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.special import softmax

from avemo.benchmark.speech import write_summary
from avemo.benchmark.tsne import logit_embedding, write_tsne
from avemo.data.splits import Fold, make_folds
from avemo.errors import ParameterError
from avemo.labels import label_set
from avemo.modalities import Modality
from avemo.shipping.av_corpus import copies_note, late_fusion_system, load_av_corpus, suite_config
from avemo.systems.av_fusion import FUSED, AVLateFusionSystem, random_groups
from avemo.systems.av_neural import AVFusionSystem
from avemo.systems.cross_validation import FoldOutcome, cross_validate
from avemo.systems.inputs import AVInputs
from avemo.train import plots
from avemo.train.calibration import TemperatureScaler, expected_calibration_error, reliability_diagram
from avemo.train.metrics import classification_metrics, mean_std

SPEECH, AU = Modality.SPEECH, Modality.ACTION_UNITS
LATE_FUSION = "late-fusion-logreg"
#: Benchmark rows of the late-fusion system's parts: each modality's calibrated regression, and the fused output.
LINEAR_ROWS = {"speech-logreg": SPEECH, "au-logreg": AU, LATE_FUSION: FUSED}
#: Name suffix of a system's per-person adapted predictions: each test actor's unlabelled clips set the statistics.
ADAPTED = "[adapted]"
#: How the adapted systems use the test data, said beside every adapted figure.
TRANSDUCTIVE = ("adapted: each person's features are standardised by the statistics of that person's own unlabelled "
                "clips (in testing, the test actor's clips: transductive, no labels used)")


def curve_row(name: str, clips: int) -> str:
    """The name of ``name``'s adapted predictions with statistics from groups of ``clips`` clips per person."""
    return f"{name}{ADAPTED}@{clips}"


def is_curve_row(name: str) -> bool:
    return f"{ADAPTED}@" in name

DESCRIPTIONS = {
    "speech-logreg": "logistic regression on speech ({vectors}), standardised on training speakers{copies}",
    "au-logreg": "logistic regression on the 35 OpenFace AU clip means (C from {grid} on validation UA)",
    LATE_FUSION: "speech-logreg + au-logreg, per-modality temperature, weighted mean of log-probs "
                 "(weight on validation), as shipped in av-ravdess-openface",
}


# -- per-fold systems: the shipped system classes, fitted by the one cross-validation runner ---------------------


def fusion_system(cfg: Mapping[str, Any], model: str, adapt: bool = False) -> AVFusionSystem:
    """An :class:`AVFusionSystem` of one fusion model with the suite's settings (``adapt``: on per-person
    standardised inputs)."""
    fusion = cfg["fusion"]
    return AVFusionSystem(model, cfg["label_set"], cfg["speech_vectors"], fusion["model_configs"].get(model),
                          fusion["train"], fusion["seeds"], adapt=adapt)


def _uncalibrated_logits(probs: np.ndarray, temperatures: np.ndarray) -> np.ndarray:
    """Logits whose softmax is ``probs`` ``(n, C)`` before row ``i`` was scaled by temperature ``T_i``:
    ``T_i * log p_i`` (as ``softmax(T * log softmax(z / T)) = softmax(z)``); NaN rows (modality absent) become
    uniform."""
    return np.nan_to_num(temperatures[:, None] * np.log(np.maximum(probs, 1e-300)), nan=0.0)


def late_fusion_outputs(system: AVLateFusionSystem, inputs: AVInputs, fold: Fold, clips_per_person: Sequence[int] = ()
                        ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{row name: (validation logits, test logits, validation rows)}`` of the fitted late-fusion system: each
    modality's and the fused output, before the system's own temperatures (the report scales them itself, on the
    rows the system chose on: its validation rows or, cross-fitted, every training row out of fold); with an
    adapted head, the same rows adapted (``name[adapted]``: each test actor's clips set the statistics) and the
    fused output adapted from random groups of each of ``clips_per_person`` clips (:func:`curve_row`)."""
    report = system.fit_report()
    test_inputs = inputs.take(fold.test)
    test = system.modality_proba(test_inputs)
    test[FUSED] = system.fuse(test)
    out = _row_logits(report, report["validation"], test, test_inputs.au_present, "")
    if report.get("adapted") is not None:
        adapted, _ = system.adapted_proba(test_inputs)
        out.update(_row_logits(report["adapted"], report["adapted_validation"], adapted, test_inputs.au_present,
                               ADAPTED))
        val_fused, _, val_rows = out[LATE_FUSION + ADAPTED]
        for k, clips in enumerate(clips_per_person):
            grouped = test_inputs.with_people(random_groups(test_inputs.person, clips, seed=k))
            parts, _ = system.adapted_proba(grouped)
            test_fused = _row_logits(report["adapted"], report["adapted_validation"], parts,
                                     test_inputs.au_present, ADAPTED)[LATE_FUSION + ADAPTED][1]
            out[curve_row(LATE_FUSION, clips)] = (val_fused, test_fused, val_rows)
    return out


def _row_logits(report: Mapping[str, Any], val: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray],
                test_present: np.ndarray, suffix: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    temperatures = {**report["modality_temperatures"], FUSED: report["fused_temperature"]}
    both = {"validation": ~np.isnan(val[AU]).any(axis=1), "test": test_present}
    out = {}
    for row, part in LINEAR_ROWS.items():
        logits = []
        for when, probs in (("validation", val[part]), ("test", test[part])):
            t = np.full(len(probs), temperatures[part])
            if part == FUSED:  # the fused temperature applies only where both modalities were there
                t = np.where(both[when], t, 1.0)
            logits.append(_uncalibrated_logits(probs, t))
        out[row + suffix] = (logits[0], logits[1], np.asarray(val["index"]))
    return out


def fusion_outputs(variants: Mapping[str, Sequence[str]]):
    """A predictor for :func:`cross_validate`: ``{variant: (validation log-probs, test log-probs, validation
    rows)}`` of a fitted :class:`AVFusionSystem`, each variant seeing only its modalities (the validation rows: the
    fold's, which its early stopping chose on)."""

    def predict(system: AVFusionSystem, inputs: AVInputs, fold: Fold
                ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        val, test = inputs.take(fold.val), inputs.take(fold.test)
        return {key: (*(np.log(system.predict_proba(part, mods) + 1e-12) for part in (val, test)),
                      np.asarray(fold.val)) for key, mods in variants.items()}

    return predict


def _system_meta(cfg, name: str) -> dict[str, Any]:
    adapted = ADAPTED in name
    base, _, clips = name.replace(ADAPTED, "", 1).partition("@")
    meta = _base_meta(cfg, base)
    if adapted:
        meta["description"] += "; " + TRANSDUCTIVE
        if clips:
            meta["description"] += (f"; statistics from random groups of {clips} clips of a person"
                                    if int(clips) > 1 else "; every clip alone: the global head")
    return {**meta, "adapted": adapted, **({"clips_per_person": int(clips)} if clips else {})}


def _base_meta(cfg, name: str) -> dict[str, Any]:
    both = [SPEECH, AU]
    if name == "speech-logreg":
        return {"modalities": [SPEECH], "test_modalities": [SPEECH],
                "description": DESCRIPTIONS[name].format(vectors=" + ".join(cfg["speech_vectors"]),
                                                         copies=copies_note(cfg.get("speech_copies") or []))}
    if name == "au-logreg":
        return {"modalities": [AU], "test_modalities": [AU],
                "description": DESCRIPTIONS[name].format(grid=cfg["au_logreg"]["C_grid"])}
    if name == "late-fusion-logreg":
        return {"modalities": both, "test_modalities": both, "description": DESCRIPTIONS[name]}
    base, _, rest = name.partition("[")
    n_seeds = len(cfg["fusion"]["seeds"])
    desc = (f"{base}, modality dropout p={cfg['fusion']['train'].get('modality_dropout', 0.2)}, early stopping "
            f"on validation UA, {n_seeds}-seed ensemble")
    if rest:
        dropped = rest.rstrip("]").lstrip("-")
        kept = [m for m in both if m != dropped]
        return {"modalities": both, "test_modalities": kept, "description": f"{desc}; tested without {dropped}"}
    return {"modalities": both, "test_modalities": both, "description": desc}


# -- the suite -------------------------------------------------------------------------------------------------


def run_av_benchmark(data_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                     folds: Sequence[int] | None = None, systems: Sequence[str] | None = None,
                     jobs: int = 1, cache: str | None = "default",
                     options: Mapping[str, Any] | None = None, config: str | os.PathLike | None = None,
                     overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the audio-visual benchmark and write its report folder; returns the summary.

    Args:
        data_dir: folder holding ``speech16k/`` and ``openface_au_mean.csv``.
        out_dir: report folder (default ``reports/ravdess-av``).
        folds: only these folds (1-based), for quick checks.
        systems: only these fusion models (``fusion_*``); the linear systems always run.
        jobs: worker processes for feature extraction (training runs in this process).
        cache: feature-cache folder (``None`` = no cache).
        options: settings merged into the suite's (:func:`~avemo.shipping.av_corpus.suite_config`), e.g.
            ``{"speech_vectors": ["logmel:meanstd"], "fusion": {"seeds": [0]}}``.
        config: the suite's settings, ``configs/benchmarks/ravdess-av.yaml`` (each explained there), or a copy of
            it (a YAML path); ``overrides``: ``key=value`` changes of them.

    Raises:
        ParameterError: missing inputs, unknown fusion model, unusable data.
    """
    import torch

    cfg = suite_config(options, config, overrides)
    if systems:
        unknown = sorted(set(systems) - set(cfg["fusion"]["models"]))
        if unknown:
            raise ParameterError(f"systems {unknown} are not fusion models of ravdess-av: {cfg['fusion']['models']}")
        cfg["fusion"]["models"] = [m for m in cfg["fusion"]["models"] if m in systems]
    out = Path(out_dir or Path("reports") / cfg["name"])
    classes = label_set(cfg["label_set"])
    t0 = time.perf_counter()
    recordings, y, inputs, extract_seconds = load_av_corpus(data_dir, cfg, cache, jobs)
    all_folds = make_folds(cfg["protocol"], recordings)
    chosen = [f for k, f in enumerate(all_folds, 1) if not folds or k in folds]
    if not chosen:
        raise ParameterError(f"no fold selected; choose among 1..{len(all_folds)}")
    for fold in chosen:
        if not inputs.au_present[list(fold.train)].any():
            raise ParameterError(f"{fold.name}: no training recording has AU features; check the AU table names")

    variants = {"": (SPEECH, AU)}
    if cfg["fusion"]["drop_tests"]:
        variants.update({f"[-{AU}]": (SPEECH,), f"[-{SPEECH}]": (AU,)})
    adapt = cfg["adapt"]
    clips = adapt["clips_per_person"] if adapt["enabled"] else []
    factories = {LATE_FUSION: lambda fold: late_fusion_system(cfg)}
    factories.update({name: (lambda fold, name=name: fusion_system(cfg, name)) for name in cfg["fusion"]["models"]})
    if adapt["enabled"] and adapt["neural"]:
        factories.update({name + ADAPTED: (lambda fold, name=name: fusion_system(cfg, name, adapt=True))
                          for name in cfg["fusion"]["models"]})
    predict_fusion, predict_adapted = fusion_outputs(variants), fusion_outputs({ADAPTED: (SPEECH, AU)})

    def predict(system, inputs: AVInputs, fold: Fold) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if isinstance(system, AVLateFusionSystem):
            return late_fusion_outputs(system, inputs, fold, clips)
        outputs = (predict_adapted if system.adapt else predict_fusion)(system, inputs, fold)
        return {f"{system.model}{key}": v for key, v in outputs.items()}

    def progress(outcome: FoldOutcome) -> None:
        y_test = y[list(outcome.fold.test)]
        uas = "  ".join(f"{n} {100 * classification_metrics(y_test, softmax(t, 1), len(classes))['ua']:.1f}"
                        for n, (_, t, _) in outcome.test_probs.items()
                        if "[" not in n or n.endswith(ADAPTED) and "[-" not in n)
        print(f"{outcome.fold.name}: {uas}", flush=True)

    threads = torch.get_num_threads()
    torch.set_num_threads(cfg["threads"])
    t1 = time.perf_counter()
    try:
        jobs_list = [(name, fold) for fold in chosen for name in factories]
        outcomes = cross_validate(factories, inputs, y, chosen, workers=jobs, predict=predict, jobs=jobs_list,
                                  on_done=progress)
    finally:
        torch.set_num_threads(threads)
    per_fold: list[tuple[Fold, dict, dict]] = []
    seconds: dict[str, float] = {}
    for fold in chosen:
        results: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        info: dict[str, dict[str, Any]] = {}
        for outcome in (o for o in outcomes if o.fold.name == fold.name):
            results.update(outcome.test_probs)
            seconds[outcome.system] = seconds.get(outcome.system, 0.0) + outcome.seconds
            if outcome.system == LATE_FUSION:
                report = outcome.report
                info["au-logreg"] = {"C": report["au_C"]}
                info[LATE_FUSION] = {"weights": report["weights"],
                                     "modality_temperatures": report["modality_temperatures"],
                                     "fused_temperature": report["fused_temperature"]}
                if report.get("adapted"):
                    info["au-logreg" + ADAPTED] = {"C": report["adapted"]["au_C"]}
                    info[LATE_FUSION + ADAPTED] = {k: report["adapted"][k] for k in (
                        "weights", "modality_temperatures", "fused_temperature", "tau", "tau_ua", "min_recordings")}
            elif outcome.system.endswith(ADAPTED):
                info[outcome.system] = {"best_epochs": outcome.report["best_epochs"]}
            else:
                info.update({f"{outcome.system}{key}": {"best_epochs": outcome.report["best_epochs"]}
                             for key in variants})
        per_fold.append((fold, results, info))
    train_seconds = time.perf_counter() - t1
    summary, pooled = _summarise(cfg, classes, recordings, y, per_fold, inputs.au_present)
    summary["timing"] = {"extract_seconds": extract_seconds, "train_test_seconds": round(train_seconds, 1),
                         "seconds_by_system": {k: round(v, 1) for k, v in seconds.items()},
                         "total_seconds": round(time.perf_counter() - t0, 1), "cpu_count": os.cpu_count(),
                         "torch_threads": cfg["threads"], "jobs": jobs}
    summary["folds_run"] = [f.name for f in chosen]
    summary["settings"] = cfg
    write_av_report(summary, pooled, classes, out)
    return summary


def _summarise(cfg, classes, recordings, y, per_fold, face_present) -> tuple[dict[str, Any], dict[str, Any]]:
    bins = cfg["ece_bins"]
    systems: dict[str, Any] = {}
    pooled: dict[str, dict[str, list]] = {}
    for fold, results, info in per_fold:
        yt = y[list(fold.test)]
        for name, (val_logits, test_logits, val_rows) in results.items():
            yv = y[val_rows]  # the rows the system chose on
            raw = softmax(test_logits, axis=1)
            scaler = TemperatureScaler().fit(val_logits, yv)
            cal = scaler.transform(test_logits)
            m = classification_metrics(yt, cal, len(classes))
            entry = systems.setdefault(name, {**_system_meta(cfg, name), "folds": []})
            entry["folds"].append({
                "fold": fold.name, "test_speakers": list(fold.test_speakers),
                "val_speakers": list(fold.val_speakers), "ua": m["ua"], "wa": m["wa"], "macro_f1": m["macro_f1"],
                "n_test": m["n_test"], "ece_before": expected_calibration_error(raw, yt, bins),
                "ece_after": expected_calibration_error(cal, yt, bins), "temperature": scaler.temperature_,
                "confusion": m["confusion"], **_jsonable(info.get(name, {}))})
            p = pooled.setdefault(name, {"y": [], "raw": [], "cal": []})
            p["y"].append(yt)
            p["raw"].append(raw)
            p["cal"].append(cal)
    for name, entry in systems.items():
        for key in ("ua", "wa", "macro_f1", "ece_before", "ece_after"):
            stats = mean_std([f[key] for f in entry["folds"]])
            entry.setdefault("mean", {})[key], entry.setdefault("std", {})[key] = stats["mean"], stats["std"]
        entry["confusion"] = np.sum([f["confusion"] for f in entry["folds"]], axis=0).tolist()
        cm = np.asarray(entry["confusion"], float)
        entry["per_class_recall"] = (np.diag(cm) / np.maximum(cm.sum(1), 1)).tolist()
        p = pooled[name]
        yy, raw, cal = np.concatenate(p["y"]), np.concatenate(p["raw"]), np.concatenate(p["cal"])
        entry["pooled_ece"] = {"before": expected_calibration_error(raw, yy, bins),
                               "after": expected_calibration_error(cal, yy, bins)}
        pooled[name] = {"y": yy, "raw": raw, "cal": cal}
    full = [n for n, s in systems.items() if s["test_modalities"] == [SPEECH, AU] and not is_curve_row(n)]
    best = max(full, key=lambda n: systems[n]["mean"]["ua"]) if full else None
    summary = {"benchmark": cfg["name"], "corpus": cfg["corpus"], "protocol": cfg["protocol"],
               "classes": list(classes), "n_recordings": len(recordings),
               "n_with_face": int(face_present.sum()), "n_speakers": len({r.speaker for r in recordings}),
               "systems": systems, "best_system": best, "targets": _targets(systems)}
    return summary, pooled


def _jsonable(d: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _targets(systems: Mapping[str, Any]) -> dict[str, Any]:
    """The issue's targets, checked (UA in fractions)."""
    ua = {n: s["mean"]["ua"] for n, s in systems.items()}
    fusion = [n for n in ua if n.startswith("fusion_") and "[" not in n]
    out: dict[str, Any] = {}
    single = {m: ua.get(n) for m, n in ((SPEECH, "speech-logreg"), (AU, "au-logreg")) if n in ua}
    if fusion and single:
        best = max(fusion, key=ua.get)
        best_single = max(single.values())
        out["best_fusion"] = {"system": best, "ua": ua[best], "best_single_modality_ua": best_single,
                              "gain": ua[best] - best_single, "ua_ge_0.86": ua[best] >= 0.86,
                              "gain_ge_0.08": ua[best] - best_single >= 0.08}
    if fusion and "late-fusion-logreg" in ua:
        out["beats_late_fusion"] = {n: ua[n] > ua["late-fusion-logreg"] for n in fusion}
    missing = {}
    for n in fusion:
        for dropped, kept in ((AU, SPEECH), (SPEECH, AU)):
            key = f"{n}[-{dropped}]"
            if key in ua and single.get(kept) is not None:
                gap = single[kept] - ua[key]
                missing[key] = {"ua": ua[key], "single_modality_ua": single[kept], "gap": gap, "within_3": gap <= 0.03}
    if missing:
        out["missing_modality"] = missing
    both = [n for n, s in systems.items() if s["test_modalities"] == [SPEECH, AU] and not is_curve_row(n)]
    for key, adapted, target in (("not_adapted", False, 0.85), ("adapted", True, 0.90)):
        names = [n for n in both if systems[n].get("adapted", False) == adapted]
        if names:
            best = max(names, key=ua.get)
            out[key] = {"system": best, "ua": ua[best], f"ua_ge_{target:.2f}": ua[best] >= target}
            suffix = ADAPTED if adapted else ""
            singles = [n + suffix for n in ("speech-logreg", "au-logreg") if n + suffix in ua]
            if singles:  # every fusion (late and neural) against the single modalities of the same mode
                single = max(singles, key=ua.get)
                out.setdefault("fusion_gain", {})[key] = {
                    "system": best, "ua": ua[best], "single_system": single, "best_single_modality_ua": ua[single],
                    "gain": ua[best] - ua[single], "gain_ge_0.06": ua[best] - ua[single] >= 0.06}
    eight = curve_row(LATE_FUSION, 8)
    if eight in ua:
        out["eight_clips_per_person"] = {"system": eight, "ua": ua[eight], "ua_ge_0.88": ua[eight] >= 0.88}
    # ECE of the test predictions of all folds together (1440 clips, each scaled by its own fold's temperature):
    # on one fold's 240 clips a 15-bin ECE is biased upward by sampling noise, so the per-fold mean is kept
    # for reference only.
    out["ece_after_le_0.05"] = {n: s["pooled_ece"]["after"] <= 0.05 for n, s in systems.items()}
    out["ece_after_per_fold_mean_le_0.05"] = {n: s["mean"]["ece_after"] <= 0.05 for n, s in systems.items()}
    return out


def write_av_report(summary: dict[str, Any], pooled: Mapping[str, Any], classes, out: Path) -> None:
    """``summary.json``, ``results.md``, the best system's confusion matrix, reliability diagram and t-SNE map."""
    write_summary(summary, av_results_table(summary), classes, out, lambda n: "[" not in n)
    systems = summary["systems"]
    best = summary.get("best_system")
    if best:
        s = systems[best]
        plots.plot_confusion(np.asarray(s["confusion"]), classes, out / "confusion_best.png",
                             f"{best}: UA {100 * s['mean']['ua']:.1f}%")
        p = pooled[best]
        plots.plot_reliability({"before": reliability_diagram(p["raw"], p["y"]),
                                "after temperature scaling": reliability_diagram(p["cal"], p["y"])},
                               out / "reliability_best.png", f"{best}: reliability (all folds pooled)")
        write_tsne(logit_embedding(p["cal"]), [classes[i] for i in p["y"]], out,
                   f"{best}: calibrated logits of the test folds (each clip scored once, by its fold's system)")


def av_results_table(summary: dict[str, Any]) -> str:
    """Markdown table: mean ± std UA / WA / macro-F1 and ECE per system, best first."""
    rows = sorted(((n, s) for n, s in summary["systems"].items() if not is_curve_row(n)),
                  key=lambda kv: -kv[1]["mean"]["ua"])
    lines = [f"Protocol: `{summary['protocol']}` ({summary['n_recordings']} recordings, {summary['n_with_face']} "
             f"with AUs, {summary['n_speakers']} speakers, {len(summary['classes'])} classes). Mean ± std over "
             f"folds {', '.join(summary.get('folds_run', []))}. ECE: 15-bin top-label, before / after temperature "
             "scaling fitted on validation speakers (the late-fusion system's rows: on the rows it made its own "
             "choices on, with cross_fit every training actor scored out of fold), on the test predictions of all "
             "folds together (per-fold mean in brackets: on 240 clips a binned ECE is inflated by sampling "
             "noise).", "",
             "| system | trained on | tested on | UA % | WA % | macro-F1 % | ECE before % | ECE after % |",
             "|---|---|---|---|---|---|---|---|"]
    for name, s in rows:
        def cell(k, s=s):
            return f"{100 * s['mean'][k]:.1f} ± {100 * s['std'][k]:.1f}"
        def ece(when, k, s=s):
            return f"{100 * s['pooled_ece'][when]:.1f} ({100 * s['mean'][k]:.1f})"
        lines.append(f"| {name} | {'+'.join(s['modalities'])} | {'+'.join(s['test_modalities'])} | {cell('ua')} | "
                     f"{cell('wa')} | {cell('macro_f1')} | {ece('before', 'ece_before')} | "
                     f"{ece('after', 'ece_after')} |")
    lines += ["", "Systems:", ""] + [f"- `{n}`: {s['description']}" for n, s in summary["systems"].items()
                                      if "[" not in n]
    if any(s.get("adapted") for s in summary["systems"].values()):
        lines += [f"- `name{ADAPTED}`: the same recipe, {TRANSDUCTIVE}. The late-fusion system's adapted head has "
                  "its own C, temperatures, fusion weight and a prior weight that steadies the statistics of a person "
                  "with few clips, all chosen on validation actors; a person with one clip gets the global head."]
    lines += curve_table(summary)
    t = summary.get("targets", {})
    for mode, b in t.get("fusion_gain", {}).items():
        lines += ["", f"Best fusion, {mode.replace('_', ' ')}: `{b['system']}` {100 * b['ua']:.1f}% UA, "
                  f"{100 * b['gain']:+.1f} points over the best single modality (`{b['single_system']}` "
                  f"{100 * b['best_single_modality_ua']:.1f}%; target ≥ +6: "
                  f"{'met' if b['gain_ge_0.06'] else 'not met'})."]
    if "best_fusion" in t:
        b = t["best_fusion"]
        lines += ["", f"Best neural fusion: `{b['system']}` {100 * b['ua']:.1f}% UA, {100 * b['gain']:+.1f} points "
                  f"over the best single modality ({100 * b['best_single_modality_ua']:.1f}%)."]
    if "timing" in summary:
        lines += ["", f"Timing: {summary['timing']['total_seconds']} s in all "
                  f"({summary['timing']['train_test_seconds']} s training and testing)."]
    return "\n".join(lines) + "\n"


def curve_table(summary: Mapping[str, Any]) -> list[str]:
    """Markdown lines: the adapted late fusion's UA against the clips per person its statistics come from."""
    systems = summary["systems"]
    curve = sorted((s["clips_per_person"], s) for n, s in systems.items() if is_curve_row(n))
    if not curve:
        return []
    full = systems.get(LATE_FUSION + ADAPTED)
    head = "| clips per person | " + " | ".join(str(k) if k > 0 else "all" for k, _ in curve) + \
        (" | all (60) |" if full else " |")
    cells = [f"{100 * s['mean']['ua']:.1f} ± {100 * s['std']['ua']:.1f}" for _, s in curve]
    if full:
        cells.append(f"{100 * full['mean']['ua']:.1f} ± {100 * full['std']['ua']:.1f}")
    return ["", f"#### How many clips adaptation needs ({LATE_FUSION}{ADAPTED})", "",
            "Each test actor's clips are split at random into groups of k; each group's statistics adapt its own "
            "clips (k = 1: the global head). UA %, mean ± std over the folds.", "",
            head, "|---|" + "---|" * (len(cells)), "| UA % | " + " | ".join(cells) + " |"]
