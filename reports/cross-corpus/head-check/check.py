"""Would a stronger global head help one recording of a voice from a corpus never heard? Attentive statistics
pooling over frames, and an ensemble with eGeMAPS, against the shipped MLP on clip statistics, under the nested rule.

A check, run once after ``extract.py`` (``python reports/cross-corpus/head-check/check.py DATA [FEATURES]``; it reads
the whisper_stats feature cache the cross-corpus benchmark fills and the frames and eGeMAPS ``extract.py`` wrote, and
writes ``results.json`` and ``results.md`` beside itself). Clean clips only (no copies), the masked loss and every
layer (0-6) for every candidate, corpus- and class-balanced minibatches (:func:`balance_weights`), single file.

Candidates (global heads):

- ``stats``: the shipped MLP head (:func:`avemo.systems.probe_mlp.fit_head`): each clip's per-layer mean and std,
  standardised, their top 128 principal components, one hidden layer;
- ``stats+egemaps``: the same, with the clip's 88 standardised eGeMAPS functionals appended to the 128 components;
- ``attentive``: frames (every layer's hidden states averaged over 4 frames: 12.5 per second; each layer's frame
  layer-normalised, without labels, then the 7 layers averaged: 512 dimensions), standardised per dimension, a
  linear map to 128 dimensions, attentive statistics pooling (a learned score per frame; the weighted mean and std)
  and the same hidden layer; trained on random windows of at most 48 frames (3.8 s) of each clip, applied to the
  whole clip;
- ``frame-stats``: the shipped MLP head on the plain mean and std over frames of those same frames (what
  ``attentive`` changes is then the pooling alone).

Rule, fixed before the run: for each outer held-out corpus, each candidate is scored by leave-one-corpus-out inside
the seven training corpora (trained on six, scored by single-file UA on the seventh, the argmax among its classes;
at most 300 clips of each corpus and class, as the benchmark's inner loop); the highest mean wins, ties to
``stats`` (the head shipped now). The winner's UA on the held-out corpus (trained on every clip of the seven) is
the nested figure; every candidate's is reported beside it. A candidate goes into the benchmark's grid only if it
wins the rule for the shipped model itself: leave-one-corpus-out over all eight corpora, the mean of the outer
folds' figures of that candidate.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from avemo.labels import label_set
from avemo.shipping.corpora import load_corpora
from avemo.systems import probe_mlp
from avemo.systems.probe_stats import balance_weights, corpus_ua
from avemo.systems.transfer_selection import capped_rows, loss_masks, principal_basis, softmax

HERE = Path(__file__).resolve().parent
CANDIDATES = ("stats", "stats+egemaps", "attentive", "frame-stats")
#: The attentive head: projected width, attention hidden units, passes over the rows, training window (frames).
DIM, ATTENTION, EPOCHS, WINDOW = 128, 64, 15, 48

DATA: dict = {}  # filled in the parent, shared with the forked workers


class AttentiveHead(torch.nn.Module):
    """``forward(frames (B, T, width), valid (B, T) bool) -> (B, C)`` logits."""

    def __init__(self, width: int, classes: int) -> None:
        super().__init__()
        self.drop = torch.nn.Dropout(probe_mlp.INPUT_DROPOUT)
        self.project = torch.nn.Linear(width, DIM)
        self.score = torch.nn.Sequential(torch.nn.Linear(DIM, ATTENTION), torch.nn.Tanh(),
                                         torch.nn.Linear(ATTENTION, 1))
        self.head = torch.nn.Sequential(torch.nn.Linear(2 * DIM, probe_mlp.HIDDEN), torch.nn.GELU(),
                                        torch.nn.Dropout(probe_mlp.DROPOUT),
                                        torch.nn.Linear(probe_mlp.HIDDEN, classes))

    def forward(self, frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        h = self.project(self.drop(frames))
        a = torch.softmax(self.score(h).squeeze(-1).masked_fill(~valid, -1e9), 1)[..., None]
        mean = (a * h).sum(1)
        std = ((a * h * h).sum(1) - mean ** 2).clamp_min(1e-6).sqrt()
        return self.head(torch.cat([mean, std], 1))


def mixed_frames(frames: np.ndarray, chunk: int = 20000) -> np.ndarray:
    """``(T, width)`` float32: each layer's frame of ``frames`` ``(T, layers, width)`` layer-normalised, the layers
    averaged."""
    out = np.zeros((len(frames), frames.shape[2]), np.float32)
    for i in range(0, len(frames), chunk):
        f = frames[i:i + chunk].astype(np.float32)
        f -= f.mean(2, keepdims=True)
        f /= np.sqrt((f * f).mean(2, keepdims=True) + 1e-5)
        out[i:i + chunk] = f.mean(1)
    return out


def batch(rows: np.ndarray, norm: tuple[np.ndarray, np.ndarray], rng: np.random.Generator | None
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised frames ``(B, T, width)`` and their mask of ``rows``: a random window of at most
    :data:`WINDOW` frames of each with ``rng``, the whole clip without."""
    starts, ends, frames = DATA["starts"], DATA["ends"], DATA["frames"]
    spans = []
    for r in rows:
        start, end = starts[r], ends[r]
        if rng is not None and end - start > WINDOW:
            start = start + int(rng.integers(0, end - start - WINDOW + 1))
            end = start + WINDOW
        spans.append((start, end))
    longest = max(e - s for s, e in spans)
    out = np.zeros((len(rows), longest, *frames.shape[1:]), np.float32)
    valid = np.zeros((len(rows), longest), bool)
    for i, (s, e) in enumerate(spans):
        out[i, : e - s] = (frames[s:e] - norm[0]) / norm[1]
        valid[i, : e - s] = True
    return torch.from_numpy(out), torch.from_numpy(valid)


