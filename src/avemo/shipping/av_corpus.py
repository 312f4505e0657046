"""RAVDESS speech paired with clip-mean OpenFace action units: the settings and inputs shared by the
audio-visual benchmark (``avemo benchmark ravdess-av``) and the shipped audio-visual model
(``avemo train av-late-fusion``).

Inputs: a folder holding ``speech16k/`` (RAVDESS audio-only speech, ``Actor_XX/03-01-EE-II-SS-RR-AA.*``; a
folder of the original ``Actor_XX`` folders works too) and ``openface_au_mean.csv`` (one row of 35 clip-mean
AUs per audio-visual clip ``01-01-EE-II-SS-RR-AA``, the same take as the audio file with modality ``03``).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Annotated, Any, Mapping, Sequence

import numpy as np
from pydantic import Field

from avemo.data.manifest import Recording
from avemo.errors import ParameterError
from avemo.features.openface import AU_COLUMNS, read_au_clip_table
from avemo.shipping.probe_train import TrainingCopies, copies_tag
from avemo.systems.av_fusion import AVLateFusionSystem
from avemo.systems.inputs import AVInputs, vector_matrix
from avemo.systems.settings import Settings, check_settings, read_settings

#: The suite's settings: ``configs/benchmarks/ravdess-av.yaml``.
SUITE = "ravdess-av"


class SpeechLogregSettings(Settings):
    """``speech_logreg``: the speech regression's inverse L2 strength."""

    C: Annotated[float, Field(gt=0)]


class AULogregSettings(Settings):
    """``au_logreg``: the action-unit regression's candidate inverse L2 strengths."""

    C_grid: list[Annotated[float, Field(gt=0)]]


class LateFusionSettings(Settings):
    """``late_fusion``: the step of the grid of fusion weights, and how many groups of people the choices are
    cross-fitted over (0: chosen on the validation people alone)."""

    step: Annotated[float, Field(gt=0, le=1)]
    cross_fit: Annotated[int, Field(ge=0)]


class FusionSettings(Settings):
    """``fusion``: the neural fusion models and how they are trained and tested."""

    models: list[str]
    seeds: list[int]
    train: dict[str, Any]
    model_configs: dict[str, dict[str, Any]]
    drop_tests: bool


class AdaptSettings(Settings):
    """``adapt``: per-person adaptation (``tau_grid`` may be left out: the late-fusion system's own grid)."""

    enabled: bool
    neural: bool
    clips_per_person: list[Annotated[int, Field(ge=1)]]
    # may be left out (not null): AVLateFusionSystem's own grid
    tau_grid: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=1)] = None


class AVSuiteSettings(Settings):
    """The audio-visual suite's settings, each explained in ``configs/benchmarks/ravdess-av.yaml``."""

    name: str
    corpus: str
    protocol: str
    label_set: str
    speech_dir: str
    au_table: str
    speech_vectors: list[str]
    speech_copies: list[TrainingCopies]
    speech_logreg: SpeechLogregSettings
    au_logreg: AULogregSettings
    late_fusion: LateFusionSettings
    refit_train_val: bool
    fusion: FusionSettings
    adapt: AdaptSettings
    ece_bins: Annotated[int, Field(ge=1)]
    threads: Annotated[int, Field(ge=1)]


