"""Why does the MLP head say "uncertain" so often on a corpus it never heard?

A diagnostic, run once (``python reports/cross-corpus/calibration-check/check.py ../shared/data``; it reads the
feature cache the cross-corpus benchmark fills and writes ``results.json`` beside itself). For every held-out corpus
of leave-one-corpus-out, on the clean clips only (no copies), with the loss and layers the benchmark's MLP recipe
chose for that fold (``reports/cross-corpus/summary.json``), it fits the MLP head as the recipe does (standardised
on the training corpora, their top 128 principal components, :func:`avemo.systems.probe_mlp.fit_mlp`) and sets its
temperature and abstention level (answering 80%) two ways:

- ``shared``: as shipped (:func:`~avemo.systems.probe_mlp.held_out_corpus_logits`): each training corpus's
  logits from an MLP fitted without it, but on the standardisation and principal components of *every* training
  corpus, the held-out one included;
- ``own``: each training corpus's logits from the recipe refitted entirely without it: its standardisation,
  its principal components and its MLP, as the held-out corpus itself meets the head.

For each it reports the temperature, the level, and the share of the held-out corpus answered "uncertain".
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from avemo.data.recipes import corpus_class_mask
from avemo.labels import label_set
from avemo.shipping.corpora import load_corpora
from avemo.systems import probe_mlp
from avemo.systems.probe_stats import balance_weights
from avemo.systems.transfer_selection import abstention_threshold, loss_masks, principal_basis, softmax
from avemo.train.calibration import TemperatureScaler

HERE = Path(__file__).resolve().parent
COVERAGE = 0.8


def fitted(x: np.ndarray, y: np.ndarray, mask: np.ndarray, corpus: np.ndarray):
    """Standardisation, basis and MLP of the recipe on rows ``x``."""
    mean, std = x.mean(0), np.maximum(x.std(0), 1e-6)
    z = (x - mean) / std
    basis = principal_basis(z, probe_mlp.COMPONENTS)
    head = probe_mlp.fit_mlp(z @ basis, y, mask, balance_weights(corpus, y))
    return lambda rows: probe_mlp.mlp_logits(((rows - mean) / std) @ basis, head), (mean, std, basis)


def calibration(logits: np.ndarray, y: np.ndarray, allowed: np.ndarray) -> tuple[float, float]:
    """Temperature (on each row's corpus classes) and abstention level, as the recipe sets them."""
    t = TemperatureScaler().fit(np.where(allowed, logits, -1e4), y).temperature_
    return float(t), abstention_threshold(softmax(logits / t).max(1), COVERAGE)


def main(data: str) -> None:
    classes = label_set("ravdess8")
    summary = json.loads((HERE.parent / "summary.json").read_text())
    folds = {f["test_corpus"]: f["choices"]
             for f in summary["loco"]["systems"]["probe-transfer+augment+voices+mlp"]["folds"]}
    _, y, inputs, _ = load_corpora(data, jobs=1)
    corpus = np.asarray(inputs.corpus, dtype=object)
    allowed = np.stack([corpus_class_mask(c, tuple(classes)) for c in corpus])
    out = {}
    for held, choice in folds.items():
        start = time.time()
        x = inputs.columns(choice["layers"])
        mask = loss_masks(corpus, classes, choice["loss"])
        train, test = np.flatnonzero(corpus != held), np.flatnonzero(corpus == held)
        predict, (mean, std, basis) = fitted(x[train], y[train], mask[train], corpus[train])
        shared = probe_mlp.held_out_corpus_logits(((x[train] - mean) / std) @ basis, y[train], mask[train],
                                                  corpus[train], balance_weights)
        own = np.zeros_like(shared)
        for c in np.unique(corpus[train]):
            fit_rows, rows = train[corpus[train] != c], corpus[train] == c
            own[rows] = fitted(x[fit_rows], y[fit_rows], mask[fit_rows], corpus[fit_rows])[0](x[train][rows])
        logits = predict(x[test])
        entry = {"layers": choice["layers"], "loss": choice["loss"]}
        for name, cal in (("shared", shared), ("own", own)):
            t, level = calibration(cal, y[train], allowed[train])
            top = softmax(cal / t).max(1)
            entry[name] = {"temperature": t, "level": level,
                           "abstained_held_out": float((softmax(logits / t).max(1) < level).mean()),
                           "abstained_by_training_corpus": {
                               str(c): float((top[corpus[train] == c] < level).mean())
                               for c in np.unique(corpus[train])}}
        entry["seconds"] = round(time.time() - start, 1)
        out[held] = entry
        print(held, json.dumps({k: (v if not isinstance(v, dict) else
                                    {kk: vv for kk, vv in v.items() if kk != "abstained_by_training_corpus"})
                                for k, v in entry.items()}), flush=True)
    (HERE / "results.json").write_text(json.dumps(out, indent=1) + "\n")
    render()


def render() -> None:
    """``results.md`` from ``results.json`` (``python check.py --render``)."""
    out = json.loads((HERE / "results.json").read_text())
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    lines = ["# The MLP head's abstention on a corpus it never heard: shared vs own standardisation and components",
             "", "From `python reports/cross-corpus/calibration-check/check.py ../shared/data` (clean clips only, "
             "no copies; each fold's loss and layers as the benchmark's MLP recipe chose them; level: answers 80% "
             "of the training corpora's held-out clips). `shared`: each training corpus's calibration logits from "
             "an MLP fitted without it on the standardisation and principal components of every training corpus "
             "(probe_mlp version 2, as the committed cross-corpus report ran); `own`: the whole recipe refitted "
             "without it (version 3). Abstained: share of the held-out corpus's clips answered \"uncertain\" "
             "(aimed at about 20%).", "",
             "| held out | shared: temperature | level | abstained % | own: temperature | level | abstained % |",
             "|---|---|---|---|---|---|---|"]
    for held, e in out.items():
        a, b = e["shared"], e["own"]
        lines.append(f"| {held} | {a['temperature']:.2f} | {a['level']:.2f} | {pct(a['abstained_held_out'])} | "
                     f"{b['temperature']:.2f} | {b['level']:.2f} | {pct(b['abstained_held_out'])} |")
    mean = lambda k: sum(e[k]["abstained_held_out"] for e in out.values()) / len(out)  # noqa: E731
    lines += [f"| mean | | | {pct(mean('shared'))} | | | {pct(mean('own'))} |", ""]
    (HERE / "results.md").write_text("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:
        render()
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
