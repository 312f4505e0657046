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
  ensemble), tested with both modalities and again with one removed (``name[-face]``, ``name[-speech]``).

Every system also gets a temperature fitted on validation: ``ece_before`` / ``ece_after`` are the test
expected calibration errors of its raw and temperature-scaled probabilities. Writes ``summary.json``,
``results.md``, the best system's confusion matrix and a reliability diagram.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.special import log_softmax, softmax

from avemo.benchmark.speech import write_summary
from avemo.data.splits import Fold, make_folds
from avemo.errors import ParameterError
from avemo.labels import label_set
from avemo.systems.av_corpus import (DEFAULTS, av_clip_name, face_matrix, load_av_corpus,  # noqa: F401
                                     resolve_inputs, suite_config)
from avemo.systems.inputs import Standardizer
from avemo.train import plots
from avemo.train.calibration import TemperatureScaler, expected_calibration_error, reliability_diagram
from avemo.train.metrics import classification_metrics, mean_std

SPEECH, FACE = "speech", "face"

DESCRIPTIONS = {
    "speech-logreg": "logistic regression on speech ({vectors}), standardised on training speakers",
    "au-logreg": "logistic regression on the 35 OpenFace AU clip means (C from {grid} on validation UA)",
    "late-fusion-logreg": "speech-logreg + au-logreg, per-modality temperature, weighted mean of log-probs "
                          "(weight on validation)",
}


# -- per-fold systems ------------------------------------------------------------------------------------------


def _logreg(x: np.ndarray, y: np.ndarray, C: float, max_iter: int, tol: float = 1e-4):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at the capped iterations
        return LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter, tol=tol).fit(x, y)


def _logits(model, x: np.ndarray, num_classes: int) -> np.ndarray:
    """Log-probabilities over all ``num_classes`` (a class absent from training gets a very low score)."""
    out = np.full((len(x), num_classes), -30.0)
    scores = model.decision_function(x)
    if scores.ndim == 1:  # two classes seen in training
        scores = np.stack([-scores, scores], axis=1) / 2
    out[:, model.classes_] = log_softmax(scores, axis=1)
    return np.maximum(out, -30.0)


def _uniform_fill(logits: np.ndarray, present: np.ndarray) -> np.ndarray:
    out = logits.copy()
    out[~present] = 0.0
    return out


