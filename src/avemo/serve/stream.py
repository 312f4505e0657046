"""``WS /v1/stream``: one engine session per connection.

The protocol (JSON text messages, audio as binary messages):

1. client: ``{"sampling_rate": 16000, "format": "pcm16" | "float32", "window": 4.0, "step": 2.0,
   "adapt_to_speaker": false, "vad": false, "min_speech": 0.25, "smoothing": null}`` (all but the rate optional;
   ``adapt_to_speaker``: one voice on the stream, whose running statistics adapt a multi-corpus speech model to it;
   ``vad``: a window with less than ``min_speech`` seconds of speech is not given to the speech model, its speech
   status is ``silence``; ``smoothing``: a time constant in seconds, faces and voice smoothed over time, as
   ``avemo live`` does: see :class:`~avemo.inference.session.StreamOptions`); server: ``{"type": "ready", ...}``
   with the settings and the classes.
2. client: binary messages of mono audio in the declared format (little-endian); server: ``{"type": "result",
   "start", "end", ...}`` each time a window completes (the JSON of ``avemo predict`` plus the window's times).
3. client, optionally: ``{"type": "frame", "time": 1.23, "jpeg": "<base64>"}``; server: ``{"type": "frame",
   "time", "faces"}``. Frames and audio share the stream clock (seconds from the start).
4. client: ``{"type": "end"}``; server: the last partial window's result, then ``{"type": "end"}``, and closes.

A bad message gets ``{"type": "error", "error": {"code", "message"}}`` and the connection is closed with code
1003 (unsupported data) or 1008 (policy), with the reason; other connections are not affected.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from typing import Any

import numpy as np
from fastapi import WebSocket, WebSocketDisconnect

from avemo.errors import AvemoError, ParameterError
from avemo.inference.engine import InferenceEngine, PredictOptions
from avemo.inference.session import StreamOptions, stream_message

SAMPLE_FORMATS = {"pcm16": np.dtype("<i2"), "float32": np.dtype("<f4")}
MIN_RATE, MAX_RATE = 8000, 48000
#: Largest message accepted (bytes): 10 s of float32 audio at 48 kHz, or a big JPEG.
MAX_MESSAGE = 4 * 1024 * 1024
UNSUPPORTED_DATA, POLICY = 1003, 1008


class StreamProtocolError(Exception):
    """A message that breaks the protocol; the connection is closed with ``close_code`` and the message."""

    def __init__(self, code: str, message: str, close_code: int = UNSUPPORTED_DATA) -> None:
        super().__init__(message)
        self.code, self.message, self.close_code = code, message, close_code


#: The settings of the opening message.
SETTINGS = ("sampling_rate", "format", "window", "step", "adapt_to_speaker", "vad", "min_speech", "smoothing")


def parse_config(text: str | None) -> tuple[int, np.dtype, PredictOptions, StreamOptions, bool]:
    """The sampling rate, sample format, options, stream options and speaker adaptation of the opening message.

    Raises:
        StreamProtocolError: for anything but a valid opening message.
    """
    if text is None:
        raise StreamProtocolError("bad_config", "the first message must be JSON text: {\"sampling_rate\": 16000, "
                                  "\"format\": \"pcm16\"}")
    try:
        config = json.loads(text)
    except json.JSONDecodeError:
        raise StreamProtocolError("bad_config", "the first message is not JSON; send {\"sampling_rate\": 16000, "
                                  "\"format\": \"pcm16\"}") from None
    if not isinstance(config, dict):
        raise StreamProtocolError("bad_config", "the first message must be a JSON object")
    unknown = sorted(set(config) - {"type", *SETTINGS})
    if unknown:
        raise StreamProtocolError("bad_config", f"unknown setting(s) {unknown}; known: {', '.join(SETTINGS)}")
    adapt = config.get("adapt_to_speaker", False)
    if not isinstance(adapt, bool):
        raise StreamProtocolError("bad_config", f"adapt_to_speaker must be true or false, got {adapt!r}")
    rate = config.get("sampling_rate")
    if not isinstance(rate, int) or isinstance(rate, bool) or not MIN_RATE <= rate <= MAX_RATE:
        raise StreamProtocolError("unsupported_rate", f"sampling_rate must be an integer from {MIN_RATE} to "
                                  f"{MAX_RATE} Hz, got {rate!r}")
    sample_format = config.get("format", "pcm16")
    if sample_format not in SAMPLE_FORMATS:
        raise StreamProtocolError("unsupported_format", f"format must be one of {sorted(SAMPLE_FORMATS)}, got "
                                  f"{sample_format!r}")
    try:
        options = PredictOptions(window=float(config.get("window", 4.0)), step=float(config.get("step", 2.0)))
    except (ParameterError, TypeError, ValueError) as exc:
        raise StreamProtocolError("bad_config", f"window/step: {exc}") from None
    try:
        stream_options = StreamOptions(vad=config.get("vad", False), min_speech=config.get("min_speech", 0.25),
                                       smoothing=config.get("smoothing"))
    except ParameterError as exc:
        raise StreamProtocolError("bad_config", str(exc)) from None
    return rate, SAMPLE_FORMATS[sample_format], options, stream_options, adapt


def decode_audio(data: bytes, dtype: np.dtype) -> np.ndarray:
    if len(data) % dtype.itemsize:
        raise StreamProtocolError("bad_audio", f"an audio message of {len(data)} bytes is not a whole number of "
                                  f"{dtype.itemsize}-byte samples")
    samples = np.frombuffer(data, dtype=dtype)
    if dtype.kind == "f" and not np.all(np.isfinite(samples)):
        raise StreamProtocolError("bad_audio", "the audio holds NaN or infinite samples")
    return samples


def decode_frame(message: dict[str, Any]) -> tuple[float, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    time_s = message.get("time")
    if not isinstance(time_s, (int, float)) or isinstance(time_s, bool) or not np.isfinite(time_s) or time_s < 0:
        raise StreamProtocolError("bad_frame", f"a frame needs \"time\": seconds >= 0 on the stream clock, got "
                                  f"{time_s!r}")
    try:
        raw = base64.b64decode(message.get("jpeg") or "", validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            rgb = np.asarray(image.convert("RGB"))
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError, TypeError):
        raise StreamProtocolError("bad_frame", "a frame's \"jpeg\" must be a base64-encoded JPEG (or PNG) "
                                  "image") from None
    return float(time_s), rgb


async def stream_endpoint(websocket: WebSocket, engine: InferenceEngine, worker) -> None:
    """Serve one streaming connection (see the module docstring)."""
    from avemo.serve.errors import ServiceError

    await websocket.accept()
    session = None
    try:
        first = await websocket.receive()
        if first["type"] == "websocket.disconnect":
            return
        rate, dtype, options, stream_options, adapt = parse_config(first.get("text"))
        try:
            session = engine.open_session(rate, options, name="websocket", adapt_to_speaker=adapt,
                                          stream_options=stream_options)
        except ParameterError as exc:
            raise StreamProtocolError("bad_config", str(exc)) from None
        classes = list(engine.face.classes if engine.face else engine.speech.classes)
        await websocket.send_json({"type": "ready", "sampling_rate": rate, "format": dtype.name,
                                   "window": options.window, "step": options.step, "classes": classes,
                                   "adapt_to_speaker": adapt, "vad": stream_options.vad,
                                   "min_speech": stream_options.min_speech, "smoothing": stream_options.smoothing})
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data, text = message.get("bytes"), message.get("text")
            if len(data or b"") > MAX_MESSAGE or len(text or "") > MAX_MESSAGE:
                raise StreamProtocolError("too_large", f"messages are limited to {MAX_MESSAGE} bytes", POLICY)
            if data is not None:
                windows = await worker.run(session.add_audio, decode_audio(data, dtype))
                for window in windows:
                    await websocket.send_json(stream_message(window))
                continue
            try:
                request = json.loads(text or "")
            except json.JSONDecodeError:
                raise StreamProtocolError("bad_message", "text messages must be JSON: {\"type\": \"frame\", ...} "
                                          "or {\"type\": \"end\"}; audio goes in binary messages") from None
            kind = request.get("type") if isinstance(request, dict) else None
            if kind == "frame":
                if engine.face is None:
                    raise StreamProtocolError("no_face_model", "this server has no face model; send audio only")
                time_s, rgb = decode_frame(request)
                frame = await worker.run(session.add_frame, time_s, rgb)
                await websocket.send_json(stream_message(frame))
            elif kind == "end":
                for window in await worker.run(session.close):
                    await websocket.send_json(stream_message(window))
                await websocket.send_json({"type": "end"})
                await websocket.close(1000)
                return
            else:
                raise StreamProtocolError("bad_message", f"unknown message type {kind!r}; use \"frame\" or \"end\"")
    except WebSocketDisconnect:
        return
    except StreamProtocolError as exc:
        await _close_with_error(websocket, exc.code, exc.message, exc.close_code)
    except ServiceError as exc:
        await _close_with_error(websocket, exc.code, exc.message, 1013 if exc.status == 503 else 1011)
    except AvemoError as exc:
        await _close_with_error(websocket, "unprocessable", str(exc), UNSUPPORTED_DATA)
    finally:
        if session is not None and not session.closed:
            try:
                session.close()
            except Exception:  # the session's own cleanup must not take the server down
                pass


async def _close_with_error(websocket: WebSocket, code: str, message: str, close_code: int) -> None:
    message = " ".join(str(message).split())
    try:
        await websocket.send_json({"type": "error", "error": {"code": code, "message": message}})
        await websocket.close(close_code, reason=message[:120])
    except (WebSocketDisconnect, RuntimeError):
        pass
