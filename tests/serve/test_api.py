"""The REST service on 127.0.0.1, started by the test: endpoints, bad requests, a WebSocket session, 20 clients."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from avemo.inference.engine import InferenceEngine
from avemo.inference.schema import PredictionOut
from avemo.io.synth import synth_voice
from avemo.serve.app import ServeSettings, create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SR = 16000


def wav_bytes(seconds: float = 2.0, pitch: float = 150.0) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, synth_voice(seconds, pitch, SR), SR, format="WAV")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ServeSettings(max_upload_mb=1.0, timeout=30.0, max_concurrent=32, threads=2)
    app = create_app(settings, lambda s: InferenceEngine(tiny_model_dir))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/v1/health").json()["models_loaded"]:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    yield base
    server.should_exit = True
    thread.join(10)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in body["error"]["message"]
    return body["error"]


def test_health_models_and_schema(server):
    assert httpx.get(f"{server}/v1/health").json() == {"status": "ok", "models_loaded": True,
                                                       "modalities": ["speech", "face"]}
    models = httpx.get(f"{server}/v1/models").json()
    assert models["modalities"] == ["speech", "face"] and models["speech"]["classes"]
    schema = httpx.get(f"{server}/openapi.json").json()
    assert "/v1/predict" in schema["paths"] and "PredictionOut" in schema["components"]["schemas"]


def test_predict_audio_image_video_and_pair(server, tmp_path):
    audio = httpx.post(f"{server}/v1/predict", files={"file": ("clip.wav", wav_bytes(), "audio/wav")}).json()
    assert audio["status"] == "ok" and audio["modality"] == "speech" and audio["path"] == "clip.wav"
    PredictionOut.model_validate(audio)
    image = httpx.post(f"{server}/v1/predict",
                       files={"file": ("face.jpg", (FIXTURES / "face_frame.jpg").read_bytes(), "image/jpeg")}).json()
    assert image["modality"] == "face" and image["status"] == "ok" and len(image["box"]) == 4
    PredictionOut.model_validate(image)
    video = httpx.post(f"{server}/v1/predict", params={"fps": 4},
                       files={"file": ("talk.mp4", (FIXTURES / "talking_face.mp4").read_bytes(), "video/mp4")},
                       timeout=60).json()
    assert video["modality"] == "audio-visual" and set(video["modalities"]) == {"speech", "face"}
    PredictionOut.model_validate(video)
    pair = httpx.post(f"{server}/v1/predict", files={
        "image": ("face.jpg", (FIXTURES / "face_frame.jpg").read_bytes(), "image/jpeg"),
        "audio": ("voice.wav", wav_bytes(), "audio/wav")}).json()
    assert pair["modality"] == "audio-visual" and pair["fusion"]["used"] == ["face", "speech"]
    PredictionOut.model_validate(pair)
    speech_only = httpx.post(f"{server}/v1/predict", params={"modality": "speech"},
                             files={"file": ("talk.mp4", (FIXTURES / "talking_face.mp4").read_bytes())}).json()
    assert speech_only["modality"] == "speech"


def test_bad_requests_get_json_errors_and_the_server_keeps_serving(server):
    too_big = httpx.post(f"{server}/v1/predict", files={"file": ("big.wav", b"\0" * (2 * 1024 * 1024), "audio/wav")})
    assert too_big.status_code == 413 and error_of(too_big)["code"] == "too_large"
    wrong_type = httpx.post(f"{server}/v1/predict", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert wrong_type.status_code == 415 and error_of(wrong_type)["code"] == "unsupported_media_type"
    not_multipart = httpx.post(f"{server}/v1/predict", content=b"abc", headers={"content-type": "audio/wav"})
    assert not_multipart.status_code == 415
    empty = httpx.post(f"{server}/v1/predict", files={"file": ("clip.wav", b"", "audio/wav")})
    assert empty.status_code == 422 and error_of(empty)["code"] == "empty"
    corrupt = httpx.post(f"{server}/v1/predict", files={"file": ("clip.wav", b"RIFF" + b"\x01" * 500, "audio/wav")})
    assert corrupt.status_code == 422 and error_of(corrupt)["code"] == "undecodable"
    assert "clip.wav" in error_of(corrupt)["message"] and "/tmp" not in error_of(corrupt)["message"]
    short = httpx.post(f"{server}/v1/predict", files={"file": ("short.wav", wav_bytes(0.2), "audio/wav")})
    assert short.status_code == 422 and error_of(short)["code"] == "too_short"
    no_file = httpx.post(f"{server}/v1/predict", files={"other": ("x.wav", wav_bytes(), "audio/wav")})
    assert no_file.status_code == 422 and error_of(no_file)["code"] == "missing_file"
    bad_option = httpx.post(f"{server}/v1/predict", params={"window": 1, "step": 2},
                            files={"file": ("clip.wav", wav_bytes(), "audio/wav")})
    assert bad_option.status_code == 400 and "step" in error_of(bad_option)["message"]
    bad_query = httpx.post(f"{server}/v1/predict", params={"fps": "fast"},
                           files={"file": ("clip.wav", wav_bytes(), "audio/wav")})
    assert bad_query.status_code == 422 and error_of(bad_query)["code"] == "invalid_request"
    assert httpx.get(f"{server}/v1/nothing").status_code == 404
    assert httpx.post(f"{server}/v1/predict", files={"file": ("clip.wav", wav_bytes(), "audio/wav")}).status_code == 200


def test_client_disconnecting_mid_upload_does_not_hurt_others(server):
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                    b"Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; "
                    b"filename=\"a.wav\"\r\n\r\nRIFF")
    ok = httpx.post(f"{server}/v1/predict", files={"file": ("clip.wav", wav_bytes(), "audio/wav")})
    assert ok.status_code == 200


def test_twenty_concurrent_clients(server):
    payloads = [wav_bytes(2.0, 120 + 10 * k) for k in range(20)]

    def post(data: bytes) -> int:
        return httpx.post(f"{server}/v1/predict", files={"file": ("c.wav", data, "audio/wav")}, timeout=60).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(post, payloads))
    assert set(codes) <= {200, 503} and codes.count(200) >= 10


def test_websocket_session(server):
    from websockets.sync.client import connect

    url = server.replace("http", "ws") + "/v1/stream"
    signal = synth_voice(5.0, 170, SR)
    pcm = (signal * 32767).astype("<i2")
    jpeg = base64.b64encode((FIXTURES / "face_frame.jpg").read_bytes()).decode()
    messages = []
    with connect(url) as ws:
        ws.send(json.dumps({"sampling_rate": SR, "format": "pcm16", "window": 2.0, "step": 1.0}))
        assert json.loads(ws.recv())["type"] == "ready"
        ws.send(json.dumps({"type": "frame", "time": 0.1, "jpeg": jpeg}))
        frame = json.loads(ws.recv())
        assert frame["type"] == "frame" and len(frame["faces"]) == 1
        for start in range(0, len(pcm), 8000):
            ws.send(pcm[start:start + 8000].tobytes())
        ws.send(json.dumps({"type": "end"}))
        while True:
            message = json.loads(ws.recv())
            messages.append(message)
            if message["type"] == "end":
                break
    results = [m for m in messages if m["type"] == "result"]
    assert [r["end"] for r in results] == [2.0, 3.0, 4.0, 5.0]
    assert all(r["status"] == "ok" for r in results) and results[0]["modality"] == "audio-visual"


@pytest.mark.parametrize("first, code", [("not json", 1003), (json.dumps({"sampling_rate": 3}), 1003),
                                         (json.dumps({"sampling_rate": 16000, "format": "mp3"}), 1003),
                                         (json.dumps({"sampling_rate": 16000, "adapt_to_speaker": "yes"}), 1003),
                                         # the test server's speech model has no speaker-adapted head
                                         (json.dumps({"sampling_rate": 16000, "adapt_to_speaker": True}), 1003)])
def test_websocket_bad_openings_close_with_a_reason(server, first, code):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with connect(server.replace("http", "ws") + "/v1/stream") as ws:
        ws.send(first)
        error = json.loads(ws.recv())
        assert error["type"] == "error" and error["error"]["message"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
        assert closed.value.rcvd.code == code and closed.value.rcvd.reason


def test_websocket_garbage_after_opening(server):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with connect(server.replace("http", "ws") + "/v1/stream") as ws:
        ws.send(json.dumps({"sampling_rate": 16000, "format": "float32"}))
        ws.recv()
        ws.send(b"\x00\x01\x02")  # not a whole number of float32 samples
        assert json.loads(ws.recv())["error"]["code"] == "bad_audio"
        with pytest.raises(ConnectionClosed):
            ws.recv()
    assert httpx.get(f"{server}/v1/health").status_code == 200


def test_settings_are_validated():
    from avemo.errors import ParameterError

    with pytest.raises(ParameterError, match="max_concurrent"):
        ServeSettings(max_concurrent=0)
    assert np.isclose(ServeSettings(max_upload_mb=2).max_upload_bytes, 2 * 1024 * 1024)
