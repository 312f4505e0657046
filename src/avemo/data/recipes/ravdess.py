"""RAVDESS (Livingstone & Russo 2018): names ``MM-VV-EE-II-SS-RR-AA.ext``.

Modality 01 audio-video, 02 video-only, 03 audio-only; vocal channel 01 speech, 02 song; emotion 01-08;
intensity 01 normal, 02 strong; statement 01/02; repetition 01/02; actor 01-24 (odd male, even female).
Works for the published ``Actor_XX/*.wav`` (and ``*.mp4``) layout and any converted copy (e.g. FLAC).
"""

from __future__ import annotations

import re
from pathlib import Path

from avemo.data.manifest import Recording
from avemo.data.recipes.common import named_files, require_some
from avemo.data.recipes.registry import Corpus
from avemo.errors import ParameterError
from avemo.labels import ANGRY, CALM, DISGUST, FEARFUL, HAPPY, NEUTRAL, SAD, SURPRISED

NAME = re.compile(r"^(0[123])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)$")
MODALITIES = {"01": "audio-visual", "02": "video-only", "03": "audio-only"}
CHANNELS = {"01": "speech", "02": "song"}
#: The emotion codes 01-08 (the third field of a name).
LABELS = {"01": NEUTRAL, "02": CALM, "03": HAPPY, "04": SAD, "05": ANGRY, "06": FEARFUL, "07": DISGUST,
          "08": SURPRISED}


def prepare_ravdess(corpus_dir: Path, modalities: tuple[str, ...] = ("audio-only",),
                    vocal_channels: tuple[str, ...] = ("speech",)) -> list[Recording]:
    """Recordings of a RAVDESS folder.

    Args:
        corpus_dir: folder holding ``Actor_XX`` sub-folders (or the files directly).
        modalities: which of ``audio-only``, ``audio-visual``, ``video-only`` to keep.
        vocal_channels: which of ``speech``, ``song`` to keep.

    Raises:
        ParameterError: for an unknown modality or channel.
        CorpusError: when no RAVDESS file names are found.
    """
    for value, allowed in ((modalities, MODALITIES.values()), (vocal_channels, CHANNELS.values())):
        bad = set(value) - set(allowed)
        if bad:
            raise ParameterError(f"unknown RAVDESS option(s) {sorted(bad)}; choose from {sorted(allowed)}")
    out = []
    for path, m in named_files(Path(corpus_dir), NAME):
        modality, channel, emo, intensity, statement, repetition, actor = m.groups()
        if MODALITIES[modality] not in modalities or CHANNELS[channel] not in vocal_channels:
            continue
        out.append(Recording(
            id=path.stem, path=str(path), corpus=CORPUS.name, speaker=actor, emotion=LABELS[emo],
            attributes={"modality": MODALITIES[modality], "vocal_channel": CHANNELS[channel],
                        "intensity": "strong" if intensity == "02" else "normal", "statement": int(statement),
                        "repetition": int(repetition), "gender": "male" if int(actor) % 2 else "female"}))
    return require_some(out, Path(corpus_dir), "03-01-05-01-02-01-12.wav (Actor_XX/ folders)")


CORPUS = Corpus(name="ravdess", prepare=prepare_ravdess, modalities=("speech", "face", "audio-visual"), labels=LABELS,
                folders=("ravdess/speech16k", "ravdess"),
                language="English (North American)",
                licence="CC BY-NC-SA 4.0",
                speakers="24 professional actors (12 female, 12 male)",
                multi_corpus_order=0)
