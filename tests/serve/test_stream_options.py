"""The WebSocket's opening message carries the session's stream options (the VAD gate, smoothing)."""

from __future__ import annotations

import json

import pytest

from avemo.inference.session import StreamOptions
from avemo.serve.stream import StreamProtocolError, parse_config


def test_stream_options_default_to_none_and_are_passed_on():
    rate, dtype, options, stream_options, adapt = parse_config(json.dumps({"sampling_rate": 16000}))
    assert stream_options == StreamOptions() and not stream_options.vad and stream_options.smoothing is None
    _, _, options, stream_options, _ = parse_config(json.dumps(
        {"sampling_rate": 16000, "window": 2.0, "step": 1.0, "vad": True, "min_speech": 0.5, "smoothing": 0.5}))
    assert stream_options == StreamOptions(vad=True, min_speech=0.5, smoothing=0.5) and options.window == 2.0


@pytest.mark.parametrize("bad", [{"vad": "yes"}, {"min_speech": -1}, {"smoothing": "fast"}, {"smoothing": -0.5},
                                 {"vad_threshold": 0.3}])
def test_bad_stream_options_are_bad_configs(bad):
    with pytest.raises(StreamProtocolError) as error:
        parse_config(json.dumps({"sampling_rate": 16000, **bad}))
    assert error.value.code == "bad_config" and error.value.message