class _FoldRun:
    """All systems of one fold; fills ``self.results[name] = (val_logits, test_logits)``."""

    def __init__(self, cfg, fold: Fold, xs: np.ndarray, xf: np.ndarray, face_present: np.ndarray, y: np.ndarray,
                 num_classes: int) -> None:
        self.cfg, self.fold, self.y, self.c = cfg, fold, y, num_classes
        self.tr, self.va, self.te = list(fold.train), list(fold.val), list(fold.test)
        tr_face = [i for i in self.tr if face_present[i]]
        if not tr_face:
            raise ParameterError(f"{fold.name}: no training recording has AU features; check the AU table names")
        ss, sf = Standardizer().fit(xs[self.tr]), Standardizer().fit(xf[tr_face])
        self.xs, self.xf = ss.transform(xs), np.where(face_present[:, None], sf.transform(xf), 0.0)
        self.fp = face_present
        self.results: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.info: dict[str, dict[str, Any]] = {}

    def linear(self) -> None:
        cfg, c, y = self.cfg, self.c, self.y
        sp = cfg["speech_logreg"]
        m = _logreg(self.xs[self.tr], y[self.tr], sp["C"], sp.get("max_iter", 300), sp.get("tol", 1e-4))
        self.results["speech-logreg"] = (_logits(m, self.xs[self.va], c), _logits(m, self.xs[self.te], c))
        refit = bool(cfg.get("refit_train_val", False))
        if refit:  # validation logits stay those of the train-only model (honest temperatures and weights)
            trv = self.tr + self.va
            m = _logreg(self.xs[trv], y[trv], sp["C"], sp.get("max_iter", 300), sp.get("tol", 1e-4))
            self.results["speech-logreg"] = (self.results["speech-logreg"][0], _logits(m, self.xs[self.te], c))
        au = cfg["au_logreg"]
        tr = [i for i in self.tr if self.fp[i]]
        va = np.array(self.va)
        best = None
        for C in au["C_grid"]:
            m = _logreg(self.xf[tr], y[tr], C, au.get("max_iter", 1000))
            keep = va[self.fp[va]]
            pred = m.predict(self.xf[keep]) if len(keep) else np.zeros(0, int)
            from sklearn.metrics import balanced_accuracy_score

            score = balanced_accuracy_score(y[keep], pred) if len(keep) else 0.0
            if best is None or score > best[0] + 1e-9:
                best = (score, C, m)
        _, C, m = best
        self.info["au-logreg"] = {"C": C}
        val_logits = _uniform_fill(_logits(m, self.xf[self.va], c), self.fp[self.va])
        if refit:
            trv = [i for i in self.tr + self.va if self.fp[i]]
            m = _logreg(self.xf[trv], y[trv], C, au.get("max_iter", 1000))
        self.results["au-logreg"] = (val_logits, _uniform_fill(_logits(m, self.xf[self.te], c), self.fp[self.te]))
        self._late_fusion()

    def _late_fusion(self) -> None:
        from avemo.models.fusion import weighted_late_fusion
        from avemo.train.late_fusion import fit_late_fusion_weights

        lf = self.cfg["late_fusion"]
        yv = self.y[self.va]
        probs_v, probs_t, temps = {}, {}, {}
        for mod, name in ((SPEECH, "speech-logreg"), (FACE, "au-logreg")):
            v, t = self.results[name]
            ts = TemperatureScaler().fit(v, yv)
            temps[mod] = ts.temperature_
            probs_v[mod], probs_t[mod] = ts.transform(v), ts.transform(t)
        pres_v = {SPEECH: np.ones(len(self.va), bool), FACE: self.fp[self.va]}
        pres_t = {SPEECH: np.ones(len(self.te), bool), FACE: self.fp[self.te]}
        w = fit_late_fusion_weights(probs_v, yv, present=pres_v, step=lf.get("step", 0.05),
                                    method=lf.get("method", "log"))
        fv = weighted_late_fusion(probs_v, w, pres_v, method=lf.get("method", "log"))
        ft = weighted_late_fusion(probs_t, w, pres_t, method=lf.get("method", "log"))
        self.info["late-fusion-logreg"] = {"weights": w, "modality_temperatures": temps}
        self.results["late-fusion-logreg"] = (np.log(fv + 1e-12), np.log(ft + 1e-12))

    def fusion(self, name: str) -> None:
        from avemo.train.fusion_trainer import FusionTrainConfig, MultimodalArrays, fit_fusion, predict_logits

        fcfg = self.cfg["fusion"]

        def arrays(index, mods=(SPEECH, FACE)):
            idx = list(index)
            inputs = {SPEECH: self.xs[idx], FACE: self.xf[idx]}
            present = {SPEECH: np.ones(len(idx), bool), FACE: self.fp[idx]}
            if mods != (SPEECH, FACE):
                inputs = {m: inputs[m] for m in mods}
                present = {m: present[m] for m in mods}
            return MultimodalArrays.create(inputs, self.y[idx], present)

        train, val = arrays(self.tr), arrays(self.va)
        variants = {"": (SPEECH, FACE)}
        if fcfg.get("drop_tests", True):
            variants.update({"[-face]": (SPEECH,), "[-speech]": (FACE,)})
        def predict(model, index, mods) -> np.ndarray:
            idx = np.asarray(index)
            out = np.full((len(idx), self.c), 1.0 / self.c)
            ok = self.fp[idx] if mods == (FACE,) else np.ones(len(idx), bool)
            if ok.any():
                out[ok] = softmax(predict_logits(model, arrays(idx[ok], mods)).numpy().astype(np.float64), axis=1)
            return out

        probs = {k: ([], []) for k in variants}
        epochs = []
        for seed in fcfg["seeds"]:
            tc = FusionTrainConfig(**{**fcfg.get("train", {}), "seed": int(seed)})
            res = fit_fusion(name, train, val, self.c, (fcfg.get("model_configs") or {}).get(name), tc)
            epochs.append(res.best_epoch)
            for key, mods in variants.items():
                probs[key][0].append(predict(res.model, self.va, mods))
                probs[key][1].append(predict(res.model, self.te, mods))
        for key in variants:
            v, t = (np.log(np.mean(p, axis=0) + 1e-12) for p in probs[key])
            self.results[f"{name}{key}"] = (v, t)
            self.info[f"{name}{key}"] = {"best_epochs": epochs}


