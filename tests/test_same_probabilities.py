"""The front ends give the same probabilities on the same input: ``avemo predict --format json``, the REST service's
``/v1/predict`` and ``avemo live --headless`` (one window holding the whole clip, smoothing off) on the speech of
the committed talking-face clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf


from avemo.cli import main
from avemo.inference.engine import InferenceEngine
from avemo.io.audio import TARGET_SAMPLING_RATE, load_audio

FIXTURES = Path(__file__).parent / "fixtures"


def _probabilities(result: dict) -> np.ndarray:
    return np.array([result["probabilities"][c] for c in sorted(result["probabilities"])])


def test_predict_rest_and_live_agree(tiny_model_dir, tmp_path, capsys):
    clip = tmp_path / "voice.wav"
    sf.write(clip, load_audio(FIXTURES / "talking_face.mp4", TARGET_SAMPLING_RATE), TARGET_SAMPLING_RATE)

    assert main(["predict", str(clip), "--model", str(tiny_model_dir), "--format", "json"]) == 0
    predicted = json.loads(capsys.readouterr().out)

    from fastapi.testclient import TestClient

    from avemo.serve.app import ServeSettings, create_app

    app = create_app(ServeSettings(threads=1), lambda settings: InferenceEngine(tiny_model_dir))
    with TestClient(app) as client:
        response = client.post("/v1/predict", files={"file": ("voice.wav", clip.read_bytes(), "audio/wav")})
    assert response.status_code == 200
    served = response.json()

    # a window longer than the clip: the one result is the last, partial window, i.e. the whole clip
    assert main(["live", "--audio", str(clip), "--no-camera", "--headless", "--no-pace", "--model",
                 str(tiny_model_dir), "--window", "4", "--step", "4", "--smoothing", "0"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    windows = [line for line in lines if line["type"] == "result"]
    assert len(windows) == 1 and windows[0]["status"] == "ok"  # voice only: the speech result itself
    live = windows[0]

    assert predicted["emotion"] == served["emotion"] == live["emotion"]
    np.testing.assert_allclose(_probabilities(served), _probabilities(predicted), atol=1e-4)
    np.testing.assert_allclose(_probabilities(live), _probabilities(predicted), atol=1e-4)
