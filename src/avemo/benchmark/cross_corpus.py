"""``avemo benchmark cross-corpus``: does the speech model work on voices and languages it never heard?

Eight acted-speech corpora (RAVDESS, CREMA-D, SAVEE, nEMO, EMOVO, TurEV-DB, URDU, ASED; see
:mod:`avemo.shipping.corpora`), one system class (:class:`~avemo.systems.speech_probe.SpeechProbeSystem`, the
shipped multi-corpus model's), two protocols:

- **leave-one-corpus-out** (``loco``): train on seven corpora, test on every recording of the eighth;
- **RAVDESS 6-fold** (``ravdess_6fold``): the speaker-independent RAVDESS folds, the other corpora added to every
  fold's training data.

Systems:

- the recipe of the shipped model (the settings' ``recipe_name``, ``probe-transfer+augment``): the loss (masked,
  partial or full softmax), the layers and the L2 strength chosen by the nested rule
  (:mod:`avemo.systems.transfer_selection`): leave-one-corpus-out *inside* the training corpora; calibrated on the
  inner held-out corpora, with an abstention level; the adapted heads' compensation and prior weight among the
  settings' ``compensations`` and ``tau_grid``, on validation speakers; trained also on the settings' ``copies`` of
  every training clip (randomly degraded; as another voice);
- other recipes run beside it on both protocols (the settings' ``alternatives``); which of them ships is decided by
  the recipe rule (:mod:`avemo.benchmark.cross_corpus_tables`);
- ``probe-multicorpus`` (:data:`MULTI`): the previous recipe (masked loss, everything chosen on validation
  speakers of the training corpora), as a baseline;
- ``probe-ravdess-only``: trained on RAVDESS alone; ``probe-multicorpus+target`` (RAVDESS 6-fold only): RAVDESS
  weighs as much as the other corpora together and every choice is scored on the fold's RAVDESS validation actors.

Variants (the settings' ``variants``, defined in ``variant_definitions``) change one step of ``probe-transfer``
(leave-one-corpus-out): each loss on its own, plain per-speaker standardisation. The settings are
``configs/benchmarks/cross-corpus.yaml`` (:mod:`avemo.benchmark.cross_corpus_settings`). Every system is scored
three ways: one recording at a time (global head), speaker-adapted for any use (``[speaker-adapted]``) and for
speakers heard in several emotions (``[speaker-adapted-varied]``). Scores are over the classes the test corpus has
(the argmax taken among them); the report also gives the most-predicted class and its share, and, for systems with
an abstention level, how many clips are answered "uncertain" and the accuracy on the rest. No choice is ever made on
a test corpus.
Writes ``summary.json``, ``results.md`` (:mod:`avemo.benchmark.cross_corpus_report`) and ``tsne.png`` (the best
leave-one-corpus-out system's test logits).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from avemo.benchmark.cross_corpus_inner import FoldRows, score_inner
from avemo.benchmark.cross_corpus_settings import suite_settings
from avemo.benchmark.cross_corpus_report import ADAPTED, ADAPTED_VARIED, write_report
from avemo.benchmark.cross_corpus_tables import TRANSFER, clean_only, named_recipes
from avemo.benchmark.tsne import logit_embedding, write_tsne
from avemo.data.recipes import corpus_class_mask
from avemo.data.splits import Fold, make_folds
from avemo.errors import ParameterError
from avemo.labels import label_set
from avemo.shipping.corpora import LANGUAGES, load_corpora, stack_inputs, validation_speakers
from avemo.shipping.probe_train import copies_tag
from avemo.systems import probe_mlp
from avemo.systems.cross_validation import cross_validate
from avemo.systems.speech_probe import ADAPTED_HEADS, CorpusInputs, SpeechProbeSystem
from avemo.train.metrics import mean_std

#: The previous recipe (masked loss, chosen on validation speakers) and RAVDESS alone: baselines.
MULTI, RAVDESS_ONLY = "probe-multicorpus", "probe-ravdess-only"
#: The multi-corpus system built for RAVDESS (RAVDESS 6-fold only): RAVDESS weighs as much as the other corpora
#: together and every choice is scored on the fold's RAVDESS validation actors.
TARGETED = "probe-multicorpus+target"
#: The previous recipe's settings (in-corpus selection, masked loss; the same grid of layers and L2): the baseline
#: ``probe-multicorpus``.
PREVIOUS = {"losses": ["masked"], "selection": "speakers", "abstain_coverage": None}
#: Test predictions of each system, by name suffix: global (""), and the adapted head for any use or for speakers
#: heard in several emotions (``adapt_for``).
PREDICTIONS = {"": None, ADAPTED: "any", ADAPTED_VARIED: "varied"}


def _split(inputs: CorpusInputs, pool: np.ndarray, cfg: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    val = validation_speakers(inputs, pool, cfg["val_fraction"], cfg["seed"])
    is_val = np.isin(inputs.speaker[pool], list(val))
    return pool[~is_val], pool[is_val]


def _fold(name: str, train: np.ndarray, val: np.ndarray, test: np.ndarray, inputs: CorpusInputs) -> Fold:
    return Fold(name, tuple(int(i) for i in train), tuple(int(i) for i in val), tuple(int(i) for i in test),
                tuple(sorted(set(inputs.speaker[test]))), tuple(sorted(set(inputs.speaker[val]))))


def make_jobs(inputs: CorpusInputs, recordings: Sequence[Any], cfg: Mapping[str, Any],
              ravdess_folds: Sequence[int] | None = None) -> list[tuple[str, str, Fold]]:
    """``(protocol, system, fold)`` of every fit on clean clips: leave-one-corpus-out, then RAVDESS 6-fold
    (``probe-transfer``'s folds are those of every nested-rule recipe, each with its copies added)."""
    corpus = inputs.corpus
    everything = np.arange(len(inputs))
    is_ravdess = corpus == "ravdess"
    jobs: list[tuple[str, str, Fold]] = []
    for held_out in cfg["corpora"]:
        test = everything[corpus == held_out]
        train, val = _split(inputs, everything[corpus != held_out], cfg)
        fold = _fold(f"loco-{held_out}", train, val, test, inputs)
        jobs += [("loco", MULTI, fold), ("loco", TRANSFER, fold)]
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
                jobs += [("ravdess_6fold", name, multi) for name in (TARGETED, TRANSFER)
                         if name != TARGETED or cfg.get("targeted")]
    return jobs


def _with_copies(fold: Fold, starts: Sequence[int]) -> Fold:
    """``fold`` whose training rows also include a copy of each from every block of copies that starts at a row of
    ``starts`` (row ``i``'s copy: ``start + i``)."""
    train = tuple(fold.train) + tuple(start + i for start in starts for i in fold.train)
    return Fold(fold.name, train, fold.val, fold.test, fold.test_speakers, fold.val_speakers)


def corpus_metrics(y: np.ndarray, probs: np.ndarray, corpus: str, classes: Sequence[str],
                   abstain_below: float | None = None) -> dict[str, Any]:
    """UA, WA and macro-F1 over the classes ``corpus`` has (the argmax taken among them), the confusion matrix over
    the full label set, the most-predicted class and its share (among the corpus's classes, as scored, and over
    every class, as a user sees it) and, with an abstention level, the share of rows answered "uncertain" (top
    probability over every class below it) and the UA and WA of the others."""
    from sklearn.metrics import confusion_matrix, f1_score

    from avemo.train.metrics import unweighted_accuracy

    allowed = corpus_class_mask(corpus, tuple(classes))
    pred = np.where(allowed, probs, -np.inf).argmax(1)
    present = np.flatnonzero(allowed)
    counts, counts_all = np.bincount(pred, minlength=len(classes)), np.bincount(probs.argmax(1), minlength=len(classes))
    out = {"ua": unweighted_accuracy(y, pred), "wa": float(np.mean(pred == y)),
           "macro_f1": float(f1_score(y, pred, labels=present, average="macro", zero_division=0)),
           "n_test": int(len(y)),
           "top_class": classes[int(counts.argmax())], "top_share": float(counts.max() / max(1, len(y))),
           "top_class_all": classes[int(counts_all.argmax())],
           "top_share_all": float(counts_all.max() / max(1, len(y))),
           "confusion": confusion_matrix(y, pred, labels=np.arange(len(classes))).tolist()}
    if abstain_below is not None:
        answered = probs.max(1) >= abstain_below
        out["abstained"] = float(1 - answered.mean())
        if answered.any():
            import warnings

            with warnings.catch_warnings():  # a class may have no answered clip
                warnings.simplefilter("ignore", UserWarning)
                out["ua_answered"] = unweighted_accuracy(y[answered], pred[answered])
            out["wa_answered"] = float(np.mean(pred[answered] == y[answered]))
    return out


@dataclasses.dataclass
class _Run:
    """What one run reads features and fits systems with: its settings, the corpora's folder, worker processes,
    the feature cache and the folder of kept fits; it adds the seconds spent extracting to ``extract_seconds``."""

    data_root: str | os.PathLike
    cfg: Mapping[str, Any]
    jobs: int
    cache: str | None
    runs_dir: str | os.PathLike | None
    extract_seconds: dict[str, float] = dataclasses.field(default_factory=dict)

    def load(self, corpora: Sequence[str], condition: str | None = None, **features: Any):
        """:func:`load_corpora` of ``corpora`` with the settings' extractor, changed by ``features`` (``frames``:
        the clips' frames too)."""
        options = {"model": self.cfg["model"], "loudness_db": self.cfg["loudness_db"], **features}
        return load_corpora(self.data_root, corpora, self.cfg["label_set"], cache=self.cache, jobs=self.jobs,
                            condition=condition, **options)

    def system(self, **changes: Any) -> Any:
        """A factory of the settings' :class:`SpeechProbeSystem`, with ``changes``."""
        cfg = self.cfg
        settings = {"model": cfg["model"], "layer_grid": cfg["layer_grid"], "l2_grid": cfg["l2_grid"],
                    "loudness_db": cfg["loudness_db"], "losses": cfg["losses"], "selection": cfg["selection"],
                    "abstain_coverage": cfg["abstain_coverage"], **changes}
        return lambda fold: SpeechProbeSystem(cfg["label_set"], **settings)

    def checkpoint(self, name: str, fold: Fold) -> Path | None:
        return None if self.runs_dir is None else Path(self.runs_dir) / name / fold.name

    def fit(self, systems: Mapping[str, Any], rows: CorpusInputs, y: np.ndarray, data: "_Rows",
            jobs: Sequence[tuple[str, str, Fold]]) -> list[Any]:
        """Every job's fit of ``systems`` (name -> factory) on ``rows``, its predictions by :meth:`_Rows.predict`."""
        return cross_validate(dict(systems), rows, y, [], workers=self.jobs, predict=data.predict,
                              jobs=[(name, fold) for _, name, fold in jobs], checkpoint_dir=self.checkpoint,
                              on_done=_progress)


def _fold_rows(cfg: Mapping[str, Any], definitions: Mapping[str, Any], data: "_Rows",
               base_jobs: Sequence[tuple[str, str, Fold]]) -> FoldRows:
    """The rows of :data:`data.everything <_Rows>` each nested-rule system's leave-one-corpus-out fold was fitted on
    (its fold's clips and their copies, and the validation clips): the recipes', and those of the variants on the
    base features (their copies are among the recipes')."""
    folds = {fold.name: fold for protocol, name, fold in base_jobs if protocol == "loco" and name == TRANSFER}
    copies = {name: r["copies"] for name, r in named_recipes(cfg).items()}
    copies.update({d["name"]: d.get("copies") or [] for d in (definitions[key] for key in cfg["variants"])
                   if not d.get("features") and not d["system"].get("utterance_norm")})

    def rows(name: str, fold_name: str) -> tuple[np.ndarray, np.ndarray] | None:
        if name not in copies or fold_name not in folds or any(
                copies_tag(c) not in data.copy_start for c in copies[name]):
            return None
        fold = _with_copies(folds[fold_name], [data.copy_start[copies_tag(c)] for c in copies[name]])
        return np.union1d(fold.train, fold.val), np.asarray(fold.val, np.int64)

    return rows


def _progress(outcome: Any) -> None:
    print(f"{outcome.system} {outcome.fold.name}: {outcome.seconds:.0f} s", flush=True)


@dataclasses.dataclass
class _Rows:
    """The rows systems are fitted on: the corpora's clips (``inputs``, rows ``0..n``), then each copy of every clip
    that a recipe trains on (the block of copy ``c`` starts at row ``copy_start[copies_tag(c)]``), then the RAVDESS
    clips under each recording condition (``condition_rows``); all of them in ``everything``, their class indices in
    ``y_all``."""

    recordings: Sequence[Any]
    y: np.ndarray
    inputs: CorpusInputs
    everything: CorpusInputs
    y_all: np.ndarray
    condition_rows: dict[str, np.ndarray]  # condition -> its row of each RAVDESS clip, in corpus order
    position: np.ndarray  # (n,) each clip's index among the RAVDESS clips (-1: another corpus)
    copy_start: dict[str, int]

    def predict(self, system: SpeechProbeSystem, rows: CorpusInputs, fold: Fold) -> dict[str, np.ndarray]:
        """Test probabilities of every head (:data:`PREDICTIONS`), and, on RAVDESS folds, under each condition."""
        out = {}
        tests = {"": np.asarray(fold.test)}
        if not fold.name.startswith("loco") and rows is self.everything:
            tests.update({f"@{c}": r[self.position[np.asarray(fold.test)]] for c, r in self.condition_rows.items()})
        for suffix, test_rows in tests.items():
            test = rows.take(test_rows)
            for name, adapt_for in PREDICTIONS.items():
                out[name + suffix] = system.predict_proba(test, adapt=adapt_for is not None,
                                                          adapt_for=adapt_for or "any")
        return out


def _load_rows(run: _Run) -> _Rows:
    """The corpora's clips, their copies the recipes train on and the RAVDESS clips under each condition (see
    :class:`_Rows`)."""
    cfg = run.cfg
    # an attentive global head reads the frames of every clip it trains or is tested on, and those of the copies
    # it trains on (attentive_copies)
    attentive = [r for r in named_recipes(cfg).values() if r.get("global_heads") == ["attentive"]]
    frames = bool(attentive)
    recordings, y, inputs, seconds = run.load(cfg["corpora"], frames=frames)
    run.extract_seconds.update(seconds)
    copies = {copies_tag(c): c for recipe in named_recipes(cfg).values() for c in recipe["copies"]}
    framed_copies = {copies_tag(c) for r in attentive if r.get("attentive_copies") for c in r["copies"]}
    copied = []
    for tag, copy in copies.items():
        _, _, block, seconds = run.load(cfg["corpora"], copy["condition"], backend=copy.get("backend", "torch"),
                                        frames=tag in framed_copies)
        run.extract_seconds[tag] = round(sum(seconds.values()), 1)
        copied.append(block)
    copy_start = {tag: len(inputs) * (k + 1) for k, tag in enumerate(copies)}
    blocks, labels = [inputs, *copied], [y] * (1 + len(copied))
    ravdess_rows = np.flatnonzero(inputs.corpus == "ravdess")
    condition_rows: dict[str, np.ndarray] = {}
    if "ravdess" in cfg["corpora"]:
        for condition in cfg["conditions"]:
            _, _, degraded, seconds = run.load(["ravdess"], condition, frames=frames)
            run.extract_seconds[f"ravdess {condition}"] = seconds["ravdess"]
            start = sum(len(b) for b in blocks)
            condition_rows[condition] = np.arange(start, start + len(degraded))
            blocks.append(degraded)
            labels.append(y[ravdess_rows])
    position = np.full(len(inputs), -1)
    position[ravdess_rows] = np.arange(len(ravdess_rows))
    return _Rows(recordings, y, inputs, stack_inputs(blocks), np.concatenate(labels), condition_rows, position,
                 copy_start)


def _fit_systems(run: _Run, data: _Rows, base_jobs: list[tuple[str, str, Fold]], only: Sequence[str] | None = None
                 ) -> tuple[list[tuple[str, str, Fold]], list[Any]]:
    """Every system's jobs (the recipe's and the alternatives' first, each with its copies: they take longest and
    matter most), or those of the systems named in ``only``, and their outcomes."""
    recipes = named_recipes(run.cfg)
    job_list = [(protocol, name, _with_copies(fold, [data.copy_start[copies_tag(c)] for c in recipe["copies"]]))
                for name, recipe in recipes.items() for protocol, base, fold in base_jobs if base == TRANSFER]
    job_list += [job for job in base_jobs if job[1] != TRANSFER]
    job_list = [job for job in job_list if only is None or job[1] in only]
    systems = {**{name: run.system(compensations=recipe["compensations"], tau_grid=recipe["tau_grid"],
                                   global_heads=recipe.get("global_heads", ["linear"]),
                                   attentive_copies=recipe.get("attentive_copies", False))
                  for name, recipe in recipes.items()},
               MULTI: run.system(**PREVIOUS), RAVDESS_ONLY: run.system(**PREVIOUS),
               TARGETED: run.system(**PREVIOUS, target_corpus="ravdess")}
    return job_list, run.fit(systems, data.everything, data.y_all, data, job_list)


def _fit_variant(run: _Run, data: _Rows, base_jobs: list[tuple[str, str, Fold]], key: str,
                 variant: Mapping[str, Any]) -> tuple[list[tuple[str, str, Fold]], list[Any]]:
    """The jobs and outcomes of ``probe-transfer`` with one step changed, leave-one-corpus-out, on its own
    features (the base features when it changes none)."""
    def load(tag: str, condition: str | None = None, **features: Any) -> CorpusInputs:
        found, _, loaded, seconds = run.load(run.cfg["corpora"], condition, **features)
        if [r.id for r in found] != [r.id for r in data.recordings]:
            raise ParameterError(f"variant {key}: the corpora changed while the benchmark ran; run it again")
        run.extract_seconds.update({f"{c} ({tag})": v for c, v in seconds.items()})
        return loaded

    rows = load(key, **variant["features"]) if variant.get("features") else data.inputs
    copies = variant.get("copies") or []
    if copies:  # rows n..2n, 2n..3n, ...: each copy of every clip
        rows = stack_inputs([rows] + [load(f"{key}, {c['condition']} copies", c["condition"],
                                           **{**variant.get("features", {}), "backend": c.get("backend", "torch")})
                                      for c in copies])
    n = len(data.inputs)
    todo = [(protocol, variant["name"], _with_copies(fold, [n * k for k in range(1, len(copies) + 1)]))
            for protocol, name, fold in base_jobs if name == TRANSFER and protocol == "loco"]
    y = np.concatenate([data.y] * (1 + len(copies)))
    return todo, run.fit({variant["name"]: run.system(**variant["system"])}, rows, y, data, todo)


def _summarise(cfg: Mapping[str, Any], variants: Mapping[str, Any], classes: Sequence[str], data: _Rows,
               job_list: Sequence[tuple[str, str, Fold]], outcomes: Sequence[Any]) -> dict[str, Any]:
    """The summary: settings, corpora, and every system's folds (scores over the test corpus's classes, the
    choices of its head) with their mean and std."""
    inputs, y = data.inputs, data.y
    summary: dict[str, Any] = {"benchmark": "cross-corpus", "classes": list(classes), "settings": dict(cfg),
                               "variants": dict(variants),
                               "corpora": {}, "loco": {"systems": {}}, "ravdess_6fold": {"systems": {}},
                               # what the corpora hold that could not be used: counted, with the first files
                               "skipped": {"counts": dict(getattr(data.recordings, "skipped", {})),
                                           "examples": dict(getattr(data.recordings, "skipped_examples", {}))}}
    for c in cfg["corpora"]:
        rows = inputs.corpus == c
        summary["corpora"][c] = {"n_recordings": int(rows.sum()), "n_speakers": len(set(inputs.speaker[rows])),
                                 "language": LANGUAGES.get(c, "?"),
                                 "classes": [k for k, on in zip(classes, corpus_class_mask(c, tuple(classes))) if on]}
    for (protocol, name, fold), outcome in zip(job_list, outcomes):
        test = np.asarray(fold.test)
        test_corpus = str(inputs.corpus[test[0]])
        for variant, probs in outcome.test_probs.items():
            entry = summary[protocol]["systems"].setdefault(f"{name}{variant}", {"folds": [],
                                                                                 "mlp_version": probe_mlp.VERSION})
            use = PREDICTIONS[variant.split("@")[0]]
            choices = outcome.report.get(ADAPTED_HEADS[use] if use else "global", {})
            row = {"fold": fold.name, **corpus_metrics(y[test], probs, test_corpus, classes,
                                                       choices.get("abstain_below")),
                   "val_speakers": list(fold.val_speakers), "choices": choices}
            row["test_corpus" if protocol == "loco" else "test_speakers"] = (
                test_corpus if protocol == "loco" else list(fold.test_speakers))
            entry["folds"].append(row)
    for protocol in ("loco", "ravdess_6fold"):
        for entry in summary[protocol]["systems"].values():
            for key in ("ua", "wa", "macro_f1"):
                stats = mean_std([f[key] for f in entry["folds"]])
                entry.setdefault("mean", {})[key], entry.setdefault("std", {})[key] = stats["mean"], stats["std"]
    return summary


def run_cross_corpus_benchmark(data_root: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                               jobs: int = 2, cache: str | None = "default", ravdess_folds: Sequence[int] | None = None,
                               config: str | os.PathLike | None = None, overrides: Sequence[str] | None = None,
                               runs_dir: str | os.PathLike | None = None, systems: Sequence[str] | None = None
                               ) -> dict[str, Any]:
    """Run the benchmark (see the module docstring) and write its report folder; returns the summary.

    ``config``: the settings (:func:`suite_settings`: ``configs/benchmarks/cross-corpus.yaml``, or a copy of it),
    with ``overrides`` (``key=value``). ``runs_dir``: every fitted system is kept in ``runs_dir/<system>/<fold>``
    and loaded back by a later run when it was fitted on the same rows with the same settings and code (a run that
    stopped part-way resumes; see :meth:`SpeechProbeSystem.fit`); ``None``: nothing kept. ``systems``: fit only
    these systems (their names in the report, without a head's or condition's suffix) and carry every other row
    over unchanged from the report already in ``out_dir``, which must have been run with the same settings; the
    summary's ``carried_over`` and the report name them (:func:`_carry_over`). ``ravdess_folds``: fit only these
    RAVDESS 6-fold folds (1-based; ``[0]``: none, leave-one-corpus-out only), which the summary's ``ravdess_folds``
    and the report name.

    Raises:
        ParameterError: for missing corpora or bad settings; with ``systems``, for a name the settings do not run,
            or no report in ``out_dir`` run with the same settings.
    """
    cfg, definitions = suite_settings(config, overrides)
    out = Path(out_dir or "reports/cross-corpus")
    classes = label_set(cfg["label_set"])
    previous = _previous_report(out, cfg, definitions, systems) if systems else None
    t0 = time.perf_counter()
    run = _Run(data_root, cfg, jobs, cache, runs_dir)
    data = _load_rows(run)
    base_jobs = make_jobs(data.inputs, data.recordings, cfg, ravdess_folds)
    t1 = time.perf_counter()
    job_list, outcomes = _fit_systems(run, data, base_jobs, systems)
    for key in cfg["variants"]:  # the multi-corpus system with one step changed, on its own features
        if systems is None or definitions[key]["name"] in systems:
            todo, done = _fit_variant(run, data, base_jobs, key, definitions[key])
            job_list, outcomes = job_list + todo, outcomes + done
    train_seconds = time.perf_counter() - t1
    summary = _summarise(cfg, {key: definitions[key] for key in cfg["variants"]}, classes, data, job_list,
                         outcomes)
    summary["timing"] = {"extract_seconds": run.extract_seconds, "train_test_seconds": round(train_seconds, 1),
                         "total_seconds": round(time.perf_counter() - t0, 1), "cpu_count": os.cpu_count(),
                         "jobs": jobs}
    if ravdess_folds is not None:  # a run on some RAVDESS folds (none: leave-one-corpus-out only) says which
        summary["ravdess_folds"] = sorted(k for k in set(ravdess_folds) if 1 <= k <= 6)
    if previous is not None:
        _carry_over(summary, previous, systems, _system_names(cfg, definitions))
    t2 = time.perf_counter()
    # the recipe rule's score of every system it compares (not of those trained on clean clips alone)
    score_inner(summary, _fold_rows(cfg, definitions, data, base_jobs), data.everything, data.y_all, classes,
                skip=clean_only(summary), workers=jobs)
    summary["timing"]["inner_refit_seconds"] = round(time.perf_counter() - t2, 1)
    write_report(summary, out)
    _draw_tsne(summary, job_list, outcomes, data.y, classes, out)
    return summary


#: The settings of one recipe (the shipped one's at the top level; each alternative's in its entry), which a run of
#: some systems may lay out anew (:func:`_previous_report`).
RECIPE_SETTINGS = ("recipe_name", "alternatives", "copies", "compensations", "tau_grid", "global_heads",
                   "attentive_copies")
#: What a recipe setting added since reports began is, in a report written before it.
RECIPE_DEFAULTS = {"attentive_copies": False}


def _system_names(cfg: Mapping[str, Any], definitions: Mapping[str, Any]) -> list[str]:
    """The systems a run with settings ``cfg`` fits (as named in the report, without a head's suffix)."""
    return [*named_recipes(cfg), MULTI, RAVDESS_ONLY, *([TARGETED] if cfg["targeted"] else []),
            *(definitions[key]["name"] for key in cfg["variants"])]


def _previous_report(out: Path, cfg: Mapping[str, Any], definitions: Mapping[str, Any], systems: Sequence[str]
                     ) -> dict[str, Any]:
    """The summary in ``out`` whose other rows a run fitting only ``systems`` carries over, checked before
    anything is fitted.

    Raises:
        ParameterError: for a system the settings do not run, or no summary there run with the same settings.
    """
    import json

    names = _system_names(cfg, definitions)
    unknown = sorted(set(systems) - set(names))
    if unknown:
        raise ParameterError(f"systems {unknown} are not run by these settings; choose among {names}")
    path = out / "summary.json"
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        raise ParameterError(f"--systems fits only some systems and carries the others over from the report in "
                             f"{out}, but there is no readable summary.json there; run the whole benchmark "
                             "first") from None
    settings = json.loads(json.dumps(dict(cfg)))
    theirs = previous.get("settings", {})
    # the recipes may be laid out anew (another one shipped, one added) where every recipe carried over keeps its
    # own settings; the settings all recipes share must be the same (all settings, in a report before recipes)
    shared = [] if "recipe_name" not in theirs else RECIPE_SETTINGS
    changed = sorted(k for k in set(settings) | set(theirs) if k not in shared and settings.get(k) != theirs.get(k))
    if changed:
        restore = " ".join(f"{k}={json.dumps(theirs.get(k), separators=(',', ':'))}" for k in changed)
        raise ParameterError(f"the report in {out} was run with other settings ({', '.join(changed)}); its rows "
                             f"cannot stand beside this run's: pass its settings with --set '{restore}', or run the "
                             "whole benchmark")
    own = RECIPE_SETTINGS[2:]
    before, now = ({n: {k: r.get(k, RECIPE_DEFAULTS.get(k)) for k in own} for n, r in named_recipes(s).items()}
                   for s in (theirs, settings))
    moved = [n for n in sorted(set(now) - set(systems)) if before.get(n) != now[n]]
    if moved:
        raise ParameterError(f"the recipes {moved} are new or have other settings than in the report in {out}; their "
                             "rows cannot be carried over: fit them too (--systems) or run the whole benchmark")
    return previous


def _carry_over(summary: dict[str, Any], previous: Mapping[str, Any], systems: Sequence[str],
                names: Sequence[str]) -> None:
    """Put every row of ``previous`` that does not belong to ``systems`` (a system's rows: its name, alone or with a
    head's ``[...]`` or a condition's ``@...`` suffix) but to one of the systems this run's settings name
    (``names``) into ``summary``, unchanged and in the previous order, and name them in ``summary["carried_over"]``
    (each row keeps the ``mlp_version`` of the run that fitted it)."""
    def belongs(row: str, to: Sequence[str]) -> bool:
        return any(row == s or row.startswith((s + "[", s + "@")) for s in to)

    def fitted_now(row: str) -> bool:
        return belongs(row, systems) or not belongs(row, names)

    carried = []
    for protocol in ("loco", "ravdess_6fold"):
        now = summary[protocol]["systems"]
        merged = {}
        for row, entry in previous[protocol]["systems"].items():
            if fitted_now(row):
                if row in now:
                    merged[row] = now[row]
            else:
                merged[row] = entry
                carried.append(row)
        merged.update({row: entry for row, entry in now.items() if row not in merged})
        summary[protocol]["systems"] = merged
    summary["carried_over"] = {"fitted": list(systems), "rows": sorted(set(carried))}
    # the run times of the earlier runs whose rows are still carried (a whole run: "fitted" is None)
    earlier = [*previous.get("earlier_runs", []),
               {"fitted": (previous.get("carried_over") or {}).get("fitted"), "timing": previous.get("timing")}]
    summary["earlier_runs"] = [r for r in earlier if r["timing"] and carried
                               and (r["fitted"] is None or any(belongs(row, r["fitted"]) for row in carried))]


def _draw_tsne(summary: Mapping[str, Any], job_list: Sequence[tuple[str, str, Fold]], outcomes: Sequence[Any],
               y: np.ndarray, classes: Sequence[str], out: Path) -> Path | None:
    """``tsne.png``: the logits of the best leave-one-corpus-out system (by mean UA), each recording scored once,
    by the system trained without its corpus."""
    loco = summary["loco"]["systems"]
    if not loco:
        return None
    best = max(loco, key=lambda n: loco[n]["mean"]["ua"])
    if best in summary.get("carried_over", {}).get("rows", []):
        return None  # drawn by the run that fitted it (its tsne.png stays)
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
