"""EmotionRecognizer with a tiny trained system: files, signals, timelines, silence and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from avemo.io.synth import synth_voice
from avemo.errors import (AssetNotFoundError, AudioTooShortError, AvemoError, CheckpointError, MediaDecodeError,
                          ParameterError)
from avemo.inference import EmotionRecognizer, PredictionResult, Segment
from avemo.inference.sliding import window_bounds
from avemo.labels import label_set
from avemo.systems.base import resolve_system_dir

SR = 16000
CLASSES = label_set("ravdess8")


@pytest.fixture(scope="module")
def recognizer(tiny_model_dir):
    return EmotionRecognizer(tiny_model_dir)


def check_result(result, duration):
    assert isinstance(result, PredictionResult)
    assert result.status == "ok"
    assert list(result.probabilities) == list(CLASSES)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.emotion == max(result.probabilities, key=result.probabilities.get)
    assert result.confidence == pytest.approx(max(result.probabilities.values()))
    assert result.duration == pytest.approx(duration, abs=0.01)


def test_predict_file_short_clip_has_no_timeline(recognizer, tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, synth_voice(3.0, 140), SR)
    result = recognizer.predict_file(path)
    check_result(result, 3.0)
    assert result.timeline == [] and result.path == str(path)
    d = result.to_dict()
    assert "timeline" not in d and d["emotion"] == result.emotion and -1 <= d["valence"] <= 1


def test_learned_pitch_classes(recognizer, tiny_model_pitches):
    # The tiny system learned one pitch per class; its training pitches come back as their classes.
    hits = [recognizer.predict_signal(synth_voice(1.5, p, SR, seed=10 * k), SR).emotion == CLASSES[k]
            for k, p in enumerate(tiny_model_pitches)]
    assert sum(hits) >= 6


def test_long_file_gets_a_timeline(recognizer, tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, synth_voice(9.0, 160), SR)
    result = recognizer.predict_file(path)
    check_result(result, 9.0)
    starts = [s.start for s in result.timeline]
    assert starts == pytest.approx([0.0, 2.0, 4.0, 5.0])
    for seg in result.timeline:
        assert isinstance(seg, Segment)
        assert seg.end - seg.start == pytest.approx(4.0)
        assert sum(seg.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert seg.emotion in CLASSES
    assert result.timeline[-1].end == pytest.approx(9.0)
    assert all(b - a <= 2.0 + 1e-9 for a, b in zip(starts, starts[1:]))
    d = result.to_dict()
    assert len(d["timeline"]) == 4 and d["timeline"][-1]["end"] == 9.0


def test_window_settings(tiny_model_dir, tmp_path):
    rec = EmotionRecognizer(tiny_model_dir, window=2.0, step=1.0)
    result = rec.predict_signal(synth_voice(5.0, 160), SR)
    assert [v for s in result.timeline for v in (s.start, s.end)] == pytest.approx([0, 2, 1, 3, 2, 4, 3, 5])
    with pytest.raises(ParameterError, match="step"):
        EmotionRecognizer(tiny_model_dir, window=2.0, step=3.0)
    with pytest.raises(ParameterError):
        EmotionRecognizer(tiny_model_dir, window=0.0, step=0.0)


def test_window_bounds():
    assert window_bounds(3.0, 4.0, 2.0) == [(0.0, 3.0)]
    assert window_bounds(9.0, 4.0, 2.0) == [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0), (5.0, 9.0)]
    assert window_bounds(8.0, 4.0, 4.0) == [(0.0, 4.0), (4.0, 8.0)]
    with pytest.raises(ParameterError, match="larger than its duration"):
        window_bounds(10.0, 2.0, 3.0)
    with pytest.raises(ParameterError):
        window_bounds(10.0, -1.0, 1.0)


def test_silence(recognizer):
    result = recognizer.predict_signal(np.zeros(2 * SR, np.float32), SR)
    assert result.status == "silence" and result.emotion is None
    assert result.probabilities == {} and result.confidence == 0.0 and result.valence_arousal is None
    assert result.duration == pytest.approx(2.0)
    d = result.to_dict()
    assert d["status"] == "silence" and d["emotion"] is None and d["message"]


def test_quiet_speech_is_not_silence(recognizer):
    voice = synth_voice(2.0, 140)
    frames = voice[: len(voice) // 400 * 400].reshape(-1, 400)  # 25 ms frames
    peak = np.sqrt((frames ** 2).mean(1)).max()  # the loudest frame's RMS
    quiet = recognizer.predict_signal(voice * 10 ** (-55 / 20) / peak, SR)  # as quiet as RAVDESS's softest clips
    assert quiet.status == "ok" and quiet.emotion in CLASSES
    assert recognizer.predict_signal(voice * 10 ** (-75 / 20) / peak, SR).status == "silence"


def test_too_short(recognizer, tmp_path):
    with pytest.raises(AudioTooShortError, match="0.20 s"):
        recognizer.predict_signal(synth_voice(0.2, 140), SR)
    path = tmp_path / "short.wav"
    sf.write(path, synth_voice(0.2, 140), SR)
    with pytest.raises(AudioTooShortError) as info:
        recognizer.predict_file(path)
    assert str(path) in str(info.value)


def test_stereo_44k_signal(recognizer):
    mono = synth_voice(3.0, 180, 44100)
    result = recognizer.predict_signal(np.stack([mono, 0.5 * mono], axis=1), 44100)
    check_result(result, 3.0)
    channels_first = recognizer.predict_signal(np.stack([mono, 0.5 * mono], axis=0), 44100)
    assert channels_first.probabilities == pytest.approx(result.probabilities)


def test_bad_signals(recognizer):
    x = synth_voice(1.0, 140)
    x[10] = np.nan
    with pytest.raises(MediaDecodeError, match="NaN"):
        recognizer.predict_signal(x, SR)
    with pytest.raises(ParameterError):
        recognizer.predict_signal(synth_voice(1.0, 140), 0)


def test_predict_files_goes_past_bad_files(recognizer, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, synth_voice(1.0, 140), SR)
    (tmp_path / "empty.wav").write_bytes(b"")
    out = list(recognizer.predict_files([good, tmp_path / "missing.wav", tmp_path / "empty.wav", good]))
    assert [p for p, _ in out] == [str(good), str(tmp_path / "missing.wav"), str(tmp_path / "empty.wav"), str(good)]
    assert isinstance(out[0][1], PredictionResult) and isinstance(out[3][1], PredictionResult)
    assert isinstance(out[1][1], MediaDecodeError) and isinstance(out[2][1], AvemoError)


def test_resolve_model(tiny_model_dir, tmp_path):
    assert resolve_system_dir(tiny_model_dir, kind="speech") == tiny_model_dir
    assert resolve_system_dir(str(tiny_model_dir)) == tiny_model_dir
    with pytest.raises(AssetNotFoundError, match="not-a-model"):
        resolve_system_dir(tmp_path / "not-a-model", kind="speech")
    with pytest.raises(AssetNotFoundError, match="face model"):
        resolve_system_dir(tiny_model_dir, kind="face")
    with pytest.raises(AssetNotFoundError):
        EmotionRecognizer(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "system.json").write_text("{")
    with pytest.raises(CheckpointError):
        EmotionRecognizer(broken)


def test_the_old_recognizers_are_deprecated_constructors_of_the_engine(tiny_model_dir, tmp_path):
    from avemo.inference import FaceEmotionRecognizer, InferenceEngine, MultimodalRecognizer

    with pytest.warns(DeprecationWarning, match="EmotionRecognizer is deprecated; use InferenceEngine"):
        speech = EmotionRecognizer(tiny_model_dir, window=2.0, step=1.0)
    assert isinstance(speech, InferenceEngine) and speech.modalities == ("speech",)
    engine = InferenceEngine(tiny_model_dir, modalities=("speech",))
    signal = synth_voice(5.0, 160)
    path = tmp_path / "clip.wav"
    sf.write(path, signal, SR)
    from avemo.inference import PredictOptions

    options = PredictOptions(window=2.0, step=1.0)
    assert speech.predict_file(path).to_dict() == engine.predict_file(path, options).to_dict()
    assert speech.predict_signal(signal, SR).to_dict() == engine.predict_signal(signal, SR, options).to_dict()
    with pytest.warns(DeprecationWarning, match="FaceEmotionRecognizer is deprecated"):
        faces = FaceEmotionRecognizer()
    assert faces.modalities == ("face",) and faces.options.modality == "face"
    with pytest.warns(DeprecationWarning, match="MultimodalRecognizer is deprecated"):
        both = MultimodalRecognizer(tiny_model_dir, fps=2, modality="speech")
    assert both.modalities == ("speech",) and both.options.fps == 2
