"""The names of the modalities, used everywhere: results, fusion inputs, systems, benchmark rows."""

from __future__ import annotations

import enum


class Modality(enum.StrEnum):
    """What a result or an input describes. ``action_units`` are clip-mean OpenFace action units (a face
    described by a tool the user runs); ``face`` is avemo's own face pipeline on images and video."""

    SPEECH = "speech"
    FACE = "face"
    ACTION_UNITS = "action_units"
    AUDIO_VISUAL = "audio-visual"
