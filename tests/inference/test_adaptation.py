"""Speaker adaptation through the engine: a multi-corpus probe on Whisper tiny.en statistics of synthetic voices;
the adapted head takes over once a speaker has enough unlabelled recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avemo.errors import ParameterError
from avemo.features.base import create_extractor
from avemo.inference.engine import InferenceEngine
from avemo.io.synth import synth_voice
from avemo.systems.speech_probe import CorpusInputs, SpeechProbeSystem

SR = 16000
PITCHES = (100.0, 120.0, 145.0, 175.0, 210.0, 250.0, 300.0, 360.0)


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory):
    """A probe trained on 4 synthetic 'speakers' of RAVDESS (one pitch per class, a gain per speaker)."""
    extractor = create_extractor("whisper_stats", model="tiny.en", layers=[1, 2, 3])
    xs, ys, speakers = [], [], []
    for speaker in range(4):
        for label, pitch in enumerate(PITCHES):
            signal = synth_voice(0.8, pitch * (1 + 0.04 * speaker), SR, seed=100 * speaker + label)
            xs.append(extractor.process_signal(signal * (0.2 + 0.2 * speaker), SR))
            ys.append(label)
            speakers.append(f"ravdess:{speaker}")
    inputs = CorpusInputs.create(np.stack(xs), ["ravdess"] * len(ys), speakers, (1, 2, 3))
    index = np.array([int(s.split(":")[1]) for s in speakers])
    system = SpeechProbeSystem(model="tiny.en", layer_grid=[(1, 2, 3), (3,)], l2_grid=[1e-3])
    system.fit(inputs, np.array(ys), (np.flatnonzero(index < 3), np.flatnonzero(index == 3)))
    return system.save(tmp_path_factory.mktemp("models") / "probe")


def test_engine_loads_a_probe_and_adapts_to_a_speaker(probe_dir, tmp_path):
    engine = InferenceEngine(probe_dir, modalities=("speech",))
    paths = []
    for label in range(3):
        paths.append(tmp_path / f"s{label}.wav")
        sf.write(paths[-1], synth_voice(0.8, PITCHES[label] * 1.02, SR, seed=900 + label) * 0.5, SR)
    plain = engine.predict_file(paths[0])
    assert plain.status == "ok" and len(plain.probabilities) == 8

    adaptation = engine.speaker_adaptation()
    assert not adaptation.ready
    before = adaptation.predict_file(paths[0])
    assert before.probabilities == pytest.approx(plain.probabilities, abs=1e-6)  # global head until ready
    assert "global" in before.message
    for path in paths:
        adaptation.add_file(path)
    assert adaptation.ready and adaptation.count == 3
    after = adaptation.predict_file(paths[0])
    assert after.message == "speaker-adapted"
    # The adapted head with the speaker's running statistics, as the system computes it directly.
    (extractor,) = engine.speech.extractors.values()
    x = engine.speech.system.speaker_residuals(np.stack([extractor.process_file(p) for p in paths]))
    mean, std = adaptation.statistics()
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(std, np.maximum(x.std(0), 1e-3), rtol=1e-3, atol=1e-5)
    expected = engine.speech.system.predict_proba_adapted(x[:1], mean, std, count=3)[0]
    assert list(after.probabilities.values()) == pytest.approx(expected.tolist(), abs=1e-5)


def test_adaptation_needs_an_adapted_head(tiny_model_dir):
    engine = InferenceEngine(tiny_model_dir, modalities=("speech",))
    with pytest.raises(ParameterError, match="speaker-adapted head"):
        engine.speaker_adaptation()


def test_speaker_of():
    from avemo.inference.adaptation import speaker_of

    assert speaker_of("/data/anna/take1.wav", "folder") == "anna"
    assert speaker_of("/data/anna/day2/take1.wav", "folder2") == "anna"
    assert speaker_of("/x/SM12_F3_A01.wav", r"^(S[MF]\d+)_") == "SM12"
    assert speaker_of("/x/03-01-05-01-01-01-12.wav", r"\d\d(?=\.wav$)") == "12"
    with pytest.raises(ParameterError, match="does not match"):
        speaker_of("/x/other.wav", r"^(S[MF]\d+)_")
    with pytest.raises(ParameterError, match="regular expression"):
        speaker_of("/x/a.wav", "(")


def test_batch_groups_files_by_speaker(probe_dir, tmp_path, capsys):
    import json

    from avemo.cli import main

    files = []
    for speaker, count in (("anna", 3), ("ben", 2), ("carl", 1)):
        (tmp_path / speaker).mkdir()
        for k in range(count):
            files.append(tmp_path / speaker / f"{k}.wav")
            sf.write(files[-1], synth_voice(0.8, PITCHES[k + 2] * (1.1 if speaker == "ben" else 1.0), SR,
                                            seed=len(files)) * 0.4, SR)
    (tmp_path / "ben" / "bad.wav").write_bytes(b"not audio")
    files.insert(2, tmp_path / "ben" / "bad.wav")
    code = main(["predict", "--model", str(probe_dir), "--speaker-key", "folder", "--format", "json",
                 *map(str, files)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # one bad file; the rest go on
    assert [r["path"] for r in rows] == list(map(str, files))
    assert "error" in rows[2]
    by_speaker = {Path(r["path"]).parent.name: r for r in rows if "error" not in r}
    assert "speaker-adapted" in by_speaker["anna"]["message"] and "3 recordings" in by_speaker["anna"]["message"]
    assert "speaker-adapted" in by_speaker["ben"]["message"]  # 2 readable files (the bad one is left out)
    assert by_speaker["carl"]["message"].startswith("global")


def test_live_session_adapts_to_the_voice(probe_dir):
    engine = InferenceEngine(probe_dir, modalities=("speech",))
    results = []
    with engine.open_session(on_result=results.append, adapt_to_speaker=True) as session:
        session.add_audio(np.concatenate([synth_voice(2.0, p, SR, seed=i) * 0.4 for i, p in enumerate(PITCHES[:5])]))
    messages = [r.result.modalities["speech"].message if hasattr(r.result, "modalities") else r.result.message
                for r in results]
    assert len(results) >= 3
    assert messages[0].startswith("global") and messages[-1] == "speaker-adapted"
    assert session.adaptation.count >= 2


def test_batch_table_with_a_speaker_key(probe_dir, tmp_path, capsys):
    """--output with --speaker-key: a speaker column, the same probabilities as the grouped predict, resumable."""
    import json

    from avemo.batch.table import read_table
    from avemo.cli import main

    for speaker, count in (("anna", 3), ("ben", 1)):
        (tmp_path / "in" / speaker).mkdir(parents=True)
        for k in range(count):
            sf.write(tmp_path / "in" / speaker / f"{k}.wav", synth_voice(0.8, PITCHES[k + 1], SR, seed=k) * 0.4, SR)
    files = sorted(map(str, (tmp_path / "in").rglob("*.wav")))
    assert main(["predict", "--model", str(probe_dir), "--speaker-key", "folder", "--format", "json", *files]) == 0
    expected = {r["path"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    out = tmp_path / "r.parquet"
    assert main(["predict", str(tmp_path / "in"), "--output", str(out), "--model", str(probe_dir),
                 "--speaker-key", "folder", "--workers", "2", "--batch-size", "1"]) == 0
    rows = read_table(out)
    assert [r["path"] for r in rows] == files and [r["speaker"] for r in rows] == ["anna"] * 3 + ["ben"]
    for row in rows:
        want = expected[row["path"]]["probabilities"]
        assert {k[2:]: row[k] for k in row if k.startswith("p_")} == pytest.approx(want, abs=1e-3)


def test_adapt_for_varied_uses_the_varied_head_everywhere(probe_dir, tmp_path, capsys):
    """``adapt_for="varied"`` reaches the model's ``adapted-varied`` head from the Python API, the grouped predict
    and the batch table (its weights are replaced here so that the two adapted heads surely differ)."""
    import json
    import shutil

    from safetensors.numpy import load_file, save_file

    from avemo.batch.table import read_table
    from avemo.cli import main

    folder = tmp_path / "probe"
    shutil.copytree(probe_dir, folder)
    tensors = load_file(str(folder / "weights.safetensors"))
    tensors["adapted-varied.coef"] = np.zeros_like(tensors["adapted-varied.coef"])  # always the same answer
    tensors["adapted-varied.bias"] = np.arange(8, dtype=np.float32)
    save_file(tensors, str(folder / "weights.safetensors"))
    (tmp_path / "in" / "anna").mkdir(parents=True)
    files = []
    for k in range(3):
        files.append(str(tmp_path / "in" / "anna" / f"{k}.wav"))
        sf.write(files[-1], synth_voice(0.8, PITCHES[k + 2], SR, seed=k) * 0.4, SR)
    engine = InferenceEngine(folder, modalities=("speech",))
    predicted = {}
    for use in ("any", "varied"):
        adaptation = engine.speaker_adaptation(adapt_for=use)
        for path in files:
            adaptation.add_file(path)
        predicted[use] = adaptation.predict_file(files[0]).probabilities
    assert list(predicted["varied"].values()) != pytest.approx(list(predicted["any"].values()), abs=1e-3)
    (extractor,) = engine.speech.extractors.values()
    system = engine.speech.system
    x = system.speaker_residuals(np.stack([extractor.process_file(p) for p in files]), "varied")
    mean, std = adaptation.statistics()
    expected = system.predict_proba_adapted(x[:1], mean, std, 3, "varied")[0]
    assert list(predicted["varied"].values()) == pytest.approx(expected.tolist(), abs=1e-5)

    assert main(["predict", "--model", str(folder), "--speaker-key", "folder", "--adapt-for", "varied",
                 "--format", "json", *files]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["probabilities"] == pytest.approx(predicted["varied"], abs=1e-5)
    assert rows[0]["message"].startswith("speaker-adapted (varied)")
    out = tmp_path / "r.jsonl"
    assert main(["predict", str(tmp_path / "in"), "--output", str(out), "--model", str(folder),
                 "--speaker-key", "folder", "--adapt-for", "varied"]) == 0
    row = read_table(out)[0]
    assert {k[2:]: row[k] for k in row if k.startswith("p_")} == pytest.approx(predicted["varied"], abs=1e-3)
    capsys.readouterr()
    assert main(["predict", "--model", str(folder), "--adapt-for", "varied", files[0]]) == 2
    assert "give --speaker-key too" in capsys.readouterr().err


@pytest.fixture(scope="module")
def attentive_dir(tmp_path_factory):
    """A probe whose global head is attentive (it reads each clip's frames), trained on synthetic voices of two
    corpora (one pitch per class, a gain per speaker)."""
    from avemo.data.recipes import corpus_class_mask

    system = SpeechProbeSystem(model="tiny.en", layer_grid=[(1, 2, 3)], l2_grid=[1e-3], selection="loco",
                               global_heads=["attentive"], abstain_coverage=0.8)
    extractors = system.feature_extractors()
    xs, frames, ys, corpora, speakers = [], [], [], [], []
    for corpus in ("ravdess", "emovo"):
        for speaker in range(3):
            for label in np.flatnonzero(corpus_class_mask(corpus)):
                signal = synth_voice(0.8, PITCHES[label] * (1 + 0.04 * speaker), SR, seed=100 * speaker + label)
                signal = signal * (0.2 + 0.2 * speaker)
                xs.append(extractors["whisper_stats"].process_signal(signal, SR))
                frames.append(extractors["whisper_frames"].process_signal(signal, SR))
                ys.append(label)
                corpora.append(corpus)
                speakers.append(f"{corpus}:{speaker}")
    inputs = CorpusInputs.create(np.stack(xs), corpora, speakers, system.layers, frames)
    index = np.array([int(s.split(":")[1]) for s in speakers])
    system.fit(inputs, np.array(ys), (np.flatnonzero(index < 2), np.flatnonzero(index == 2)))
    return system.save(tmp_path_factory.mktemp("models") / "attentive")


def test_an_attentive_global_head_predicts_adapts_and_explains_through_the_engine(attentive_dir, tmp_path):
    from avemo.explain import explain_file

    engine = InferenceEngine(attentive_dir, modalities=("speech",))
    assert set(engine.speech.extractors) == {"whisper_stats", "whisper_frames"}
    paths = []
    for label in range(3):
        paths.append(tmp_path / f"s{label}.wav")
        sf.write(paths[-1], synth_voice(0.8, PITCHES[label] * 1.02, SR, seed=900 + label) * 0.5, SR)
    plain = engine.predict_file(paths[0])
    assert plain.status in ("ok", "uncertain") and len(plain.probabilities) == 8
    adaptation = engine.speaker_adaptation()
    before = adaptation.predict_file(paths[0])
    assert before.probabilities == pytest.approx(plain.probabilities, abs=1e-6)  # the attentive head until ready
    for path in paths:
        adaptation.add_file(path)
    after = adaptation.predict_file(paths[0])
    assert adaptation.ready and after.message == "speaker-adapted"
    assert after.probabilities != pytest.approx(plain.probabilities, abs=1e-6)
    doc = explain_file(engine, paths[0], tmp_path / "why")
    method = doc["methods"]["feature_groups"]
    assert doc["feature_groups"] and all(g["group"].endswith(" s") for g in doc["feature_groups"])  # stretches of time
    assert sum(g["shap"] for g in doc["feature_groups"]) == pytest.approx(method["logit"] - method["base"], abs=1e-3)
    assert "gradient x input" in method["note"]
    from avemo.shipping.probe_train import model_card

    system = engine.speech.system
    system.info["corpora"] = {c: {"n_recordings": 21, "n_speakers": 3} for c in ("ravdess", "emovo")}  # as trained
    card = model_card(system)  # the card says what the single-file head is
    assert "attentive statistics pooling over the clip's frames" in card and "frames of every layer" in card
