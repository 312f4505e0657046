"""Train the shipped speech + action-unit model (:class:`AVLateFusionSystem`) on every RAVDESS actor.

``avemo train av-late-fusion --data DIR --out DIR [--cv-report reports/ravdess-av/summary.json]``, where
``DIR`` holds ``speech16k/`` (RAVDESS speech) and ``openface_au_mean.csv`` (clip-mean OpenFace AUs), as for
``avemo benchmark ravdess-av``. The recipe is the benchmark's ``late-fusion-logreg`` with
``refit_train_val: true``, run once on all 24 actors instead of per fold, with its per-person adapted head
(``late-fusion-logreg[adapted]``: used with ``avemo predict --openface ... --speaker-key``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

from avemo.errors import ParameterError
from avemo.systems.av_fusion import AU, SPEECH, AVLateFusionSystem
from avemo.shipping.av_corpus import copies_note
from avemo.shipping.cards import (RAVDESS_LICENCE, card_text, classes_line, closing_sections, cv_figure_lines,
                                  figures_section, pct, title, train_command)
from avemo.shipping.speech_train import cross_validation_figures

#: Benchmark systems whose cross-validated figures describe this model: as one clip at a time, and adapted.
CV_SYSTEM = "late-fusion-logreg"
CV_ADAPTED = CV_SYSTEM + "[adapted]"


def train_av_system(data_dir: str | os.PathLike, out_dir: str | os.PathLike,
                    cv_report: str | os.PathLike | None = None, jobs: int = 1,
                    cache: str | None = "default", config: str | os.PathLike | None = None,
                    overrides: Sequence[str] | None = None) -> Path:
    """Train on all speakers, save the system folder with a ``MODEL_CARD.md``; returns the folder.

    Args:
        data_dir: folder holding ``speech16k/`` and ``openface_au_mean.csv``.
        out_dir: folder to write (``system.json``, ``weights.safetensors``, ``MODEL_CARD.md``).
        cv_report: a ``reports/ravdess-av/summary.json`` whose ``late-fusion-logreg`` figures go into the card.
        jobs: worker processes for speech features not yet in the cache.
        cache: feature-cache folder (``None`` = no cache).
        config: the settings, ``configs/benchmarks/ravdess-av.yaml`` (the benchmark's), or a copy of it (a YAML
            path); ``overrides``: ``key=value`` changes of them.

    Raises:
        ParameterError: missing inputs, bad settings, an AU table matching no speech file, or a report without
            the system.
    """
    from avemo.shipping.av_corpus import late_fusion_system, load_av_corpus, resolve_inputs, suite_config

    cfg = suite_config(config=config, overrides=overrides)
    cv = cv_adapted = None
    if cv_report:
        if not Path(cv_report).is_file():
            raise ParameterError(f"--cv-report {str(cv_report)!r} does not exist; run `avemo benchmark ravdess-av` "
                                 "first or leave it out")
        cv = cross_validation_figures(CV_SYSTEM, cv_report)
        if cv is None:
            raise ParameterError(f"{cv_report} has no figures for {CV_SYSTEM!r}; give the ravdess-av summary.json")
        cv_adapted = cross_validation_figures(CV_ADAPTED, cv_report)
    speech_dir, table = resolve_inputs(data_dir, cfg)
    t0 = time.perf_counter()
    system = late_fusion_system(cfg)
    recordings, y, inputs, _ = load_av_corpus(data_dir, cfg, cache, jobs)
    system.fit(inputs, y, recordings=recordings)
    system.info.update({"corpus": cfg["corpus"], "speech_dir": str(speech_dir), "au_table": Path(table).name,
                        "speech_copies": cfg["speech_copies"],
                        "command": train_command("av-late-fusion", data_dir, out_dir, cv_report, config, overrides),
                        "cross_validation": cv,
                        "cross_validation_adapted": cv_adapted,
                        "train_seconds": round(time.perf_counter() - t0, 1)})
    out = system.save(out_dir)
    (out / "MODEL_CARD.md").write_text(model_card(system))
    return out


def model_card(system: AVLateFusionSystem) -> str:
    """A markdown model card: the model, its data and protocol, cross-validated figures, how to reproduce it."""
    info = system.info
    cv: dict[str, Any] | None = info.get("cross_validation")
    val = info.get("validation", {})
    w, t = system.weights_, system.temperatures_
    chose = (f"out-of-fold log-probabilities of every actor (actors in {system.cross_fit} groups, each scored by "
             "regressions fitted on the others)" if val.get("cross_fit") else "the validation speakers")
    lines = [
        *title("av-ravdess-openface",
               "Speech + facial action units (OpenFace 2.0) emotion model: one logistic regression per modality, each "
               "temperature-scaled, fused by a weighted mean of log-probabilities. For users who run OpenFace "
               "FeatureExtraction on their videos: `avemo predict clip.wav --openface clip.csv`. With one modality "
               "missing (no tracked face, silent or missing audio) the other one is the result."),
        "## Model",
        f"- speech: logistic regression (C {system.speech_C}, class-balanced) on standardised "
        f"{' + '.join(f'`{v}`' for v in system.speech_vectors)}{copies_note(info.get('speech_copies') or [])}",
        f"- action units: logistic regression (C {system.au_C_}, chosen on {chose} from "
        f"{system.au_C_grid}, class-balanced) on the 35 standardised OpenFace 2.0 clip-mean AUs "
        "(17 `AU*_r` intensities, 18 `AU*_c` presence fractions)",
        f"- temperatures: speech {t[SPEECH]:.3f}, action units {t[AU]:.3f}, fused output "
        f"{system.fused_temperature_:.3f}",
        f"- fusion weights: speech {w[SPEECH]:.2f}, action units {w[AU]:.2f} (grid step {system.weight_step}, "
        f"by UA on {chose})",
        classes_line(system.classes),
        "- files: `system.json` (settings, temperatures, weights) + `weights.safetensors` (no pickle)",
    ]
    adapted = getattr(system, "adapted_", None)
    if adapted is not None:
        aw, at = adapted["weights"], adapted["temperatures"]
        lines += [
            f"- adapted head (`--speaker-key`): each person's speech features and AUs standardised by the statistics "
            f"of that person's own unlabelled clips (shrunk towards the training actors' as if with {adapted['tau']:g} "
            f"more clips), then its own regressions (AU C {adapted['au_C']}), temperatures (speech "
            f"{at[SPEECH]:.3f}, action units {at[AU]:.3f}, fused {adapted['fused_temperature']:.3f}) and fusion "
            f"weights (speech {aw[SPEECH]:.2f}, action units {aw[AU]:.2f}), all chosen on {chose}. "
            f"A person with fewer than {adapted['min_recordings']} clips gets the global head (the smallest number of "
            f"clips from which the adapted head was no worse than the global one on {chose}).",
        ]
    lines += [
        "",
        "## Training data and protocol",
        f"- RAVDESS audio-only speech ({info.get('n_recordings')} recordings, all {len(info.get('speakers', []))} "
        f"actors; {info.get('n_with_action_units')} with AUs) paired with the clip-mean OpenFace AUs of the "
        "same takes' audio-visual clips (`openface_au_mean.csv`, Luna-Jiménez et al. 2021).",
        (f"- {chose} chose the AU C, the temperatures, the fusion weights and the adapted head's prior weight and "
         "fewest clips" if val.get("cross_fit") else
         f"- validation speakers {', '.join(val.get('speakers', []))} (balanced by gender) chose the AU C, the "
         "temperatures and the fusion weight with both regressions trained on the other actors")
        + "; both regressions were then refitted on all actors (the benchmark's `refit_train_val: true`).",
    ]
    if val.get("ua"):
        u = val["ua"]
        lines.append(f"- validation UA (optimistic, these recordings made the choices): speech {pct(u[SPEECH])}%, "
                     f"action units {pct(u[AU])}%, fused {pct(u['fused'])}%")
    figures = []
    if cv:
        figures += [f"Benchmark system `{CV_SYSTEM}`, protocol `{cv['protocol']}` (6 speaker-independent folds; the "
                  + ("same recipe trained per fold, its choices cross-fitted over each fold's training actors"
                     if val.get("cross_fit") else
                     "same recipe trained per fold, its choices made on 2 validation speakers from each fold's "
                     f"training actors, where this model used {system.n_val_speakers}") + f"), from `{cv['report']}`:",
                  ""]
        figures += cv_figure_lines(cv)
        cv_adapted = info.get("cross_validation_adapted")
        if cv_adapted:
            figures += ["", f"Adapted (`{CV_ADAPTED}`: each test actor's unlabelled clips set the statistics, "
                      "transductive):", ""] + cv_figure_lines(cv_adapted)
    lines += ["", *figures_section("Cross-validated figures", figures,
                                   "train with --cv-report reports/ravdess-av/summary.json")]
    lines += closing_sections(info.get("command", ""), [
        "Trained on acted North-American English speech and posed faces (RAVDESS, 24 actors, two sentences, "
        "frontal studio video); expect lower accuracy on spontaneous speech, other languages, noisy audio, and faces "
        "that are turned, occluded or badly lit.",
        "The AU model expects OpenFace 2.0 FeatureExtraction AUs averaged over a clip of one utterance (about 3-5 s); "
        "other AU estimators or much longer clips shift the inputs.",
        "The fusion weight and temperatures were fitted on 4 actors; calibration on other data is not guaranteed.",
        f"RAVDESS (and the AU features derived from it) is licensed {RAVDESS_LICENCE}: non-commercial use of this "
        "model, share alike."], note="(`--data` holds `speech16k/` and `openface_au_mean.csv`; `make av-model` runs "
                                     "the same.)")
    return card_text(lines)
