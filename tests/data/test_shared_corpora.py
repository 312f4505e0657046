"""The recipes and the decoder on the real corpora in ../shared/data (or $AVEMO_DATA); skipped when absent."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from avemo.data.recipes import prepare_ravdess
from avemo.io.audio import load_audio

DATA = Path(os.environ.get("AVEMO_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")
pytestmark = pytest.mark.corpus


def need(sub: str) -> Path:
    path = DATA / sub
    if not path.is_dir():
        pytest.skip(f"real corpus data not found at {path}; set AVEMO_DATA or place it in ../shared/data")
    return path


def test_prepare_ravdess_speech16k():
    recs = prepare_ravdess(need("ravdess/speech16k"))
    assert len(recs) == 1440
    assert len({r.speaker for r in recs}) == 24
    counts = Counter(r.emotion for r in recs)
    assert counts["neutral"] == 96
    assert {e: n for e, n in counts.items() if e != "neutral"} == {
        e: 192 for e in ("calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")}
    assert {r.attributes["modality"] for r in recs} == {"audio-only"}
    assert Counter(r.attributes["gender"] for r in recs) == {"male": 720, "female": 720}


def test_load_audio_of_a_cremad_video():
    videos = sorted(need("cremad_sample").glob("*.mp4"))
    assert videos, "cremad_sample holds no mp4"
    x = load_audio(videos[0])
    assert 1.5 < len(x) / 16000 < 3.0
    assert x.dtype.name == "float32" and 0.01 < abs(x).max() <= 1.0
