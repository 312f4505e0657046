"""One set of field names for every front end: ``avemo live --headless`` lines, a WebSocket session's messages and
``avemo predict --format json`` describe a result with the same fields (``emotion``, ``confidence``,
``probabilities``, ``status``, ...), and a face with the same fields too."""

from __future__ import annotations

import base64
import json

from live_media import FIXTURES

from avemo.cli import main
from avemo.inference.engine import InferenceEngine
from avemo.io.audio import load_audio

TALKING_FACE = FIXTURES / "talking_face.mp4"
RESULT_FIELDS = {"status", "emotion", "confidence", "probabilities", "valence", "arousal", "duration", "modality"}
FACE_FIELDS = {"box", "emotion", "confidence", "probabilities", "valence", "arousal", "track_id", "frames",
               "first_seen", "last_seen"}
SETTINGS = {"window": 1.0, "step": 0.5, "vad": True, "smoothing": 0.5}  # those of the live run below


def websocket_messages(tiny_model_dir) -> list[dict]:
    """The messages of a WebSocket session on the talking-face clip's audio and one frame of it."""
    from fastapi.testclient import TestClient

    from avemo.serve.app import ServeSettings, create_app

    app = create_app(ServeSettings(threads=1), lambda settings: InferenceEngine(tiny_model_dir))
    audio = load_audio(TALKING_FACE).astype("<f4")
    jpeg = base64.b64encode((FIXTURES / "face_frame.jpg").read_bytes()).decode()
    with TestClient(app) as client, client.websocket_connect("/v1/stream") as ws:
        ws.send_json({"sampling_rate": 16000, "format": "float32", **SETTINGS})
        ready = ws.receive_json()
        assert ready["type"] == "ready" and {k: ready[k] for k in SETTINGS} == SETTINGS
        ws.send_json({"type": "frame", "time": 0.1, "jpeg": jpeg})
        messages = [ws.receive_json()]
        ws.send_bytes(audio.tobytes())
        ws.send_json({"type": "end"})
        while messages[-1]["type"] != "end":
            messages.append(ws.receive_json())
    return messages


def test_live_lines_websocket_messages_and_predict_share_field_names(tiny_model_dir, face_landmarker, capsys):
    assert main(["predict", str(TALKING_FACE), "--model", str(tiny_model_dir), "--format", "json"]) == 0
    predicted = json.loads(capsys.readouterr().out)
    assert main(["live", "--video", str(TALKING_FACE), "--headless", "--no-pace", "--model", str(tiny_model_dir),
                 "--window", "1", "--step", "0.5"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    messages = websocket_messages(tiny_model_dir)

    live_windows = [line for line in lines if line["type"] == "result"]
    socket_windows = [m for m in messages if m["type"] == "result"]
    assert live_windows and socket_windows
    for result in [predicted, *live_windows, *socket_windows]:
        assert RESULT_FIELDS <= set(result) and "label" not in result
        assert RESULT_FIELDS <= set(result["modalities"]["speech"])
    # the same window of the same audio, with a face in it: the same fields
    assert set(live_windows[0]) - {"latency_ms"} == set(socket_windows[0])
    assert live_windows[0]["modalities"]["speech"] == socket_windows[0]["modalities"]["speech"]
    live_frame = next(line for line in lines if line["type"] == "frame" and line["faces"])
    socket_frame = messages[0]
    assert socket_frame["type"] == "frame" and set(live_frame) - {"latency_ms"} == set(socket_frame)
    faces = [predicted["faces"][0], live_frame["faces"][0], socket_frame["faces"][0]]
    assert all(set(face) == FACE_FIELDS for face in faces)
