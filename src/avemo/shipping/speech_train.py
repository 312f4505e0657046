"""Train a system on every speaker of a corpus (the shipped-model recipe) and evaluate a saved one."""

from __future__ import annotations

import json
import os
import random
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from avemo.data.recipes import prepare
from avemo.data.splits import _pick_validation
from avemo.errors import ParameterError
from avemo.features.store import FeatureStore
from avemo.shipping.cards import (RAVDESS_LICENCE, SAFE_FORMATS, card_text, classes_line, closing_sections,
                                  cv_figure_lines, figures_section, title)
from avemo.systems.spec import load_spec
from avemo.systems.speech import SpeechSystem
from avemo.train.metrics import classification_metrics


def member_splits(recordings, n_members: int, n_val_speakers: int = 2) -> list[tuple[list[int], list[int]]]:
    """One (train, val) split per ensemble member, each holding out different validation speakers, so that
    together the members train on every speaker."""
    speakers = sorted({r.speaker for r in recordings})
    gender = {r.speaker: r.attributes.get("gender", "") for r in recordings}
    splits, used = [], set()
    for k in range(n_members):
        pool = [s for s in speakers if s not in used] or speakers
        val = _pick_validation(pool, gender, n_val_speakers, random.Random(k))
        used.update(val)
        splits.append(([i for i, r in enumerate(recordings) if r.speaker not in val],
                       [i for i, r in enumerate(recordings) if r.speaker in val]))
    return splits


def train_system(system: str, data_dir: str | os.PathLike, out_dir: str | os.PathLike, corpus: str = "ravdess",
                 overrides: Sequence[str] = (), cv_report: str | None = None, jobs: int = 2) -> Path:
    """Train ``system`` on all recordings of a corpus, save it to ``out_dir`` with a model card; returns the folder.

    Raises:
        ParameterError: for an unknown system or a corpus whose labels the system cannot learn.
    """
    from avemo.features.store import extract_all

    spec = load_spec(system, list(overrides))
    recordings = prepare(corpus, data_dir)
    sys_ = SpeechSystem(spec)
    bad = sorted({r.emotion for r in recordings} - set(sys_.classes))
    if bad:
        raise ParameterError(f"corpus labels {bad} are not in the system's label set {spec.label_set}")
    y = np.array([sys_.classes.index(r.emotion) for r in recordings])
    features, _ = extract_all(recordings, spec.feature_extractors(), FeatureStore(), jobs)
    splits = member_splits(recordings, max([spec.ensemble] + [p.ensemble for p in spec.part_specs()]))
    out = Path(out_dir)
    sys_.fit(features, y, splits, checkpoint_dir=out / "_train_state")
    cv = cross_validation_figures(spec.name, cv_report) if cv_report else None
    sys_.info = {"corpus": corpus, "n_recordings": len(recordings),
                 "speakers": sorted({r.speaker for r in recordings}),
                 "validation_speakers": [sorted({recordings[i].speaker for i in va}) for _, va in splits],
                 "command": "avemo " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else "",
                 "cross_validation": cv}
    sys_.save(out)
    import shutil

    shutil.rmtree(out / "_train_state", ignore_errors=True)
    (out / "MODEL_CARD.md").write_text(model_card(sys_))
    return out


def cross_validation_figures(system_name: str, cv_report: str | os.PathLike) -> dict[str, Any] | None:
    """The figures of ``system_name`` in a benchmark ``summary.json`` (None when it is not there)."""
    summary = json.loads(Path(cv_report).read_text())
    entry = summary.get("systems", {}).get(system_name)
    if entry is None:
        return None
    return {"protocol": summary["protocol"], "mean": entry["mean"], "std": entry["std"],
            "folds": [{k: f[k] for k in ("fold", "test_speakers", "ua", "wa", "macro_f1", "n_test")}
                      for f in entry["folds"]], "report": str(cv_report)}


def model_card(system: SpeechSystem) -> str:
    """A markdown model card: what the model is, its data, protocol, figures and the reproducing command."""
    spec, info = system.spec, system.info
    cv = info.get("cross_validation")
    lines = [*title(spec.name, spec.description),
             "## Model", f"- kind: {spec.kind}; model: {spec.model}; ensemble of {len(system.members_) or 1}",
             f"- features: frames `{spec.frames}` (pooled by {spec.frame_pool}), vectors {spec.aux or spec.vectors}",
             classes_line(system.classes), SAFE_FORMATS, "",
             "## Training data",
             f"- corpus: {info.get('corpus')} ({info.get('n_recordings')} recordings, all "
             f"{len(info.get('speakers', []))} speakers)",
             f"- early stopping: each member holds out different validation speakers: "
             f"{info.get('validation_speakers')}", ""]
    figures = [f"Protocol `{cv['protocol']}` (speaker-independent; same configuration, trained per fold), "
               f"from `{cv['report']}`:", "", *cv_figure_lines(cv)] if cv else []
    lines += figures_section("Cross-validated figures", figures,
                             "train with --cv-report reports/<suite>/summary.json")
    lines += closing_sections(info.get("command", ""), [
        "Trained on acted North-American English speech (RAVDESS, 24 actors, two sentences); expect lower accuracy "
        "on spontaneous speech, other languages and noisy recordings.",
        f"RAVDESS is licensed {RAVDESS_LICENCE}: non-commercial use of this model."])
    return card_text(lines)


def evaluate_system(model: str, data_dir: str | os.PathLike, corpus: str = "ravdess",
                    speakers: Sequence[str] | None = None, jobs: int = 2) -> dict[str, Any]:
    """UA/WA/macro-F1 of a saved system on a corpus (optionally only some speakers).

    Raises:
        ParameterError: when no recording matches or labels fall outside the model's classes.
    """
    from avemo.features.store import extract_all
    from avemo.systems.base import resolve_system_dir

    system = SpeechSystem.load(resolve_system_dir(model, kind="speech"))
    recordings = [r for r in prepare(corpus, data_dir) if not speakers or r.speaker in speakers]
    if not recordings:
        raise ParameterError(f"no recordings of speakers {speakers} in {data_dir}")
    known = [r for r in recordings if r.emotion in system.classes]
    if not known:
        raise ParameterError(f"none of the corpus labels are among the model's classes {system.classes}")
    features, _ = extract_all(known, system.spec.feature_extractors(), FeatureStore(), jobs)
    probs = system.predict_proba(features)
    y = np.array([system.classes.index(r.emotion) for r in known])
    return classification_metrics(y, probs, len(system.classes))