def _merge(base: dict, extra: Mapping | None) -> dict:
    out = copy.deepcopy(base)
    for k, v in (extra or {}).items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def suite_config(options: Mapping | None = None, config: str | os.PathLike | None = None,
                 overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """The settings of ``configs/benchmarks/ravdess-av.yaml``, or of ``config`` (a copy of it: a YAML path, or a
    name in ``configs/benchmarks/``), with ``overrides`` (``key=value``) applied, then ``options`` (nested settings,
    merged into them).

    Raises:
        ParameterError: a missing file, or a setting missing, unknown or of the wrong type (naming file and key).
    """
    cfg = read_settings(AVSuiteSettings, config or SUITE, "benchmarks", overrides)
    return check_settings(AVSuiteSettings, _merge(cfg, options), "options") if options else cfg


# -- data ------------------------------------------------------------------------------------------------------


def resolve_inputs(data_dir: str | os.PathLike, cfg: Mapping[str, Any]) -> tuple[Path, Path]:
    """The speech folder and the AU table inside ``data_dir``.

    Raises:
        ParameterError: (one line) if the folder, its speech folder or its AU table is missing.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise ParameterError(f"--data {str(root)!r} is not a folder; give the folder holding "
                             f"{cfg['speech_dir']}/ and {cfg['au_table']}")
    speech = root / cfg["speech_dir"]
    if not speech.is_dir():
        if any(root.glob("Actor_*")):  # the original RAVDESS layout, with the AU table beside the actors
            speech = root
        else:
            raise ParameterError(f"{str(root)!r} has no {cfg['speech_dir']}/ folder (RAVDESS speech, "
                                 f"Actor_XX/03-01-*.wav or .flac) needed by the audio-visual benchmark")
    table = root / cfg["au_table"]
    if not table.is_file():
        raise ParameterError(f"{str(root)!r} has no {cfg['au_table']} (OpenFace clip-mean AUs, one row per "
                             f"01-01-EE-II-SS-RR-AA clip) needed by the audio-visual benchmark")
    return speech, table


def av_clip_name(recording_id: str) -> str:
    """The audio-visual clip name (``01-…``) of a RAVDESS audio-only recording id (``03-…``)."""
    return "01" + recording_id[2:] if recording_id[:2] in ("01", "02", "03") else recording_id


def face_matrix(recordings: Sequence[Recording], table: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 35)`` AU means paired with each recording (zeros where the table has no row) and the present mask."""
    au = read_au_clip_table(table)
    names = [str(n).strip() for n in au.index]
    names = [n[:-4] if n.lower().endswith(".mp4") else n for n in names]
    row = {n: i for i, n in enumerate(names)}
    values = au[list(AU_COLUMNS)].to_numpy(np.float32)
    x = np.zeros((len(recordings), len(AU_COLUMNS)), np.float32)
    present = np.zeros(len(recordings), bool)
    for i, r in enumerate(recordings):
        k = row.get(av_clip_name(r.id))
        if k is not None:
            x[i], present[i] = values[k], True
    return x, present


def load_av_corpus(data_dir: str | os.PathLike, cfg: Mapping[str, Any], cache: str | None = "default",
                   jobs: int = 1) -> tuple[list[Recording], np.ndarray, AVInputs, dict[str, float]]:
    """The recordings, their class indices, the :class:`AVInputs` (speech vectors ``cfg["speech_vectors"]`` +
    paired AUs, and the speech vectors of each of ``cfg["speech_copies"]``: every clip under that condition, the
    features computed by that encoder backend) and the seconds spent extracting speech features not yet in the
    cache (per extractor, and per copy).

    Raises:
        ParameterError: missing inputs, labels outside the label set, or an AU table matching no speech file.
    """
    from avemo.data.recipes import prepare
    from avemo.features.base import create_extractor
    from avemo.features.store import FeatureStore, extract_all
    from avemo.labels import label_set

    speech_dir, table = resolve_inputs(data_dir, cfg)
    classes = label_set(cfg["label_set"])
    recordings = prepare(cfg["corpus"], speech_dir, modalities=("audio-only",), vocal_channels=("speech",))
    bad = sorted({r.emotion for r in recordings} - set(classes))
    if bad:
        raise ParameterError(f"corpus labels {bad} are not in the label set {cfg['label_set']}")
    y = np.array([classes.index(r.emotion) for r in recordings])
    au, present = face_matrix(recordings, table)
    if not present.any():
        raise ParameterError(f"no row of {str(table)!r} matches a speech file (AU clip names 01-01-EE-II-SS-RR-AA "
                             f"pair with 03-01-EE-II-SS-RR-AA audio)")
    extractors = list(dict.fromkeys(v.partition(":")[0] for v in cfg["speech_vectors"]))
    store = FeatureStore(cache)
    features, extract_seconds = extract_all(recordings, extractors, store, jobs)
    copies = []
    for training_copy in cfg.get("speech_copies") or []:
        try:
            changed = {name: create_extractor(name, condition=training_copy["condition"],
                                              backend=training_copy.get("backend", "torch")) for name in extractors}
        except (ParameterError, TypeError) as exc:
            raise ParameterError(f"speech_copies: the speech features {extractors} cannot be computed under "
                                 f"{dict(training_copy)} ({exc}); use whisper_stats or leave speech_copies empty"
                                 ) from None
        copied, seconds = extract_all(recordings, changed, store, jobs)
        extract_seconds[copies_tag(training_copy)] = round(sum(seconds.values()), 1)
        copies.append(vector_matrix(cfg["speech_vectors"], copied))
    inputs = AVInputs(vector_matrix(cfg["speech_vectors"], features), au, present,
                      np.array([r.speaker for r in recordings], dtype=object))
    return recordings, y, inputs.with_speech_copies(copies), extract_seconds


def copies_note(copies: Sequence[Mapping[str, Any]]) -> str:
    """What the speech regression trains on besides the clips, said in its description ("" for nothing)."""
    if not copies:
        return ""
    return ", trained also on a copy of every training clip: " + ", ".join(
        "played 5-12% faster or slower, as another voice" if c["condition"] == "voice" else c["condition"]
        for c in copies) + " (not the adapted head)"


def late_fusion_system(cfg: Mapping[str, Any]) -> AVLateFusionSystem:
    """The :class:`~avemo.systems.av_fusion.AVLateFusionSystem` with the suite's settings (``cfg`` from
    :func:`suite_config`): the benchmark's ``late-fusion-logreg`` and the shipped ``av-ravdess-openface``."""
    adapt = cfg["adapt"]
    return AVLateFusionSystem(label_set=cfg["label_set"], speech_vectors=cfg["speech_vectors"],
                              speech_C=cfg["speech_logreg"]["C"], au_C_grid=cfg["au_logreg"]["C_grid"],
                              weight_step=cfg["late_fusion"]["step"], cross_fit=cfg["late_fusion"]["cross_fit"],
                              refit=cfg["refit_train_val"],
                              adapt=adapt["enabled"],
                              **({"tau_grid": adapt["tau_grid"]} if "tau_grid" in adapt else {}))
