"""Fixtures of the live tests: an engine with the tiny speech model and the shipped face model, the committed face
frame, and a generated video of it with a tone-and-noise audio track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from live_media import FIXTURES, tone_and_noise, write_video


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("AVEMO_OFFLINE", "1")


@pytest.fixture(scope="session")
def live_engine(tiny_engine, face_landmarker):
    """The shared engine: the tiny speech model and the shipped face model (MediaPipe detector)."""
    return tiny_engine


@pytest.fixture(scope="session")
def face_image(face_landmarker) -> np.ndarray:
    """The committed CREMA-D frame: 240x180 RGB, one frontal face."""
    from avemo.io.image import load_image

    return load_image(FIXTURES / "face_frame.jpg")


@pytest.fixture(scope="session")
def face_video(tmp_path_factory, face_image) -> Path:
    """3 s at 10 frames/s: 5 frames without a face (grey), then the face frame; audio: tone and noise."""
    blank = np.full_like(face_image, 120)
    frames = [blank] * 5 + [face_image] * 25
    return write_video(tmp_path_factory.mktemp("live") / "face_tone.mp4", frames, 10, tone_and_noise(3.0))
