"""Train a face system on an image corpus (the shipped face-model recipe) and write its model card."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from avemo.data.face_images import load_face_images
from avemo.data.recipes import prepare
from avemo.data.recipes.ferplus import vote_targets
from avemo.errors import CorpusError, ParameterError
from avemo.shipping.cards import SAFE_FORMATS, card_text, classes_line, closing_sections, figures_section, pct, title
from avemo.systems.face_reference import REFERENCE_KEY, FaceReference
from avemo.systems.face import FaceSystem, init_from_state, load_face_spec
from avemo.train.metrics import classification_metrics


def train_face_system(system: str, data_dir: str | os.PathLike, out_dir: str | os.PathLike,
                      corpus: str = "fer2013", overrides: Sequence[str] = (),
                      report: str | os.PathLike | None = None) -> Path:
    """Train ``system`` (``configs/face/<name>.yaml``) and save it with a model card; returns the folder.

    FER2013 and FER+ (``corpus="ferplus"``; a ``ferplus8`` system asked for on ``fer2013`` is trained on FER+):
    trains on Training, selects the epoch on PublicTest (FER+ Valid) and scores PrivateTest (FER+ Test) for the
    card; a ``targets: votes`` system trains on the FER+ vote distributions. A ``folder`` corpus
    (``<root>/<emotion>/<image>``) holds out a random 10% for selection and has no test figure.

    Raises:
        ParameterError: for an unknown system, a distilled one (its benchmark trains the teachers first) or labels
            outside the system's label set.
        CorpusError: when the corpus has no usable images.
    """
    spec = load_face_spec(system, list(overrides))
    if spec.distill:
        raise ParameterError(f"{system} is distilled from {spec.distill.get('teachers')}; train it with the benchmark "
                             "that trains its teachers: avemo benchmark ferplus (or fer2013) --data DIR")
    sys_ = FaceSystem(spec)
    if corpus == "fer2013" and spec.label_set == "ferplus8":
        corpus = "ferplus"
    recordings = prepare(corpus, data_dir, **({"include_images": True} if corpus == "folder" else {}))
    bad = sorted({r.emotion for r in recordings} - set(sys_.classes))
    if bad:
        raise ParameterError(f"corpus labels {bad} are not in the system's label set {spec.label_set}")
    images, kept = load_face_images(recordings, spec.side)
    if len(kept) == 0:
        raise CorpusError(f"{data_dir}: no readable face images")
    y = np.array([sys_.classes.index(recordings[i].emotion) for i in kept])
    split = np.array([recordings[i].attributes.get("split", "") for i in kept])
    targets = None
    if spec.targets == "votes":
        if corpus != "ferplus":
            raise ParameterError(f"{system} trains on vote distributions (targets: votes); only the ferplus corpus "
                                 "has them")
        targets = vote_targets([recordings[i] for i in kept])[1]
    if corpus in ("fer2013", "ferplus"):
        tr, va, te = split == "Training", split == "PublicTest", split == "PrivateTest"
    else:
        rng = np.random.default_rng(0)
        va = rng.random(len(kept)) < 0.1
        tr, te = ~va, np.zeros(len(kept), bool)
    out = Path(out_dir)
    init = init_from_state(spec, out, lambda name, folder: FaceSystem.load(train_face_system(name, data_dir, folder,
                                                                                               corpus)))
    start = time.perf_counter()
    sys_.fit(images, y, (np.flatnonzero(tr), np.flatnonzero(va)), checkpoint_dir=out / "_train_state",
             init_state=init, targets=targets)
    sys_.info = {"corpus": corpus, "n_train": int(tr.sum()), "n_val": int(va.sum()),
                 "train_seconds": round(time.perf_counter() - start, 1),
                 "command": "avemo " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else ""}
    if va.any():
        sys_.calibrate(images[va], y[va])
        reference = FaceReference.from_probabilities(sys_.predict_proba(images[va]), f"{corpus} validation split")
        sys_.info[REFERENCE_KEY] = reference.to_info(sys_.classes, int(va.sum()))
    if te.any():
        m = classification_metrics(y[te], sys_.predict_proba(images[te]), len(sys_.classes))
        sys_.info["test"] = {"split": "PrivateTest", "accuracy": m["wa"], "ua": m["ua"], "macro_f1": m["macro_f1"],
                             "n_test": m["n_test"]}
    if report:
        sys_.info["report"] = str(report)
    sys_.save(out)
    import shutil

    shutil.rmtree(out / "_train_state", ignore_errors=True)
    (out / "MODEL_CARD.md").write_text(face_model_card(sys_, report))
    return out


def face_model_card(system: FaceSystem, report: str | os.PathLike | None = None) -> str:
    """A markdown model card: model, data, protocol, figures (from ``report`` when given) and the command."""
    spec, info = system.spec, system.info
    n_params = sum(p.numel() for p in system.model_.parameters()) if system.model_ is not None else 0
    h = system.history_
    lines = [*title(spec.name, spec.description), "## Model",
             f"- network: `{spec.model}` ({n_params / 1e6:.2f} M parameters), settings {spec.model_config}",
             f"- input: aligned gray face crops, {spec.side}x{spec.side} pixels (FER2013 framing; avemo's face "
             f"front end aligns faces of photos and videos like this), centre crop {spec.augment.get('crop')}",
             f"- test-time augmentation: `{system.augment.config.tta}`",
             classes_line(system.classes), *_heads_lines(system), SAFE_FORMATS, "", "## Training",
             f"- corpus: {info.get('corpus')}: {info.get('n_train')} training images, {info.get('n_val')} for "
             + ("selection (FER+: train on FER+ Train, select on FER+ Valid = PublicTest, report FER+ Test = "
                "PrivateTest, majority labels after dropping unknown / not-a-face)" if info.get("corpus") == "ferplus"
                else "selection (FER2013: train on Training, select on PublicTest, report PrivateTest)"),
             f"- augmentation: {spec.augment}", f"- schedule: {spec.train}"]
    if h is not None and h.epoch:
        criterion = "accuracy" if spec.train.get("select_on") == "accuracy" else "UA"
        if h.used_average:
            first = len(h.epoch) - h.averaged_epochs + 1
            lines.append(f"- epochs run: {len(h.epoch)}; weights: the average of epochs {first}-{len(h.epoch)} with "
                         f"batch-norm statistics recomputed, kept on PublicTest {criterion} (PublicTest UA "
                         f"{pct(h.average_val_ua)}%, best single epoch {h.best_epoch}: {pct(h.best_val_ua)}%)")
        else:
            ua = f"{pct(h.best_val_ua)}%" if criterion == "UA" else f"its UA {pct(h.best_val_ua)}%"
            lines.append(f"- epochs run: {len(h.epoch)}; selected epoch {h.best_epoch} on PublicTest {criterion} "
                         f"({ua}, centre crop)")
    if spec.init_from.startswith("pretrained:"):
        lines.append(f"- starts from the weights of the shipped `{spec.init_from.split(':', 1)[1]}` model (classifier "
                     "rows matched by class name; a class it lacks starts from its fallback class); the epochs and "
                     "time here are this stage's")
    elif spec.init_from:
        lines.append(f"- starts from the trained weights of `{spec.init_from}` (`configs/face/{spec.init_from}.yaml`), "
                     "which is trained first when it is not there yet; the epochs and time here are this stage's")
    if spec.targets == "votes":
        lines.append("- targets: the distribution of FER+'s ten annotators' votes over its eight emotions "
                     "(cross-entropy against the vote fractions, as in Barsoum et al. 2016)")
    if spec.extra_heads:
        lines.append("- extra heads: " + "; ".join(
            f"`{head}` learns {labels} labels ({_HEAD_SOURCES.get(labels, labels)})"
            for head, labels in spec.extra_heads.items())
                     + ", one-hot; each head its own softmax, the losses summed")
    if info.get("train_seconds"):
        lines.append(f"- training time: {info['train_seconds'] / 60:.0f} min on a 2-core CPU")
    lines += ["", *figures_section("Figures", _figure_lines(system, report))]
    limits = ["FER2013 holds web images of posed and spontaneous expressions, mostly frontal; its labels are noisy "
              "(human agreement is about 65%). Expect lower accuracy on profile faces, occlusions, and children.",
              "FER2013 is released for research use (ICML 2013 challenge, Goodfellow et al. 2013)."]
    if info.get("corpus") == "ferplus" or spec.label_set == "ferplus8":
        limits.append("FER+ labels (ten annotators' votes per image): MIT licence, Barsoum et al. (2016), ICMI.")
    return card_text(lines + closing_sections(info.get("command", ""), limits))


_HEAD_SOURCES = {"fer7": "FER2013's original single labels of the same images"}


def _heads_lines(system: FaceSystem) -> list[str]:
    """The card's lines on a network with several heads, and on the classes the front ends give."""
    lines = []
    if system.spec.extra_heads:
        lines.append("- heads: " + ", ".join(
            [f"main ({len(system.classes)} classes above; `predict_proba(images)`)"]
            + [f"`{head}` ({', '.join(classes)}; `predict_proba(images, head=\"{head}\")`)"
               for head, classes in system.heads.items() if head is not None]))
    if system.classes != system.served_classes:
        lines.append(f"- avemo's front ends (CLI, engine, fusion, live view, web demo, REST) give faces in "
                     f"{', '.join(system.served_classes)}: the main head's probabilities re-expressed there "
                     "(contempt folded into disgust)")
    return lines


