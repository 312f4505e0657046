"""The cross-corpus benchmark's settings (``avemo benchmark cross-corpus``, :mod:`avemo.benchmark.cross_corpus`):
``configs/benchmarks/cross-corpus.yaml``, or a copy of it, read and checked; each setting is explained in the file.
"""

from __future__ import annotations

import inspect
import os
from typing import Annotated, Any, Literal, Sequence

from pydantic import Field, ValidationInfo, field_validator

from avemo.features.audio.degrade import CONDITIONS
from avemo.shipping.probe_train import ProbeRecipe, TrainingCopies
from avemo.systems.settings import Settings, read_settings
from avemo.systems.speech_probe import SpeechProbeSystem
from avemo.systems.transfer_selection import HEAD_KINDS

#: The suite's settings: ``configs/benchmarks/cross-corpus.yaml``.
SUITE = "cross-corpus"
#: What a variant may change: settings of the feature extractor (keyword arguments of
#: :func:`~avemo.shipping.corpora.load_corpora`) and of the system (of :class:`SpeechProbeSystem`, but its label set).
FEATURE_SETTINGS = ("model", "loudness_db", "vad", "backend")
SYSTEM_SETTINGS = tuple(inspect.signature(SpeechProbeSystem).parameters)[1:]


class VariantDefinition(Settings):
    """``probe-transfer`` with one step changed (run leave-one-corpus-out): its system's name, what it changes (for
    the report), the settings of the feature extractor and of the system it changes, and the copies of the training
    clips it also trains on (``copies``; none: the clean clips only)."""

    name: str
    text: str
    features: dict[Literal[FEATURE_SETTINGS], Any] = {}
    system: dict[Literal[SYSTEM_SETTINGS], Any]
    copies: list[TrainingCopies] = []


class AlternativeRecipe(Settings):
    """Another recipe run beside the shipped one on both protocols: its system's name, what it is (for the
    report), and the recipe settings it changes."""

    name: str
    text: str
    copies: list[TrainingCopies]
    compensations: list[Annotated[float, Field(ge=0, le=1)]]
    tau_grid: list[Annotated[float, Field(ge=0)]] | None
    global_heads: list[Literal[HEAD_KINDS]]
    attentive_copies: bool = False


class CrossCorpusSettings(ProbeRecipe):
    """The suite's settings, each explained in ``configs/benchmarks/cross-corpus.yaml``: the candidate recipe's
    (:class:`~avemo.shipping.probe_train.ProbeRecipe`), then the suite's own."""

    label_set: str
    conditions: list[Literal[tuple(CONDITIONS)]]
    targeted: bool
    alternatives: list[AlternativeRecipe]
    variant_definitions: dict[str, VariantDefinition]
    variants: list[str]

    @field_validator("alternatives")
    @classmethod
    def _named_apart(cls, value: list[AlternativeRecipe], info: ValidationInfo) -> list[AlternativeRecipe]:
        names = [info.data.get("recipe_name")] + [a.name for a in value]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise ValueError(f"recipes named {clash} more than once (recipe_name and the alternatives' names); name "
                             "each apart")
        return value

    @field_validator("variants")
    @classmethod
    def _defined(cls, value: list[str], info: ValidationInfo) -> list[str]:
        defined = info.data.get("variant_definitions")
        unknown = sorted(set(value) - set(defined)) if defined is not None else []
        if unknown:
            raise ValueError(f"unknown variants {unknown}; defined in variant_definitions: {sorted(defined)}")
        taken = {info.data.get("recipe_name")} | {a.name for a in info.data.get("alternatives") or []}
        clash = sorted(key for key in value if defined and defined[key].name in taken)
        if clash:
            raise ValueError(f"variants {clash} are named as the recipe (recipe_name) or an alternative: they are "
                             "the same system; leave them out")
        return value


def suite_settings(config: str | os.PathLike | None = None,
                   overrides: Sequence[str] | None = None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The settings of ``configs/benchmarks/cross-corpus.yaml``, or of ``config`` (a copy of it: a YAML path, or a
    name in ``configs/benchmarks/``), with ``overrides`` (``key=value``) applied; and, apart, the variant
    definitions (``{variant: {"name", "text", "features", "system"}}``).

    Raises:
        ParameterError: a missing file, or a setting missing, unknown or of the wrong type (naming file and key).
    """
    cfg = read_settings(CrossCorpusSettings, config or SUITE, "benchmarks", overrides)
    return cfg, cfg.pop("variant_definitions")
