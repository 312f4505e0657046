"""Stream sessions with the live loop's options (the voice-activity gate, smoothing), their messages, and the running
modes of the engine's entry points."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avemo.io.synth import synth_voice
from avemo.errors import ParameterError
from avemo.inference import RunningMode, StreamOptions
from avemo.inference.engine import PredictOptions
from avemo.inference.results import FrameResult
from avemo.inference.session import FRAME_HISTORY, stream_message
from avemo.inference.smoothing import FaceSmoothers
from avemo.io.audio import load_audio
from avemo.io.video import iter_video_frames

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VIDEO = FIXTURES / "talking_face.mp4"
IMAGE = FIXTURES / "face_frame.jpg"
SR = 16000
TWO_SECONDS = PredictOptions(window=2.0, step=2.0)


@pytest.fixture(scope="module")
def engine(tiny_engine):
    return tiny_engine


@pytest.fixture
def speech_model_calls(engine, monkeypatch):
    """The windows the speech model was run on (their lengths in seconds)."""
    calls = []
    predict = engine.predict_signal

    def counted(signal, sampling_rate, *args, **kwargs):
        calls.append(len(signal) / sampling_rate)
        return predict(signal, sampling_rate, *args, **kwargs)

    monkeypatch.setattr(engine, "predict_signal", counted)
    return calls


def silence_and_a_synthetic_voice() -> np.ndarray:
    """6 s: 2 s of silence, 2 s of the synthetic voice, 2 s of silence."""
    silence = np.zeros(2 * SR, np.float32)
    return np.concatenate([silence, synth_voice(2.0, 220, SR), silence])


def run(session, signal: np.ndarray) -> list:
    windows = []
    for start in range(0, len(signal), 800):  # 50 ms chunks, as avemo live reads them
        windows += session.add_audio(signal[start:start + 800])
    return windows + session.close()


def test_vad_drops_silent_windows_without_running_the_speech_model(engine, speech_model_calls):
    signal = silence_and_a_synthetic_voice()
    gated = run(engine.open_session(SR, TWO_SECONDS, stream_options=StreamOptions(vad=True)), signal)
    assert [(w.start, w.end) for w in gated] == [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)]
    assert [w.result.status for w in gated] == ["silence", "ok", "silence"]
    assert gated[0].voiced == gated[2].voiced == 0.0 and gated[1].voiced > 0.25
    assert "min_speech" in gated[0].result.message and not gated[0].result.probabilities
    assert speech_model_calls == [2.0]  # the voice only
    assert set(gated[1].latency_ms) == {"vad", "speech", "fusion"} and "speech" not in gated[0].latency_ms
    assert gated[0].to_dict()["voiced"] == 0.0 and gated[0].to_dict()["status"] == "silence"
    speech_model_calls.clear()
    ungated = run(engine.open_session(SR, TWO_SECONDS), signal)
    assert [w.result.status for w in ungated] == ["silence", "ok", "silence"]  # silence by its level
    assert len(speech_model_calls) == 3 and all(w.voiced is None for w in ungated)
    assert "voiced" not in ungated[1].to_dict() and "vad" not in ungated[1].latency_ms
    assert ungated[1].result.probabilities == gated[1].result.probabilities
    strict = run(engine.open_session(SR, TWO_SECONDS, stream_options=StreamOptions(vad=True, min_speech=1.5)), signal)
    assert [w.result.status for w in strict] == ["silence"] * 3  # the voice has less than 1.5 s of speech


def test_speech_is_smoothed_over_windows_and_restarts_after_silence(engine):
    voices = [synth_voice(2.0, pitch, SR, seed=k) for k, pitch in enumerate((110, 190, 310))]
    signal = np.concatenate([voices[0], voices[1], np.zeros(2 * SR, np.float32), voices[2], voices[0]])
    raw = run(engine.open_session(SR, TWO_SECONDS), signal)
    smoothed = run(engine.open_session(SR, TWO_SECONDS, stream_options=StreamOptions(smoothing=1.0)), signal)
    assert [w.result.status for w in smoothed] == [w.result.status for w in raw] == ["ok", "ok", "silence", "ok", "ok"]
    keep = math.exp(-2.0 / 1.0)  # two seconds between windows, a time constant of one second
    p = [w.result.probabilities for w in raw]
    assert smoothed[0].result.probabilities == p[0]
    assert smoothed[1].result.probabilities == pytest.approx({c: keep * p[0][c] + (1 - keep) * p[1][c] for c in p[1]})
    assert smoothed[3].result.probabilities == p[3]  # after the silent window: afresh
    assert smoothed[4].result.probabilities == pytest.approx({c: keep * p[3][c] + (1 - keep) * p[4][c] for c in p[4]})


def test_smoothed_faces_and_the_window_face_is_its_last_frames(engine):
    frames = [(f.time, f.image) for f in iter_video_frames(VIDEO, fps=10)]
    plain = engine.open_session(SR, PredictOptions(window=1.0, step=1.0))
    smoothing = engine.open_session(SR, PredictOptions(window=1.0, step=1.0),
                                    stream_options=StreamOptions(smoothing=0.5))
    reference = FaceSmoothers(0.5)
    for time_s, image in frames:
        expected = reference.smooth(plain.add_frame(time_s, image))
        assert smoothing.add_frame(time_s, image) == expected
    audio = load_audio(VIDEO, SR)[:SR]
    (pooled,), (latest,) = plain.add_audio(audio), smoothing.add_audio(audio)
    last = [f for f in frames if f[0] <= 1.0][-1][0]
    assert latest.result.modalities["face"].faces[0].last_seen == last
    assert latest.result.modalities["face"].faces[0].frames == 1
    assert pooled.result.modalities["face"].faces[0].frames > 5  # without smoothing: the mean over the window
    plain.close()
    smoothing.close()


def test_frames_no_window_can_use_are_forgotten(engine, face_image_rgb):
    session = engine.open_session(SR, PredictOptions(window=1.0, step=1.0))
    for k in range(30):
        session.add_frame(0.1 * k, face_image_rgb)
    session.add_audio(np.zeros(3 * SR, np.float32))  # windows up to 3 s: a later one starts at 2 s or after
    assert min(f.time for f in session._frames) == pytest.approx(2.0)  # the frame in effect at 2 s on
    session.add_frame(FRAME_HISTORY + 10.0, face_image_rgb)  # audio far behind: keep at most FRAME_HISTORY of frames
    assert [f.time for f in session._frames] == [pytest.approx(2.9), FRAME_HISTORY + 10.0]
    session.close()


@pytest.fixture(scope="module")
def face_image_rgb():
    from avemo.io.image import load_image

    return load_image(IMAGE)


def test_stream_options_and_warm_up_are_checked(engine):
    with pytest.raises(ParameterError, match="min_speech"):
        engine.open_session(SR, PredictOptions(window=1.0, step=1.0), stream_options=StreamOptions(min_speech=2.0))
    with pytest.raises(ParameterError, match="vad_threshold"):
        StreamOptions(vad_threshold=0.0)
    session = engine.open_session(SR, TWO_SECONDS, stream_options=StreamOptions(vad=True, smoothing=0.5))
    session.warm_up()  # before the stream: fine, and leaves no trace
    assert session.time == 0.0 and session.add_audio(np.zeros(SR, np.float32)) == []
    with pytest.raises(ParameterError, match="before the stream"):
        session.warm_up()
    session.close()


def test_stream_messages_and_running_modes(engine, tmp_path, face_image_rgb):
    wav = tmp_path / "voice.wav"
    sf.write(wav, synth_voice(2.0, 150, SR), SR)
    assert engine.running_mode(IMAGE) == RunningMode.IMAGE == "image"
    assert engine.running_mode(VIDEO) == RunningMode.VIDEO
    assert engine.running_mode(wav) == engine.running_mode(VIDEO, PredictOptions(modality="speech")) == "audio_clip"
    with pytest.raises(ParameterError, match="no audio"):
        engine.running_mode(IMAGE, PredictOptions(modality="speech"))
    with engine.open_session(SR, TWO_SECONDS) as session:
        assert session.running_mode == RunningMode.STREAM
        frame = session.add_frame(0.0, face_image_rgb)
        (window,) = session.add_audio(synth_voice(2.0, 150, SR))
    assert stream_message(frame) == {"type": "frame", **frame.to_dict()} and isinstance(frame, FrameResult)
    message = stream_message(window)
    assert message["type"] == "result" and message["end"] == 2.0 and message["emotion"] == window.result.emotion
    assert window.speech is window.result.modalities["speech"]
