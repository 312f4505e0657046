"""The recipes and the decoder on the real corpora in ../shared/data (or $AVEMO_DATA); skipped when absent."""

from __future__ import annotations

from collections import Counter

import pytest

from avemo.data.recipes.ravdess import prepare_ravdess
from avemo.io.audio import load_audio

pytestmark = pytest.mark.corpus


def test_prepare_ravdess_speech16k(require_data):
    recs = prepare_ravdess(require_data("ravdess/speech16k", "RAVDESS speech"))
    assert len(recs) == 1440
    assert len({r.speaker for r in recs}) == 24
    counts = Counter(r.emotion for r in recs)
    assert counts["neutral"] == 96
    assert {e: n for e, n in counts.items() if e != "neutral"} == {
        e: 192 for e in ("calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")}
    assert {r.attributes["modality"] for r in recs} == {"audio-only"}
    assert Counter(r.attributes["gender"] for r in recs) == {"male": 720, "female": 720}


def test_load_audio_of_a_cremad_video(require_data):
    videos = sorted(require_data("cremad_sample", "CREMA-D sample clips").glob("*.mp4"))
    assert videos, "cremad_sample holds no mp4"
    x = load_audio(videos[0])
    assert 1.5 < len(x) / 16000 < 3.0
    assert x.dtype.name == "float32" and 0.01 < abs(x).max() <= 1.0