def _figure_lines(system: FaceSystem, report: str | os.PathLike | None) -> list[str]:
    """The card's test figures: from the benchmark ``report`` when it has the system, else the saved test split's
    (none when neither)."""
    entry = None
    if report and Path(report).is_file():
        entry = json.loads(Path(report).read_text()).get("systems", {}).get(system.spec.name)
    if entry and entry.get("fer2013_test") is not None and "fer2013_validation" in entry:
        return _ferplus_figure_lines(entry, report)
    if entry:
        t = entry["test"]
        return [f"From `{report}` (FER2013 PrivateTest, {t['n_test']} images, never used for selection):", "",
                f"- accuracy {pct(t['accuracy'])}%, UA {pct(t['ua'])}%, macro-F1 {pct(t['macro_f1'])}%; PublicTest "
                f"accuracy {pct(entry['validation']['accuracy'])}%",
                f"- {entry['ms_per_image']:.1f} ms per 48x48 crop on one CPU thread (with test-time augmentation)"]
    t = system.info.get("test")
    return [f"- {t['split']}: accuracy {pct(t['accuracy'])}%, UA {pct(t['ua'])}%, macro-F1 {pct(t['macro_f1'])}% "
            f"(n={t['n_test']})"] if t else []


def _ferplus_figure_lines(entry: dict, report: str | os.PathLike) -> list[str]:
    """The card's figures from a FER+ benchmark report's row: FER+ Test and FER2013 PrivateTest, never used for
    selection, beside the validation figures."""
    t, f = entry["test"], entry["fer2013_test"]
    head = f" (its `{entry['fer2013_head']}` head)" if entry.get("fer2013_head") else " (contempt counted as disgust)"
    return [f"From `{report}` (test splits never used for selection):", "",
            f"- FER+ Test (the {t['n_test']} FER2013 PrivateTest images joined to FER+ whose majority is an emotion; "
            f"majority labels): accuracy {pct(t['accuracy'])}%, UA {pct(t['ua'])}%, macro-F1 {pct(t['macro_f1'])}%; "
            f"FER+ Valid accuracy {pct(entry['validation']['accuracy'])}%",
            f"- FER2013 PrivateTest, original labels ({f['n_test']} images){head}: accuracy {pct(f['accuracy'])}%, "
            f"UA {pct(f['ua'])}%; PublicTest accuracy {pct(entry['fer2013_validation']['accuracy'])}%",
            f"- {entry['ms_per_image']:.1f} ms per 48x48 crop on one CPU thread (with test-time augmentation)"]


def ship_face_system(source: str | os.PathLike, target: str | os.PathLike,
                     report: str | os.PathLike | None = None) -> Path:
    """Copy a trained face system (e.g. the benchmark's ``runs/fer2013/face-cnn``) to ``target`` with a model
    card whose figures come from the benchmark ``report``; returns ``target``."""
    system = FaceSystem.load(source)
    if report and Path(report).is_file():
        summary = json.loads(Path(report).read_text())
        system.info.setdefault("corpus", summary.get("corpus"))
        system.info.setdefault("n_train", summary.get("n_train"))
        system.info.setdefault("n_val", summary.get("n_val"))
    system.info.setdefault("command", "avemo benchmark fer2013 --data DIR   # trains runs/fer2013/"
                           f"{system.spec.name}, then: make face-model")
    out = Path(target)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    system.save(out)
    (out / "MODEL_CARD.md").write_text(face_model_card(system, report))
    return out


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="ship: copy a trained face system into the package with its card")
    parser.add_argument("action", choices=["ship"])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--report", default=None)
    args = parser.parse_args()
    print(ship_face_system(args.source, args.target, args.report))