def frame_norm(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per dimension mean and std of the frames of ``rows``."""
    take = np.concatenate([np.arange(DATA["starts"][r], DATA["ends"][r]) for r in rows])
    f = DATA["frames"][take]
    return f.mean(0), np.maximum(f.std(0), 1e-6)


def frame_stats(frames: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``(n, 2 * width)``: the mean then the std over each clip's frames."""
    return np.stack([np.concatenate([frames[s:e].mean(0), frames[s:e].std(0)]) for s, e in zip(starts, ends)])


def fit_attentive(train: np.ndarray, y: np.ndarray, mask: np.ndarray, weight: np.ndarray, seed: int = 0):
    """The attentive head fitted on rows ``train`` (as :func:`probe_mlp.fit_mlp`: weighted minibatches, masked
    cross-entropy, AdamW on a one-cycle schedule); returns ``rows -> (n, C)`` logits."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    norm = frame_norm(train)
    frames = DATA["frames"]
    net = AttentiveHead(frames.shape[1], mask.shape[1])
    p = weight / weight.sum()
    steps = EPOCHS * max(1, len(train) // probe_mlp.BATCH)
    optimiser = torch.optim.AdamW(net.parameters(), lr=probe_mlp.PEAK_LR / 25, weight_decay=probe_mlp.WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, probe_mlp.PEAK_LR, total_steps=steps)
    allowed = torch.from_numpy(mask)
    for _ in range(steps):
        pick = rng.choice(len(train), probe_mlp.BATCH, p=p)
        x, valid = batch(train[pick], norm, rng)
        logits = net(x, valid).masked_fill(~allowed[pick], -1e9)
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y[pick]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    net.eval()

    def predict(rows: np.ndarray) -> np.ndarray:
        order = np.argsort(DATA["ends"][rows] - DATA["starts"][rows])
        out = np.zeros((len(rows), mask.shape[1]), np.float32)
        with torch.no_grad():
            for i in range(0, len(rows), 128):
                part = order[i:i + 128]
                out[part] = net(*batch(rows[part], norm, None)).numpy()
        return out

    return predict


def fit_stats(train: np.ndarray, y: np.ndarray, mask: np.ndarray, weight: np.ndarray, x: np.ndarray,
              egemaps: bool = False):
    """The shipped MLP head on the clip statistics ``x`` (with eGeMAPS appended to its components when
    ``egemaps``)."""
    mean, std = x[train].mean(0), np.maximum(x[train].std(0), 1e-6)
    basis = principal_basis((x[train] - mean) / std, probe_mlp.COMPONENTS)
    e = DATA["egemaps"]
    e_mean, e_std = e[train].mean(0), np.maximum(e[train].std(0), 1e-6)

    def design(rows: np.ndarray) -> np.ndarray:
        z = ((x[rows] - mean) / std) @ basis
        return np.hstack([z, np.clip((e[rows] - e_mean) / e_std, -10, 10)]) if egemaps else z

    head = probe_mlp.fit_mlp(design(train), y, mask, weight)
    return lambda rows: probe_mlp.mlp_logits(design(rows), head)


def run_fit(job: tuple[str, tuple[str, ...], bool]) -> tuple[tuple, dict[str, float], float]:
    """One fit: candidate, the corpora it is trained without, and whether it is an inner fit (capped rows, scored on
    the capped rows of the corpora left out) or an outer one (every row; scored on every row of the one left out).
    Returns the job, UA per left-out corpus, and the seconds it took."""
    torch.set_num_threads(1)
    start = time.time()
    candidate, without, inner = job
    corpus, y, classes = DATA["corpus"], DATA["y"], DATA["classes"]
    rows = DATA["capped"] if inner else np.arange(len(y))
    train = rows[~np.isin(corpus[rows], without)]
    test = rows[np.isin(corpus[rows], without)]
    mask = loss_masks(corpus, classes, "masked")
    weight = balance_weights(corpus[train], y[train])
    if candidate == "attentive":
        predict = fit_attentive(train, y[train], mask[train], weight)
    else:
        x = DATA["frame_stats"] if candidate == "frame-stats" else DATA["stats"]
        predict = fit_stats(train, y[train], mask[train], weight, x, candidate == "stats+egemaps")
    ua = corpus_ua(y[test], softmax(predict(test)), corpus[test], classes)
    return job, ua, round(time.time() - start, 1)


def load(data: str, features: str) -> None:
    classes = label_set("ravdess8")
    recordings, y, inputs, _ = load_corpora(data, jobs=1)
    paths = [str(r.path) for r in recordings]
    where, frames, offsets, egemaps = {}, [], [0], []
    for corpus in dict.fromkeys(inputs.corpus):
        part = np.load(Path(features) / f"{corpus}.npz")
        base = len(egemaps)
        for i, p in enumerate(part["paths"]):
            where[str(p)] = base + i
        egemaps += list(part["egemaps"])
        frames.append(mixed_frames(part["frames"]))
        offsets += list(offsets[-1] + part["offsets"][1:])
    order = np.array([where[p] for p in paths])  # KeyError: a clip extract.py could not read
    offsets = np.asarray(offsets)
    DATA.update(classes=classes, y=y, corpus=np.asarray(inputs.corpus, dtype=object), stats=inputs.x,
                egemaps=np.nan_to_num(np.asarray(egemaps, np.float32)[order]), frames=np.concatenate(frames),
                starts=offsets[order], ends=offsets[order + 1])
    DATA["frame_stats"] = frame_stats(DATA["frames"], DATA["starts"], DATA["ends"])
    DATA["capped"] = capped_rows(DATA["corpus"], y)


def main(data: str, features: str) -> None:
    load(data, features)
    names = list(dict.fromkeys(DATA["corpus"]))
    jobs = [(c, tuple(pair), True) for c in CANDIDATES for pair in itertools.combinations(names, 2)]
    jobs += [(c, (name,), False) for c in CANDIDATES for name in names]
    jobs.sort(key=lambda j: j[0] != "attentive")  # the slow ones first
    results = {}
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for job, ua, seconds in pool.imap_unordered(run_fit, jobs):
            results[job] = ua
            print(job, {k: round(v, 3) for k, v in ua.items()}, seconds, "s", flush=True)
    report = {"rule": __doc__.split("Rule, fixed before the run: ")[1].strip(), "clips": len(DATA["y"]),
              "folds": {}}
    for held in names:
        inner = {c: {i: results[(c, tuple(sorted((held, i), key=names.index)), True)][i]
                     for i in names if i != held} for c in CANDIDATES}
        inner_mean = {c: float(np.mean(list(v.values()))) for c, v in inner.items()}
        chosen = max(CANDIDATES, key=lambda c: (inner_mean[c] + 1e-9 * (c == "stats"), -CANDIDATES.index(c)))
        test = {c: results[(c, (held,), False)][held] for c in CANDIDATES}
        report["folds"][held] = {"inner_ua": inner_mean, "chosen": chosen, "test_ua": test,
                                 "nested_ua": test[chosen], "inner_ua_by_corpus": inner}
    (HERE / "results.json").write_text(json.dumps(report, indent=1))
    write_markdown(report, names)


def write_markdown(report: dict, names: list[str]) -> None:
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    lines = ["# A stronger global head? Attentive pooling over frames and eGeMAPS, under the nested rule", "",
             "From `python reports/cross-corpus/head-check/extract.py ../shared/data` then "
             "`python reports/cross-corpus/head-check/check.py ../shared/data` (clean clips only, no copies; the "
             "masked loss and every layer for every candidate; single file). What the candidates are: check.py's "
             "docstring. Inner UA: leave-one-corpus-out inside the seven training corpora (the rule's score); test "
             "UA: the held-out corpus, trained on every clip of the seven, never seen by the choice.", "",
             f"Rule (fixed before the run): {report['rule']}", "",
             "| held out | " + " | ".join(f"inner UA {c}" for c in CANDIDATES) + " | chosen | "
             + " | ".join(f"test UA {c}" for c in CANDIDATES) + " | nested UA |",
             "|---" * (2 * len(CANDIDATES) + 3) + "|"]
    for held in names:
        f = report["folds"][held]
        lines.append(f"| {held} | " + " | ".join(pct(f["inner_ua"][c]) for c in CANDIDATES) + f" | {f['chosen']} | "
                     + " | ".join(pct(f["test_ua"][c]) for c in CANDIDATES) + f" | {pct(f['nested_ua'])} |")
    mean = lambda key, c=None: np.mean([report["folds"][h][key] if c is None else report["folds"][h][key][c]  # noqa
                                        for h in names])
    lines.append("| mean | " + " | ".join(pct(mean("inner_ua", c)) for c in CANDIDATES) + " | | "
                 + " | ".join(pct(mean("test_ua", c)) for c in CANDIDATES) + f" | {pct(mean('nested_ua'))} |")
    (HERE / "results.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.expanduser("~/.cache/avemo/head-check"))
