"""The inference engine: one loaded engine shared by threads, typed results, stream sessions, detector reuse."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avemo.errors import ParameterError
from avemo.inference.engine import InferenceEngine, PredictOptions, needed_modalities
from avemo.inference.results import FusedResult, ModalityResult, Status, Timeline
from avemo.io.audio import load_audio
from avemo.io.synth import synth_voice
from avemo.io.video import iter_video_frames

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VIDEO = FIXTURES / "talking_face.mp4"
IMAGE = FIXTURES / "face_frame.jpg"
SR = 16000


@pytest.fixture(scope="module")
def engine(tiny_engine):
    return tiny_engine


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed")
    short, long = folder / "short.wav", folder / "long.wav"
    sf.write(short, synth_voice(2.0, 150, SR), SR)
    sf.write(long, synth_voice(7.0, 220, SR), SR)
    return [short, IMAGE, VIDEO, long, VIDEO, IMAGE, short]


def test_eight_threads_give_the_results_of_one(engine, mixed_inputs):
    serial = [json.dumps(engine.predict_file(p).to_dict(), sort_keys=True) for p in mixed_inputs]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda p: json.dumps(engine.predict_file(p).to_dict(), sort_keys=True),
                                 mixed_inputs * 3))
    assert parallel == serial * 3
    kinds = [json.loads(s)["modality"] for s in serial]
    assert kinds == ["speech", "face", "audio-visual", "speech", "audio-visual", "face", "speech"]


def test_video_detector_reuse_matches_a_fresh_engine(engine, tiny_model_dir):
    first = engine.predict_file(VIDEO).to_dict()
    again = engine.predict_file(VIDEO).to_dict()  # the pooled video-mode detector starts a new stream
    fresh = InferenceEngine(tiny_model_dir).predict_file(VIDEO).to_dict()
    assert first == again == fresh


def test_typed_results(engine, mixed_inputs):
    video = engine.predict_file(VIDEO)
    assert isinstance(video, FusedResult) and video.status == Status.OK == "ok"
    assert set(video.modalities) == {"speech", "face"}
    assert all(isinstance(m, ModalityResult) for m in video.modalities.values())
    assert video.fusion.used == ["face", "speech"] and video.fusion["used"] == ["face", "speech"]
    d = video.to_dict()
    assert d["modality"] == "audio-visual" and d["fusion"]["label_set"] == "fer7"
    assert sum(d["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    speech = engine.predict_file(mixed_inputs[3])
    assert isinstance(speech.timeline, Timeline) and speech.timeline.probabilities.shape == (len(speech.timeline), 8)
    assert speech.timeline == list(speech.timeline) and speech.timeline[-1].end == pytest.approx(7.0)
    assert json.loads(json.dumps(speech.to_dict()))["timeline"][0]["start"] == 0.0


def test_per_call_options_and_modalities(engine, mixed_inputs):
    face_only = engine.predict_file(VIDEO, PredictOptions(modality="face", fps=2))
    assert face_only.modality == "face" and len(face_only.frames) <= 5
    speech_only = engine.predict_file(VIDEO, PredictOptions(modality="speech"))
    assert speech_only.modality == "speech"
    with pytest.raises(ParameterError, match="an image has no audio"):
        engine.predict_file(IMAGE, PredictOptions(modality="speech"))
    with pytest.raises(ParameterError, match="modality"):
        PredictOptions(modality="smell")
    with pytest.raises(ParameterError, match="step"):
        PredictOptions(window=2.0, step=3.0)
    assert needed_modalities(["a.wav", "b.flac"]) == ("speech",)
    assert needed_modalities(["a.jpg"]) == ("face",)
    assert needed_modalities(["a.wav", "b.mp4"]) == ("speech", "face")
    assert needed_modalities(["a.mp4"], "speech") == ("speech",)


def test_speech_only_engine_refuses_faces(tiny_model_dir):
    speech = InferenceEngine(tiny_model_dir, modalities=("speech",))
    assert speech.modalities == ("speech",)
    assert speech.predict_file(VIDEO).modality == "speech"  # a video's audio track
    with pytest.raises(ParameterError, match="no face model"):
        speech.predict_image(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ParameterError, match="modalities"):
        InferenceEngine(tiny_model_dir, modalities=("smell",))


def test_image_and_audio_pair_is_fused(engine):
    from avemo.io.image import load_image

    result = engine.predict_image_and_audio(load_image(IMAGE), synth_voice(2.0, 150, SR), SR)
    assert result.status == "ok" and result.fusion.used == ["face", "speech"]
    silent = engine.predict_image_and_audio(load_image(IMAGE), np.zeros(SR, np.float32), SR)
    assert silent.fusion.used == ["face"] and "speech only" not in silent.fusion.note
    assert silent.modalities["speech"].status == "silence"


def test_stream_session_windows_equal_offline_windows(engine):
    signal = synth_voice(6.0, 180, SR)
    received = []
    options = PredictOptions(window=2.0, step=1.0)
    with engine.open_session(SR, options, on_result=received.append) as session:
        returned = []
        for start in range(0, len(signal), 3200):  # 0.2 s chunks, float
            returned += session.add_audio(signal[start:start + 3200])
        assert session.time == pytest.approx(6.0)
    assert [v for w in returned for v in (w.start, w.end)] == pytest.approx([0, 2, 1, 3, 2, 4, 3, 5, 4, 6])
    assert received[:5] == returned and len(received) == 5  # nothing left over at close
    for window in returned:
        offline = engine.predict_signal(signal[int(window.start * SR):int(window.end * SR)], SR, options)
        assert window.result.probabilities == pytest.approx(offline.probabilities, abs=1e-6)
    assert json.loads(json.dumps(returned[0].to_dict()))["end"] == 2.0


def test_stream_session_fuses_frames_and_pcm16_audio(engine):
    signal = load_audio(VIDEO, SR)
    frames = [(f.time, f.image) for f in iter_video_frames(VIDEO, fps=10)]
    session = engine.open_session(8000, PredictOptions(window=1.0, step=0.5))
    pcm = (np.clip(signal[::2], -1, 1) * 32767).astype(np.int16)  # 8 kHz int16, resampled by the session
    windows = []
    for k, (time_s, image) in enumerate(frames):
        faces = session.add_frame(time_s, image)
        assert faces.time == time_s
        windows += session.add_audio(pcm[k * 800:(k + 1) * 800])
    windows += session.close()
    assert windows and all(isinstance(w.result, FusedResult) for w in windows)
    assert any(w.result.fusion.used == ["face", "speech"] for w in windows)
    assert session.close() == []
    with pytest.raises(ParameterError, match="closed"):
        session.add_audio(pcm[:100])


def test_stream_session_close_gives_the_last_partial_window(engine):
    signal = synth_voice(3.0, 140)
    options = PredictOptions(window=2.0, step=1.0)
    tail = engine.open_session(SR, options)
    assert [(w.start, w.end) for w in tail.add_audio(signal[:int(2.7 * SR)])] == [(0.0, 2.0)]
    assert [(w.start, w.end) for w in tail.close()] == [pytest.approx((0.7, 2.7))]  # 0.7 s not analysed yet
    short = engine.open_session(SR, options)
    short.add_audio(signal[:int(2.3 * SR)])
    assert short.close() == []  # 0.3 s left: under the speech minimum
    frames_only = engine.open_session(SR, options)
    for time_s, image in [(f.time, f.image) for f in iter_video_frames(VIDEO, fps=2)][:3]:
        frames_only.add_frame(time_s, image)
    (last,) = frames_only.close()
    assert last.end == pytest.approx(1.0, abs=0.01) and last.start == 0.0 and last.result.modality == "face"


def test_stream_session_bad_input(engine):
    session = engine.open_session(SR)
    with pytest.raises(ParameterError, match="1-D"):
        session.add_audio(np.zeros((10, 2)))
    with pytest.raises(ParameterError, match="1-D"):
        session.add_audio(np.array(["a", "b"]))
    with pytest.raises(ParameterError, match="sampling_rate"):
        engine.open_session(0)
    silence = session.add_audio(np.zeros(5 * SR, np.float32))
    assert silence and silence[0].result.status in ("silence", "no_signal")
    session.close()