def _system_meta(cfg, name: str) -> dict[str, Any]:
    both = [SPEECH, FACE]
    if name == "speech-logreg":
        return {"modalities": [SPEECH], "test_modalities": [SPEECH],
                "description": DESCRIPTIONS[name].format(vectors=" + ".join(cfg["speech_vectors"]))}
    if name == "au-logreg":
        return {"modalities": [FACE], "test_modalities": [FACE],
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
                     options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run the audio-visual benchmark and write its report folder; returns the summary.

    Args:
        data_dir: folder holding ``speech16k/`` and ``openface_au_mean.csv``.
        out_dir: report folder (default ``reports/ravdess-av``).
        folds: only these folds (1-based), for quick checks.
        systems: only these fusion models (``fusion_*``); the linear systems always run.
        jobs: worker processes for feature extraction (training runs in this process).
        cache: feature-cache folder (``None`` = no cache).
        options: overrides of the suite settings (see :data:`DEFAULTS`), e.g.
            ``{"speech_vectors": ["logmel:meanstd"], "fusion": {"seeds": [0]}}``.

    Raises:
        ParameterError: missing inputs, unknown fusion model, unusable data.
    """
    import torch

    cfg = suite_config(options)
    if systems:
        unknown = sorted(set(systems) - set(cfg["fusion"]["models"]))
        if unknown:
            raise ParameterError(f"systems {unknown} are not fusion models of ravdess-av: {cfg['fusion']['models']}")
        cfg["fusion"]["models"] = [m for m in cfg["fusion"]["models"] if m in systems]
    out = Path(out_dir or Path("reports") / cfg["name"])
    classes = label_set(cfg["label_set"])
    t0 = time.perf_counter()
    recordings, y, inputs, extract_seconds = load_av_corpus(data_dir, cfg, cache, jobs)
    xs, xf, face_present = inputs.speech, inputs.au, inputs.au_present
    all_folds = make_folds(cfg["protocol"], recordings)
    chosen = [f for k, f in enumerate(all_folds, 1) if not folds or k in folds]
    if not chosen:
        raise ParameterError(f"no fold selected; choose among 1..{len(all_folds)}")

    threads = torch.get_num_threads()
    torch.set_num_threads(int(cfg.get("threads", 1)))
    per_fold: list[tuple[Fold, dict, dict, dict]] = []
    seconds: dict[str, float] = {}
    t1 = time.perf_counter()
    try:
        for fold in chosen:
            run = _FoldRun(cfg, fold, xs, xf, face_present, y, len(classes))
            start = time.perf_counter()
            run.linear()
            seconds["linear"] = seconds.get("linear", 0.0) + time.perf_counter() - start
            for name in cfg["fusion"]["models"]:
                start = time.perf_counter()
                run.fusion(name)
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
            per_fold.append((fold, run.results, run.info, {}))
            print(f"{fold.name}: " + "  ".join(
                f"{n} {100 * classification_metrics(y[list(fold.test)], softmax(t, 1), len(classes))['ua']:.1f}"
                for n, (_, t) in run.results.items() if "[" not in n), flush=True)
    finally:
        torch.set_num_threads(threads)
    train_seconds = time.perf_counter() - t1
    summary, pooled = _summarise(cfg, classes, recordings, y, per_fold, face_present)
    summary["timing"] = {"extract_seconds": extract_seconds, "train_test_seconds": round(train_seconds, 1),
                         "seconds_by_system": {k: round(v, 1) for k, v in seconds.items()},
                         "total_seconds": round(time.perf_counter() - t0, 1), "cpu_count": os.cpu_count(),
                         "torch_threads": int(cfg.get("threads", 1))}
    summary["folds_run"] = [f.name for f in chosen]
    summary["settings"] = cfg
    write_av_report(summary, pooled, classes, out)
    return summary


def _summarise(cfg, classes, recordings, y, per_fold, face_present) -> tuple[dict[str, Any], dict[str, Any]]:
    bins = int(cfg.get("ece_bins", 15))
    systems: dict[str, Any] = {}
    pooled: dict[str, dict[str, list]] = {}
    for fold, results, info, _ in per_fold:
        yv, yt = y[list(fold.val)], y[list(fold.test)]
        for name, (val_logits, test_logits) in results.items():
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
    full = [n for n, s in systems.items() if s["test_modalities"] == [SPEECH, FACE]]
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
    single = {m: ua.get(n) for m, n in ((SPEECH, "speech-logreg"), (FACE, "au-logreg")) if n in ua}
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
        for dropped, kept in ((FACE, SPEECH), (SPEECH, FACE)):
            key = f"{n}[-{dropped}]"
            if key in ua and single.get(kept) is not None:
                gap = single[kept] - ua[key]
                missing[key] = {"ua": ua[key], "single_modality_ua": single[kept], "gap": gap, "within_3": gap <= 0.03}
    if missing:
        out["missing_modality"] = missing
    # ECE of the test predictions of all folds together (1440 clips, each scaled by its own fold's temperature):
    # on one fold's 240 clips a 15-bin ECE is biased upward by sampling noise, so the per-fold mean is kept
    # for reference only.
    out["ece_after_le_0.05"] = {n: s["pooled_ece"]["after"] <= 0.05 for n, s in systems.items()}
    out["ece_after_per_fold_mean_le_0.05"] = {n: s["mean"]["ece_after"] <= 0.05 for n, s in systems.items()}
    return out


def write_av_report(summary: dict[str, Any], pooled: Mapping[str, Any], classes, out: Path) -> None:
    """``summary.json``, ``results.md``, the best system's confusion matrix and reliability diagram."""
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


def av_results_table(summary: dict[str, Any]) -> str:
    """Markdown table: mean ± std UA / WA / macro-F1 and ECE per system, best first."""
    rows = sorted(summary["systems"].items(), key=lambda kv: -kv[1]["mean"]["ua"])
    lines = [f"Protocol: `{summary['protocol']}` ({summary['n_recordings']} recordings, {summary['n_with_face']} "
             f"with AUs, {summary['n_speakers']} speakers, {len(summary['classes'])} classes). Mean ± std over "
             f"folds {', '.join(summary.get('folds_run', []))}. ECE: 15-bin top-label, before / after temperature "
             "scaling fitted on validation speakers, on the test predictions of all folds together (per-fold mean "
             "in brackets: on 240 clips a binned ECE is inflated by sampling noise).", "",
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
    t = summary.get("targets", {})
    if "best_fusion" in t:
        b = t["best_fusion"]
        lines += ["", f"Best fusion: `{b['system']}` {100 * b['ua']:.1f}% UA, {100 * b['gain']:+.1f} points over the "
                  f"best single modality ({100 * b['best_single_modality_ua']:.1f}%)."]
    if "timing" in summary:
        lines += ["", f"Timing: {summary['timing']['total_seconds']} s in all "
                  f"({summary['timing']['train_test_seconds']} s training and testing)."]
    return "\n".join(lines) + "\n"
