"""Train the shipped multi-corpus speech model (:class:`SpeechProbeSystem`) on every speaker of its corpora.

``avemo train speech-multicorpus --data DIR --out DIR [--cv-report reports/cross-corpus/summary.json]
[--config my.yaml] [--set key=value ...]``, where ``DIR`` holds the corpus folders (the ``corpora`` of the
recipe, ``configs/shipping/speech-multicorpus.yaml``, which explains each setting). The recipe is the cross-corpus
benchmark's (named by ``recipe_name`` in its report; not chosen by test figures): the loss, layers and L2 by
leave-one-corpus-out inside the corpora, temperatures and the "uncertain" level from held-out corpora (the inner
ones; for an MLP head, its own recipe refitted without each corpus),
the adapted heads' prior weights and compensation (among ``tau_grid`` and ``compensations``) on validation speakers
(drawn per corpus, as in the benchmark); each head is then refitted on every speaker. With ``copies``, the training
speakers' clips are also trained on as copies of each clip (:class:`TrainingCopies`: randomly degraded by noise,
reverberation, gain, Opus or the telephone band; played faster or slower, as another voice).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Sequence

import numpy as np
from pydantic import Field

from avemo.data.recipes.registry import CorpusTable
from avemo.errors import ParameterError
from avemo.features.audio.degrade import AUGMENTATIONS, CONDITIONS
from avemo.shipping.cards import card_text, classes_line, closing_sections, figures_section, pct, title, train_command
from avemo.shipping.corpora import CORPUS_FOLDERS, LANGUAGES, load_corpora, stack_inputs, validation_speakers
from avemo.systems import probe_attentive, probe_mlp
from avemo.systems.settings import Settings, read_settings
from avemo.systems.speech_probe import SELECTIONS, SpeechProbeSystem
from avemo.systems.transfer_selection import HEAD_KINDS, LOSSES

NAME = "speech-multicorpus"
#: The folder of ``configs/`` that holds the recipes of shipped systems.
GROUP = "shipping"
CORPORA = tuple(CORPUS_FOLDERS)


class TrainingCopies(Settings):
    """A copy of every training clip a recipe also trains on: under which augmentation or condition
    (:mod:`avemo.features.audio.degrade`; ``random``: a randomly degraded copy, ``voice``: played faster or slower),
    and with which encoder backend its features are computed (``torch``, the reference, by default)."""

    condition: Literal[tuple(AUGMENTATIONS) + tuple(CONDITIONS)]
    backend: Literal["torch", "onnx-f32", "onnx-int8"] = "torch"


def degrades(copies: Sequence[Mapping[str, Any]]) -> bool:
    """Whether ``copies`` (of :class:`TrainingCopies`) include a copy degraded as a recording can be (another voice
    is not a recording condition)."""
    return any(c["condition"] != "voice" for c in copies)


def copies_tag(copy: Mapping[str, Any]) -> str:
    """How a copy is named in timings: ``"<condition> copies"``, with its backend when it is not ``torch``."""
    backend = copy.get("backend", "torch")
    return f"{copy['condition']} copies" + ("" if backend == "torch" else f" ({backend})")


class ProbeRecipe(Settings):
    """The settings of a multi-corpus probe recipe, each explained in ``configs/shipping/speech-multicorpus.yaml``
    (also the candidate recipe's part of the cross-corpus benchmark's settings)."""

    model: str
    loudness_db: float | None
    corpora: list[Literal[CORPORA]]
    layer_grid: list[list[int]]
    l2_grid: list[float]
    val_fraction: Annotated[float, Field(gt=0, lt=1)]
    seed: int
    copies: list[TrainingCopies]
    losses: list[Literal[LOSSES]]
    selection: Literal[SELECTIONS]
    abstain_coverage: Annotated[float, Field(gt=0, le=1)] | None
    compensations: list[Annotated[float, Field(ge=0, le=1)]]
    tau_grid: list[Annotated[float, Field(ge=0)]] | None
    global_heads: list[Literal[HEAD_KINDS]]
    attentive_copies: bool
    recipe_name: str


def recipe(config: str | os.PathLike | None = None, overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """The training recipe: ``configs/shipping/speech-multicorpus.yaml``, or ``config`` (a copy of it: a YAML path,
    or a name in ``configs/shipping/``), with ``overrides`` (``key=value``) applied.

    Raises:
        ParameterError: a missing file, or a setting missing, unknown or of the wrong type (naming file and key).
    """
    return read_settings(ProbeRecipe, config or NAME, GROUP, overrides)


#: Licences, for the model card.
LICENCES: CorpusTable[str] = CorpusTable(lambda c: c.licence)


def train_probe_system(data_root: str | os.PathLike, out_dir: str | os.PathLike,
                       cv_report: str | os.PathLike | None = None, jobs: int = 1,
                       cache: str | None = "default", checkpoint_dir: str | os.PathLike | None = None,
                       config: str | os.PathLike | None = None, overrides: Sequence[str] | None = None) -> Path:
    """Train by :func:`recipe` (``config``, ``overrides``) on its corpora, save the system folder with a
    ``MODEL_CARD.md``; returns the folder.

    ``checkpoint_dir``: the fit is kept there and loaded back by a later run on the same rows with the same settings
    and fitting version (:meth:`SpeechProbeSystem.fit`): a run that stopped, or one that only brings the model card up
    to date with a new ``cv_report``, does not fit again.

    Raises:
        ParameterError: missing corpora, a bad recipe, or a report that is not the cross-corpus summary or has no
            figures of the recipe.
    """
    settings = recipe(config, overrides)
    cv = None
    if cv_report:
        if not Path(cv_report).is_file():
            raise ParameterError(f"--cv-report {str(cv_report)!r} does not exist; run `avemo benchmark cross-corpus` "
                                 "first or leave it out")
        cv = json.loads(Path(cv_report).read_text())
        if cv.get("benchmark") != "cross-corpus":
            raise ParameterError(f"{cv_report} is not a cross-corpus summary.json")
        if settings["recipe_name"] not in cv.get("loco", {}).get("systems", {}):
            raise ParameterError(f"{cv_report} has no figures of the recipe {settings['recipe_name']!r}; run `avemo "
                                 "benchmark cross-corpus` with the same recipe (configs/benchmarks/cross-corpus.yaml) "
                                 "first")
    t0 = time.perf_counter()
    recordings, y, inputs, _ = load_corpora(data_root, list(settings["corpora"]), "ravdess8", settings["model"],
                                            settings["loudness_db"], cache, jobs,
                                            frames=settings["global_heads"] == ["attentive"])
    rows = np.arange(len(inputs))
    per_corpus = {c: {"n_recordings": int((inputs.corpus == c).sum()),  # the corpora's own clips, copies apart
                      "n_speakers": len(set(inputs.speaker[inputs.corpus == c]))} for c in settings["corpora"]}
    val = validation_speakers(inputs, rows, settings["val_fraction"], settings["seed"])
    is_val = np.isin(inputs.speaker, list(val))
    train = rows[~is_val]
    copies = settings["copies"]
    if copies:  # rows n..2n, 2n..3n, ...: each copy of every clip; those of the training speakers are trained on
        blocks = [load_corpora(data_root, list(settings["corpora"]), "ravdess8", settings["model"],
                               settings["loudness_db"], cache, jobs, condition=c["condition"],
                               backend=c.get("backend", "torch"), frames=settings["attentive_copies"])[2]
                  for c in copies]
        inputs = stack_inputs([inputs, *blocks])
        y = np.concatenate([y] * (1 + len(copies)))
        train = np.concatenate([train + k * len(rows) for k in range(1 + len(copies))])
    system = SpeechProbeSystem("ravdess8", settings["model"], settings["layer_grid"], settings["l2_grid"],
                               settings["loudness_db"], losses=settings["losses"], selection=settings["selection"],
                               abstain_coverage=settings["abstain_coverage"],
                               compensations=settings["compensations"], tau_grid=settings["tau_grid"],
                               global_heads=settings["global_heads"],
                               attentive_copies=settings["attentive_copies"])
    system.fit(inputs, y, (train, rows[is_val]), checkpoint_dir=checkpoint_dir)
    system.info.update({"name": NAME, "corpora": per_corpus, "validation_speakers": sorted(val),
                        "augmented": degrades(copies), "copies": [dict(c) for c in copies],
                        "recipe_name": settings["recipe_name"],
                        **({"mlp_version": probe_mlp.VERSION} if "mlp" in settings["global_heads"] else {}),
                        **({"attentive_version": probe_attentive.VERSION}
                           if settings["global_heads"] == ["attentive"] else {}),
                        "command": train_command(NAME, data_root, out_dir, cv_report, config, overrides),
                        "cross_validation": _cv_figures(cv, cv_report, settings["recipe_name"]) if cv else None,
                        # a fit loaded back from checkpoint_dir took its time in an earlier run
                        **({} if "fit_loaded_from" in system.info else
                           {"train_seconds": round(time.perf_counter() - t0, 1)})})
    out = system.save(out_dir)
    (out / "MODEL_CARD.md").write_text(model_card(system))
    return out


def _cv_figures(cv: dict[str, Any], path: str | os.PathLike, recipe_name: str) -> dict[str, Any]:
    """The rows of this model's recipe (``recipe_name``) in a cross-corpus summary: UA per held-out corpus and
    RAVDESS 6-fold."""
    out: dict[str, Any] = {"report": str(path), "loco": {}, "ravdess_6fold": {},
                           # the probe_mlp version of the recipe's rows (rows written before it was recorded: 2)
                           "mlp_version": cv["loco"]["systems"].get(recipe_name, {}).get("mlp_version", 2)}
    names = {recipe_name + head  # this model's rows
             for head in ("", "[speaker-adapted]", "[speaker-adapted-varied]")}
    for protocol in ("loco", "ravdess_6fold"):
        for name, entry in cv[protocol]["systems"].items():
            base, _, condition = name.partition("@")
            if base in names and protocol == "ravdess_6fold" and condition:
                out.setdefault("conditions", {}).setdefault(base, {})[condition] = entry["mean"]["ua"]
            elif name in names:
                out[protocol][name] = {"mean_ua": entry["mean"]["ua"], "std_ua": entry["std"]["ua"],
                                       **({"ua_by_corpus": {f["test_corpus"]: f["ua"] for f in entry["folds"]},
                                           "top_class_by_corpus": {f["test_corpus"]: [f.get("top_class"),
                                                                                      f.get("top_share")]
                                                                   for f in entry["folds"]},
                                           "abstained_by_corpus": {f["test_corpus"]: [f["abstained"],
                                                                                      f.get("ua_answered")]
                                                                   for f in entry["folds"] if "abstained" in f}}
                                          if protocol == "loco" else {})}
    return out


def model_card(system: SpeechProbeSystem) -> str:
    """A markdown model card: the model, its data, licences, cross-corpus figures, how to reproduce it."""
    info = system.info
    heads = system.fit_report()
    corpora = info.get("corpora", {})
    lines = [*title(NAME,
             f"Speech emotion model trained on {len(corpora) or 'several'} acted-speech corpora in "
             f"{len({LANGUAGES.get(c, c).split(' ')[0] for c in corpora}) or 'several'} languages, for voices it has "
             "never heard: "
             + ("a small MLP for one recording (one hidden layer of 256 units on the top 128 principal components) "
                "and a linear probe (softmax regression) for several recordings of a person, both"
                if system.global_kind() == "MLP" else
                "for one recording, attentive statistics pooling over the clip's frames (every 80 ms, the encoder's "
                "layers normalised and averaged; a learnt weight per frame, then one hidden layer; trained on the "
                "clean clips); for several recordings of a person, a linear probe (softmax regression)"
                if system.global_kind() == "attentive" else "a linear probe (softmax regression)")
             + " on the loudness-normalised clip statistics (mean and standard deviation over frames) of Whisper "
             f"{system.model} encoder layers. Corpora and classes are weighted alike. "
             + ("The training loss (which classes a corpus lacks are masked: `masked`, only calm and neutral: "
                "`partial`, none: `full`), the layers and the L2 strength of each head"
                + (" and the kind of global head" if len(system.global_heads) > 1 else "") + " were chosen by "
                "leave-one-corpus-out inside the training corpora (what transfers to corpora never heard), not by "
                "fit on held-in speakers"
                + ("; the attentive head takes the first loss of the grid and was chosen over the heads on clip "
                   "statistics by the same rule (reports/cross-corpus/head-check)." if system.attentive else ".")
                if system.selection == "loco" else
                "Classes a corpus lacks are masked in training; layers and L2 are chosen on validation speakers.")
             + (" Every training clip is also trained on as a randomly degraded copy (pink noise at several SNRs, "
                "reverberation, gain, Opus, the telephone band), so it holds up on recordings that are not "
                "studio-clean." if info.get("augmented") else "")
             + (" It is also trained on a copy of every clip played 5-12% faster or slower (pitch, formants and "
                "tempo move together, as in another voice)." if any(c["condition"] == "voice"
                                                                   for c in info.get("copies", [])) else "")),
             "## Heads",
             f"- global (one recording at a time): {system.global_kind()} head, loss "
             f"{heads['global'].get('loss', 'masked')}, "
             + ("frames of every layer, " if system.attentive else
                f"layers {heads['global']['layers']}, {'weight decay' if system.global_kind() == 'MLP' else 'L2'} "
                f"{heads['global']['l2']}, ")
             + f"temperature {heads['global']['temperature']:.3f}"
             + (f"; answers \"uncertain\" (status `uncertain`, with its best guess) when the calibrated top "
                f"probability is below {heads['global']['abstain_below']:.2f} (the level that answers 80% of the "
                "clips of corpora held out inside the training data)" if heads['global'].get('abstain_below')
                else ""),
             f"- speaker-adapted (several recordings of one person): loss {heads['adapted'].get('loss', 'masked')}, "
             f"layers {heads['adapted']['layers']}, L2 "
             f"{heads['adapted']['l2']}, temperature {heads['adapted']['temperature']:.3f}, prior weight "
             f"{heads['adapted']['tau']:g} recordings, emotion compensation "
             f"{heads['adapted'].get('compensation', 0):g}; "
             "each speaker's features are standardised by the statistics of that speaker's own recordings (no "
             "labels; with compensation 1, each recording's expected emotion offset, from the global head, is taken "
             "out of the statistics first, so a speaker heard mostly in one emotion keeps it): "
             "`avemo predict --speaker-key folder ...`, `engine.speaker_adaptation()`, "
             "`engine.open_session(adapt_to_speaker=True)`; its prior weight and compensation are chosen on "
             "validation speakers for any use (statistics from 2, 4, 8, 16 or all of a speaker's recordings, and "
             "from recordings of one emotion).",
             f"- speaker-adapted for varied recordings (all of a person's recordings, spanning several emotions: "
             f"an acted corpus, a session with a range of emotions): the same layers and L2, temperature "
             f"{heads['adapted-varied']['temperature']:.3f}, prior weight {heads['adapted-varied']['tau']:g} "
             f"recordings, emotion compensation {heads['adapted-varied'].get('compensation', 0):g}, chosen on "
             "validation speakers adapted with all of their recordings: `--speaker-key folder --adapt-for varied`, "
             "`engine.speaker_adaptation(adapt_for=\"varied\")`. Do not use it when a person's recordings are "
             "mostly of one emotion: " + ("plain statistics then remove that emotion." if not
                                         heads['adapted-varied'].get('compensation', 0) else
                                         "it was not chosen for them, the first adapted head was."),
             classes_line(system.classes), "- files: `system.json` + `weights.safetensors` (no pickle)", "",
             "## Training data (every speaker; languages it has heard)"]
    for c, s in corpora.items():
        lines.append(f"- {c}: {LANGUAGES.get(c, '?')}, {s['n_recordings']} clips, {s['n_speakers']} speakers; "
                     f"licence {LICENCES.get(c, '?')}")
    lines += [f"- validation speakers (chose layers, L2, temperatures; then refitted on all): "
              f"{', '.join(info.get('validation_speakers', []))}", ""]
    lines += figures_section("Cross-corpus figures", _cv_lines(info.get("cross_validation"), info.get("mlp_version")),
                             "train with --cv-report reports/cross-corpus/summary.json")
    lines += closing_sections(info.get("command", ""), [
        "Acted speech only (actors reading fixed sentences, plus Urdu talk-show clips); expect lower accuracy on "
        "spontaneous speech and on languages it has not heard.",
        "The speaker-adapted head needs two or more recordings of the same person (with one, the global head "
        "answers); it works best when they cover several emotions. "
        + ("Emotion compensation keeps part of the signal of a person heard in one emotion only, but there the "
           "global head can still do better (URDU in the cross-corpus report)."
           if heads["adapted"].get("compensation", 0) else
           "Its validation speakers chose no emotion compensation: for a person heard mostly in one emotion, that "
           "person's statistics take the emotion out with the voice, and the global head does better (URDU in the "
           "cross-corpus report)."),
        "Noise, reverberation and the telephone band still cost accuracy (see the conditions above), less than "
        "without the degraded copies (`probe-multicorpus` in the benchmark)." if info.get("augmented") else
        "Noise, reverberation and the telephone band cost accuracy (see the conditions above): this recipe trains "
        "on clean clips only (the recipe rule preferred it to `probe-transfer+augment`, which holds up better on "
        "degraded recordings).",
        "How it was chosen: inside a fit, every choice (layers, L2, loss, temperatures, prior weights, "
        "compensation) is made on data of the training corpora only (validation speakers, or leave-one-corpus-out "
        "inside them), never on a test corpus.",
        "\"uncertain\" is a level on the calibrated top probability, set to answer 80% of the clips of corpora "
        "held out inside the training data; on a corpus unlike all of them more clips fall below it (see the "
        "abstention figures above).",
        "Licences: the training corpora are licensed for non-commercial or research use only (see above); so is "
        "this model."])
    return card_text(lines)


def _cv_lines(cv: dict[str, Any] | None, mlp_version: int | None = None) -> list[str]:
    """The card's cross-corpus figures from :func:`_cv_figures` (none without a report), with a note when the
    report's MLP heads were calibrated by another version of :mod:`~avemo.systems.probe_mlp` than the model's
    (``mlp_version``; ``None``: not recorded)."""
    if not cv:
        return []
    lines = [f"From `{cv['report']}` (`avemo benchmark cross-corpus`); UA over the classes each corpus has."]
    for name, f in cv["loco"].items():
        per = ", ".join(f"{c} {pct(v)}%" for c, v in f["ua_by_corpus"].items())
        mode = "speaker-adapted" if "[" in name else "single file"
        lines.append(f"- leave-one-corpus-out, {mode}, `{name}`: mean {pct(f['mean_ua'])}% ({per})")
        tops = f.get("top_class_by_corpus") or {}
        if "[" not in name and tops and all(v[0] for v in tops.values()):
            lines.append("  - most-predicted class per held-out corpus: " + ", ".join(
                f"{c} {v[0]} {pct(v[1])}%" for c, v in tops.items()))
        abstained = f.get("abstained_by_corpus") or {}
        if "[" not in name and abstained:
            lines.append("  - answered \"uncertain\" / UA of the answered clips: " + ", ".join(
                f"{c} {pct(v[0])}% / {pct(v[1]) if v[1] is not None else '—'}%"
                for c, v in abstained.items()))
    if mlp_version is not None and cv.get("mlp_version", 2) != mlp_version:
        lines.append(f"  - the abstention figures come from MLP heads calibrated as `probe_mlp` version "
                     f"{cv.get('mlp_version', 2)} did; this model is calibrated as version {mlp_version} does "
                     "(`reports/cross-corpus/calibration-check` measures the change; UA does not depend on it)")
    for name, f in cv["ravdess_6fold"].items():
        lines.append(f"- RAVDESS 6-fold, `{name}`: {pct(f['mean_ua'])} ± {pct(f['std_ua'])}%")
    for name, by_condition in cv.get("conditions", {}).items():
        lines.append(f"- RAVDESS 6-fold test clips under recording conditions, `{name}`: "
                     + ", ".join(f"{c} {pct(v)}%" for c, v in by_condition.items()))
    return lines
