"""Fixtures of the web demo's tests: one engine (the tiny speech model + the shipped face model) and media files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from avemo.io.synth import synth_voice

SR = 16000


@pytest.fixture(scope="session")
def demo_engine(tiny_engine):
    """The shared engine: the tiny ravdess8 speech model and the shipped face model."""
    return tiny_engine


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """Good and bad inputs by name: a 6 s synthetic voice (two timeline windows), a blank photo (no face), a
    .txt, an empty wav and a corrupt wav (random bytes)."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("demo-media")
    files = {"voice": folder / "voice.wav", "blank": folder / "blank.png", "text": folder / "notes.txt",
             "empty": folder / "empty.wav", "corrupt": folder / "corrupt.wav"}
    sf.write(files["voice"], synth_voice(6.0, 150.0, SR), SR)
    Image.fromarray(np.full((180, 240, 3), 128, np.uint8)).save(files["blank"])
    files["text"].write_text("not a recording\n")
    files["empty"].write_bytes(b"")
    files["corrupt"].write_bytes(b"RIFF" + np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes())
    return files
