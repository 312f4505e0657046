"""The parts of the live loop that need no model: smoothing, speech windows, the VAD, the overlay, the JSON lines,
the settings."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from avemo.cli import main
from avemo.errors import AvemoError, ParameterError
from avemo.inference.results import FaceResult, FrameResult, FusedResult, ModalityResult, Modality, Status
from avemo.inference.session import StreamOptions, WindowResult
from avemo.inference.smoothing import ExponentialSmoother, FaceSmoothers
from avemo.inference.stream_windows import SpeechWindows
from avemo.live.command import JsonLines, live_command
from avemo.live.overlay import LiveWindow, draw_overlay

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_smoothing_is_exponential_in_stream_time():
    smoother = ExponentialSmoother(0.5)
    assert smoother.update(0.0, {"a": 1.0, "b": 0.0}) == {"a": 1.0, "b": 0.0}  # the first value as is
    after = smoother.update(0.5, {"a": 0.0, "b": 1.0})  # dt = one time constant: keeps exp(-1) of the past
    assert after["a"] == pytest.approx(math.exp(-1)) and after["b"] == pytest.approx(1 - math.exp(-1))
    assert sum(after.values()) == pytest.approx(1.0)
    # two half steps equal one whole step (the same smoothing at any update rate)
    halves = ExponentialSmoother(0.5)
    halves.update(0.0, {"a": 1.0, "b": 0.0})
    halves.update(0.25, {"a": 0.0, "b": 1.0})
    assert halves.update(0.5, {"a": 0.0, "b": 1.0})["a"] == pytest.approx(math.exp(-1))
    # a long gap forgets the past; a time constant of 0 does not smooth; reset starts afresh
    assert smoother.update(60.0, {"a": 1.0, "b": 0.0})["a"] == pytest.approx(1.0)
    none = ExponentialSmoother(0.0)
    none.update(0.0, {"a": 1.0})
    assert none.update(0.01, {"a": 0.2}) == {"a": 0.2}
    smoother.reset()
    assert smoother.update(61.0, {"a": 0.3, "b": 0.7}) == {"a": 0.3, "b": 0.7}
    with pytest.raises(ParameterError, match="time constant"):
        ExponentialSmoother(-1.0)


def test_faces_are_smoothed_per_track_and_forgotten():
    smoothers = FaceSmoothers(0.5, forget=2.0)
    first = FrameResult(0.0, [FaceResult((0, 0, 10, 10), {"a": 1.0, "b": 0.0}, 1),
                              FaceResult((20, 0, 25, 5), {"a": 0.0, "b": 1.0}, 2)])
    assert smoothers.smooth(first) == first  # the first frame as is
    later = smoothers.smooth(FrameResult(0.5, [FaceResult((0, 0, 10, 10), {"a": 0.0, "b": 1.0}, 1)]))
    assert later.faces[0].probabilities["a"] == pytest.approx(math.exp(-1))  # track 1 keeps its own past
    assert later.faces[0].box == (0, 0, 10, 10) and later.time == 0.5
    smoothers.smooth(FrameResult(3.0, [FaceResult((20, 0, 25, 5), {"a": 1.0, "b": 0.0}, 2)]))
    back = smoothers.smooth(FrameResult(3.1, [FaceResult((0, 0, 10, 10), {"a": 0.0, "b": 1.0}, 1)]))
    assert back.faces[0].probabilities == {"a": 0.0, "b": 1.0}  # track 1 was unseen for 2.5 s > 2 s: afresh


def test_speech_windows_are_cut_every_step_and_the_rest_at_the_end():
    sr = 1000
    signal = np.arange(4500, dtype=np.float32)  # 4.5 s at 1 kHz: sample k has value k
    windows = SpeechWindows(window=2.0, step=1.0)
    cut = []
    for start in range(0, len(signal), 50):
        cut += windows.add(signal[start:start + 50], sr)
    assert [(s, e) for s, e, _ in cut] == [(0.0, 2.0), (1.0, 3.0), (2.0, 4.0)]
    for start, end, samples in cut:
        assert np.array_equal(samples, signal[int(start * sr):int(end * sr)])
    assert windows.earliest_start == 2.0  # no window still to come starts before it
    start, end, samples = windows.flush()
    assert (start, end) == (2.5, 4.5) and np.array_equal(samples, signal[2500:4500])
    short = SpeechWindows(window=2.0, step=1.0)
    assert short.add(signal[:1900], sr) == []
    assert short.flush()[:2] == (0.0, 1.9)  # a clip shorter than a window still gets its label at the end
    assert SpeechWindows(2.0, 1.0).flush() is None
    assert SpeechWindows(2.0, 1.0).earliest_start == 0.0
    with pytest.raises(ParameterError, match="sampling rate"):
        windows.add(signal[:10], 16000)


def test_streaming_vad_equals_the_whole_signal_vad():
    from avemo.features.audio.vad import speech_probabilities
    from avemo.io.audio import load_audio
    from avemo.inference.vad import CHUNK_SECONDS, StreamingVad

    signal = load_audio(FIXTURES / "talking_face.mp4")  # real speech, 2 s
    whole = speech_probabilities(signal)
    vad = StreamingVad(history=5.0)
    for start in range(0, len(signal), 700):  # chunk sizes that do not divide 512
        vad.add(signal[start:start + 700])
    vad.flush()
    times, probs = zip(*vad.probabilities)
    assert np.allclose(probs, whole, atol=1e-5) and times[1] == pytest.approx(CHUNK_SECONDS)
    voiced = vad.voiced(0.0, 10.0)
    assert voiced == pytest.approx(CHUNK_SECONDS * (whole >= 0.5).sum()) and 0.3 < voiced < 2.0
    assert vad.voiced(0.0, 0.1) < voiced
    vad.reset()
    vad.add(np.zeros(16000, np.float32))
    assert len(vad.probabilities) == 31 and vad.voiced(0.0, 1.0) == 0.0


def test_settings_are_checked_before_anything_opens():
    with pytest.raises(ParameterError, match="--window"):
        live_command(window=0.2, headless=True)
    with pytest.raises(ParameterError, match="--step"):
        live_command(window=2.0, step=3.0, headless=True)
    with pytest.raises(ParameterError, match="smoothing"):
        live_command(smoothing=-0.1, headless=True)
    for bad in ({"min_speech": -1.0}, {"vad_threshold": 1.0}, {"smoothing": True}, {"vad": "yes"}):
        with pytest.raises(ParameterError):
            StreamOptions(**bad)


FACE = FaceResult((60.0, 40.0, 110.0, 110.0), {"happy": 0.7, "sad": 0.2, "neutral": 0.1}, 0)


def _window(speech_status: Status = Status.OK) -> WindowResult:
    speech_p = {"happy": 0.6, "calm": 0.4} if speech_status == Status.OK else {}
    speech = ModalityResult(None, speech_p, 2.0, speech_status)
    face = ModalityResult(None, dict(FACE.probabilities), 2.0, modality=Modality.FACE, faces=[FACE], box=FACE.box)
    fused = FusedResult(None, {"happy": 0.8, "sad": 0.1, "neutral": 0.1}, 2.0,
                        modalities={"speech": speech, "face": face})
    return WindowResult(0.0, 2.0, fused, 1.2, {"vad": 1.0, "fusion": 0.1})


def test_overlay_draws_inside_the_box_and_leaves_the_rest():
    image = np.zeros((240, 320, 3), np.uint8)
    canvas = draw_overlay(image, [FACE], _window(), 1.5)
    assert canvas.shape == image.shape and canvas.dtype == np.uint8
    assert not image.any()  # the input is not drawn on
    x0, y0, x1, y1 = 60, 40, 110, 110
    assert canvas[y0:y1 + 1, x0:x1 + 1].any()  # the box
    assert canvas[y0:y0 + 30, x1 + 6:x1 + 66].any()  # the probability bars beside it
    assert canvas[:22].any()  # the banner with the voice
    assert not canvas[130:, :50].any() and not canvas[130:, 200:].any()  # far from the face and the banner: untouched
    no_face = draw_overlay(image, [], _window(Status.SILENCE), 0.0)
    assert not no_face[y0 + 5:y1 - 5, x0 + 5:x1 - 5].any()
    voice_only = draw_overlay(None, [], _window(), 1.5)
    assert voice_only.shape == (360, 640, 3)


def test_json_lines_are_the_stream_messages_with_stage_times():
    import io
    import json

    out = io.StringIO()
    writer = JsonLines(out)
    assert writer(FrameResult(0.5, [FACE]), {"decode": 1.23, "face": 10.0}, None)
    assert writer(_window(), {"vad": 1.04, "window_end_to_label": 20.0}, None)
    frame, window = (json.loads(line) for line in out.getvalue().splitlines())
    assert set(frame) == {"type", "time", "faces", "latency_ms"} and frame["type"] == "frame"
    assert frame["faces"][0]["emotion"] == "happy" and frame["latency_ms"] == {"decode": 1.2, "face": 10.0}
    assert window["type"] == "result" and (window["start"], window["end"], window["voiced"]) == (0.0, 2.0, 1.2)
    assert window["emotion"] == "happy" and window["modalities"]["speech"]["emotion"] == "happy"
    assert "label" not in window and "label" not in frame["faces"][0]


def test_no_display_is_a_one_line_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(AvemoError, match="--headless"):
        LiveWindow()


def test_camera_that_does_not_exist_is_a_one_line_error(capsys):
    assert main(["live", "--camera", "99", "--headless", "--no-microphone"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("avemo: error: camera 99 could not be opened") and "--video FILE" in err[0]


def test_settings_that_leave_nothing_or_make_no_sense(capsys):
    assert main(["live", "--no-camera", "--no-microphone", "--headless"]) == 2
    assert "nothing to analyse" in capsys.readouterr().err
    assert main(["live", "--no-pace", "--headless"]) == 2
    assert "--no-pace is for file sources" in capsys.readouterr().err
    assert main(["live", "--video", "missing.mp4", "--headless"]) == 2
    assert "missing.mp4" in capsys.readouterr().err
