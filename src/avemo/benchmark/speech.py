"""``avemo benchmark ravdess-speech``: every speech system on the 6 speaker-independent folds, plus one system on
a random (speaker-leaking) split to show the leakage gap. Writes ``summary.json``, ``results.md`` and plots."""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm

from avemo.benchmark.tsne import logit_embedding, write_tsne
from avemo.data.recipes import prepare
from avemo.data.splits import make_folds
from avemo.errors import ParameterError
from avemo.features.store import FeatureStore, extract_all
from avemo.labels import label_set
from avemo.systems.cross_validation import FoldOutcome, cross_validate
from avemo.systems.spec import load_spec, load_suite
from avemo.systems.speech import SpeechSystem
from avemo.train import plots
from avemo.train.metrics import classification_metrics, mean_std


def _unfitted(spec, fold) -> SpeechSystem:
    return SpeechSystem(spec)


def run_speech_benchmark(data_dir: str | os.PathLike, suite: str = "ravdess-speech",
                         out_dir: str | os.PathLike | None = None, systems: Sequence[str] | None = None,
                         folds: Sequence[int] | None = None, jobs: int = 2, cache: str | None = "default",
                         overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Run a speech benchmark suite and write its report folder; returns the summary.

    Args:
        data_dir: the corpus folder (e.g. RAVDESS's ``Actor_XX`` folders).
        suite: a file name under ``configs/benchmarks/``.
        out_dir: report folder (default ``reports/<suite>``).
        systems: run only these systems of the suite.
        folds: run only these folds (1-based), for quick checks.
        jobs: worker processes for extraction and training.
        cache: feature-cache folder (``None`` = no cache).
        overrides: ``key=value`` overrides applied to every system (e.g. ``train.epochs=2``).
    """
    cfg = load_suite(suite)
    out = Path(out_dir or Path("reports") / suite)
    names = list(systems or cfg["systems"])
    unknown = sorted(set(names) - set(cfg["systems"]) - {cfg.get("leakage", {}).get("system")})
    if unknown:
        raise ParameterError(f"systems {unknown} are not in suite {suite!r}: {cfg['systems']}")
    specs = {n: load_spec(n, list(overrides)) for n in names}
    leak = cfg.get("leakage")
    if leak and leak["system"] not in specs:
        specs[leak["system"]] = load_spec(leak["system"], list(overrides))
    classes = label_set(cfg.get("label_set", "ravdess8"))
    recordings = prepare(cfg["corpus"], data_dir, **cfg.get("corpus_options", {}))
    y = np.array([classes.index(r.emotion) for r in recordings])
    protocol_folds = make_folds(cfg["protocol"], recordings)
    chosen = [f for k, f in enumerate(protocol_folds, 1) if not folds or k in folds]
    extractors = {k: e for s in specs.values() for k, e in s.feature_extractors().items()}
    t0 = time.perf_counter()
    features, extract_seconds = extract_all(recordings, extractors, FeatureStore(cache), jobs)
    # A combination whose parts are in the suite averages their fold predictions instead of training them again.
    reused = {n for n in names if specs[n].kind == "combination"
              and all(p.name in names for p in specs[n].part_specs())}
    job_list = [(n, f) for n in names if n not in reused for f in chosen]
    if leak:
        leak_folds = make_folds(leak["protocol"], recordings)
        job_list += [(f"{leak['system']}@{leak['protocol']}", f)
                     for k, f in enumerate(leak_folds, 1) if not folds or k in folds]
        specs[f"{leak['system']}@{leak['protocol']}"] = specs[leak["system"]]
    bar = tqdm(total=len(job_list), desc="train+test", unit="fold")
    t1 = time.perf_counter()
    factories = {name: functools.partial(_unfitted, spec) for name, spec in specs.items()}
    outcomes = cross_validate(factories, features, y, chosen, workers=jobs, jobs=job_list,
                              on_done=lambda o: bar.update())
    bar.close()
    by_job = {(o.system, o.fold.name): o for o in outcomes}
    for name in reused:
        parts = [p.name for p in specs[name].part_specs()]
        for f in chosen:
            probs = np.mean([by_job[(p, f.name)].test_probs for p in parts], axis=0)
            outcomes.append(FoldOutcome(name, f, probs, {}, sum(by_job[(p, f.name)].seconds for p in parts)))
    train_seconds = time.perf_counter() - t1
    summary = _summarise(cfg, classes, recordings, y, outcomes, specs, leak)
    summary["timing"] = {"extract_seconds": extract_seconds, "train_test_seconds": round(train_seconds, 1),
                         "total_seconds": round(time.perf_counter() - t0, 1), "jobs": jobs,
                         "cpu_count": os.cpu_count()}
    summary["folds_run"] = [f.name for f in chosen]
    write_report(summary, outcomes, y, classes, out)
    return summary


def _summarise(cfg, classes, recordings, y, outcomes: list[FoldOutcome], specs, leak) -> dict[str, Any]:
    systems: dict[str, Any] = {}
    for o in outcomes:
        m = classification_metrics(y[list(o.fold.test)], o.test_probs, len(classes))
        entry = systems.setdefault(o.system, {"description": specs[o.system].description,
                                              "spec": specs[o.system].to_dict(), "folds": []})
        entry["folds"].append({"fold": o.fold.name, "test_speakers": list(o.fold.test_speakers),
                               "val_speakers": list(o.fold.val_speakers), "seconds": round(o.seconds, 1),
                               "best_epochs": [int(np.argmax(h["val_ua"])) + 1 for h in o.report.get("histories", [])
                                              if h.get("val_ua")],
                               **m})
    for entry in systems.values():
        for key in ("ua", "wa", "macro_f1", "roc_auc_ovr"):
            stats = mean_std([f[key] for f in entry["folds"]])
            entry.setdefault("mean", {})[key], entry.setdefault("std", {})[key] = stats["mean"], stats["std"]
        entry["confusion"] = np.sum([f["confusion"] for f in entry["folds"]], axis=0).tolist()
        cm = np.asarray(entry["confusion"], float)
        entry["per_class_recall"] = (np.diag(cm) / np.maximum(cm.sum(1), 1)).tolist()
    main = [n for n in systems if "@" not in n]
    best = max(main, key=lambda n: systems[n]["mean"]["ua"]) if main else None
    summary = {"benchmark": cfg.get("name", "ravdess-speech"), "corpus": cfg["corpus"],
               "protocol": cfg["protocol"], "classes": list(classes), "n_recordings": len(recordings),
               "n_speakers": len({r.speaker for r in recordings}), "systems": systems, "best_system": best}
    if leak:
        key = f"{leak['system']}@{leak['protocol']}"
        if key in systems and leak["system"] in systems:
            summary["leakage"] = {"system": leak["system"], "protocol": leak["protocol"],
                                  "speaker_independent_ua": systems[leak["system"]]["mean"]["ua"],
                                  "random_split_ua": systems[key]["mean"]["ua"]}
    return summary


def write_summary(summary: dict[str, Any], table: str, classes, out: Path, main_system) -> None:
    """What every benchmark report has: ``summary.json``, ``results.md`` (``table``) and the per-class recall of
    the systems for which ``main_system(name)`` is true."""
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_plots(out, summary["systems"])
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "results.md").write_text(table)
    plots.plot_per_class_recall({n: s["per_class_recall"] for n, s in summary["systems"].items() if main_system(n)},
                                classes, out / "per_class_recall.png", "per-class recall (all folds pooled)")


def remove_stale_plots(out: Path, systems) -> list[Path]:
    """Delete the per-system plots (``confusion_<system>.png``, ``curves_<system>.png``) in ``out`` of systems
    not in ``systems`` (left by an earlier run of a suite that has changed since); returns what was deleted."""
    keep = {name.replace("@", "_at_") for name in systems} | {"best"}
    stale = [path for prefix in ("confusion_", "curves_") for path in out.glob(f"{prefix}*.png")
             if path.stem[len(prefix):] not in keep]
    for path in stale:
        path.unlink()
    return stale


def write_report(summary: dict[str, Any], outcomes: list[FoldOutcome], y: np.ndarray, classes, out: Path) -> None:
    """``summary.json``, ``results.md`` and the plots."""
    write_summary(summary, results_table(summary), classes, out, lambda n: "@" not in n)
    systems = summary["systems"]
    for name, s in systems.items():
        safe = name.replace("@", "_at_")
        plots.plot_confusion(np.asarray(s["confusion"]), classes, out / f"confusion_{safe}.png",
                             f"{name}: UA {100 * s['mean']['ua']:.1f}%")
    best = summary.get("best_system")
    if best:
        mine = [o for o in outcomes if o.system == best]
        y_true = np.concatenate([y[list(o.fold.test)] for o in mine])
        probs = np.concatenate([o.test_probs for o in mine])
        plots.plot_roc_ovr(y_true, probs, classes, out / "roc_best.png", f"{best}: one-vs-rest ROC")
        write_tsne(logit_embedding(probs), [classes[i] for i in y_true], out,
                   f"{best}: logits of the test folds (each clip scored once, by its fold's system)")
    for name in systems:
        hist = {f"{o.fold.name}/m{k}": h for o in outcomes if o.system == name
                for k, h in enumerate(o.report.get("histories", []))}
        if hist:
            plots.plot_training_curves(hist, out / f"curves_{name.replace('@', '_at_')}.png", name)


def results_table(summary: dict[str, Any]) -> str:
    """Markdown table of mean ± std UA / WA / macro-F1 per system, best first."""
    rows = sorted(summary["systems"].items(), key=lambda kv: -kv[1]["mean"]["ua"])
    lines = [f"Protocol: `{summary['protocol']}` ({summary['n_recordings']} recordings, "
             f"{summary['n_speakers']} speakers, {len(summary['classes'])} classes). Mean ± std over folds.", "",
             "| system | UA % | WA % | macro-F1 % | what it is |", "|---|---|---|---|---|"]
    for name, s in rows:
        def cell(k, s=s):
            return f"{100 * s['mean'][k]:.1f} ± {100 * s['std'][k]:.1f}"
        lines.append(f"| {name} | {cell('ua')} | {cell('wa')} | {cell('macro_f1')} | {s['description']} |")
    if "leakage" in summary:
        lk = summary["leakage"]
        lines += ["", f"Leakage gap: `{lk['system']}` scores {100 * lk['random_split_ua']:.1f}% UA on a random split "
                  f"(speakers in both train and test) but {100 * lk['speaker_independent_ua']:.1f}% when test "
                  "speakers are unseen."]
    return "\n".join(lines) + "\n"
