"""One result schema for every front end (:mod:`avemo.inference.schema`, published at ``GET /v1/schema``): the
typed results' ``to_dict()``, ``avemo predict --format json``, the REST ``/v1/predict`` response and the batch
table's rows all validate against it, with the same names for the same fields."""

from __future__ import annotations

import json
import os
import shutil

import jsonschema
import pyarrow.parquet
import pytest
import soundfile as sf

from avemo.batch.run import BatchSettings, run_batch
from avemo.batch.table import read_table
from avemo.cli import main
from avemo.inference.engine import InferenceEngine
from avemo.inference.results import ModalityResult, Status
from avemo.inference.schema import PROBABILITY_PREFIX, BatchRow, PredictionOut, result_json_schema
from avemo.io.synth import synth_voice
from avemo.serve.app import ServeSettings, create_app

SR = 16000
#: Batch columns that a prediction result does not have (the rest share its field names).
BATCH_ONLY = {"error", "error_type", "speaker"}


@pytest.fixture(scope="module")
def media(tmp_path_factory, face_frame, talking_face) -> dict[str, str]:
    """A synthetic voice long enough for a timeline, a photo with a face, a talking-face video."""
    folder = tmp_path_factory.mktemp("media")
    sf.write(folder / "voice.wav", synth_voice(6.0, 150, SR), SR)
    shutil.copy(face_frame, folder / "face.jpg")
    shutil.copy(talking_face, folder / "talk.mp4")
    return {name: str(folder / file) for name, file in
            (("voice", "voice.wav"), ("face", "face.jpg"), ("video", "talk.mp4"))}


@pytest.fixture(scope="module")
def client(tiny_model_dir):
    from fastapi.testclient import TestClient

    app = create_app(ServeSettings(threads=1), lambda s: InferenceEngine(tiny_model_dir))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def validator(client) -> jsonschema.Draft202012Validator:
    """A validator of the JSON Schema the service publishes."""
    return jsonschema.Draft202012Validator(client.get("/v1/schema").json())


def check(validator: jsonschema.Draft202012Validator, doc: dict) -> None:
    """``doc`` is a valid result: by the published JSON Schema and by the pydantic model it is generated from."""
    validator.validate(doc)
    PredictionOut.model_validate(doc)


def test_the_published_schema_is_the_result_models_and_in_openapi(client, validator):
    schema = client.get("/v1/schema").json()
    assert schema == result_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]) == set(PredictionOut.model_fields)
    statuses = schema["properties"]["status"]["enum"]
    assert statuses == [str(status) for status in Status]  # every status a result can have, "uncertain" too
    openapi = client.get("/openapi.json").json()
    ok = openapi["paths"]["/v1/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/PredictionOut"} and "/v1/schema" in openapi["paths"]


def test_the_schema_refuses_other_field_names(validator):
    doc = ModalityResult(path="x.wav", probabilities={"happy": 0.7, "sad": 0.3}, duration=1.0).to_dict()
    check(validator, doc)
    renamed = {("label" if k == "emotion" else k): v for k, v in doc.items()}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(renamed)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**doc, "status": "maybe"})


@pytest.mark.parametrize("status", list(Status))
def test_every_status_validates(validator, status):
    probabilities = {"happy": 0.4, "sad": 0.6} if status in (Status.OK, Status.UNCERTAIN) else {}
    check(validator, ModalityResult(path="x.wav", probabilities=probabilities, duration=1.0, status=status,
                                    message="" if status == Status.OK else "why").to_dict())


def test_python_results(tiny_engine, media, validator):
    docs = [tiny_engine.predict_file(path).to_dict() for path in media.values()]
    docs.append(tiny_engine.predict_image_and_audio_files(media["face"], media["voice"]).to_dict())
    for doc in docs:
        check(validator, doc)
    assert [d["modality"] for d in docs] == ["speech", "face", "audio-visual", "audio-visual"]
    assert docs[0]["timeline"] and docs[1]["faces"] and docs[2]["modalities"]["face"]["frames"]
    assert set(docs[3]["modalities"]) == {"speech", "face"}


def test_cli_json(tiny_model_dir, media, validator, capsys):
    assert main(["predict", *media.values(), "--model", str(tiny_model_dir), "--format", "json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [doc["path"] for doc in lines] == list(media.values())
    for doc in lines:
        check(validator, doc)


def test_rest_predict(client, media, validator):
    for path in media.values():
        with open(path, "rb") as file:
            response = client.post("/v1/predict", files={"file": (os.path.basename(path), file.read())})
        assert response.status_code == 200
        check(validator, response.json())


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_batch_rows(tiny_model_dir, tiny_engine, media, tmp_path, suffix):
    folder = os.path.dirname(media["voice"])
    broken = tmp_path / "in" / "broken.wav"
    broken.parent.mkdir()
    broken.write_bytes(b"RIFF" + bytes(100))
    out = tmp_path / f"results{suffix}"
    run_batch([folder, broken.parent], out, BatchSettings(speech_model=str(tiny_model_dir)), progress=False)
    # what the table holds: JSON lines, or Parquet's typed columns (nulls as null; pandas would read them as NaN)
    rows = read_table(out) if suffix == ".jsonl" else pyarrow.parquet.read_table(out).to_pylist()
    row_validator = jsonschema.Draft202012Validator(BatchRow.model_json_schema())
    for row in rows:
        row_validator.validate(row)
        BatchRow.model_validate(row)
    assert [row["status"] for row in rows] == ["ok", "ok", "ok", "error"]
    # the shared columns carry a result's field names and values
    assert set(BatchRow.model_fields) - BATCH_ONLY <= set(PredictionOut.model_fields)
    voice = next(row for row in rows if row["path"] == media["voice"])
    doc = tiny_engine.predict_file(media["voice"]).to_dict()
    for name in set(BatchRow.model_fields) - BATCH_ONLY - {"timeline"}:
        same = voice[name] == (pytest.approx(doc[name]) if isinstance(doc[name], float) else doc[name])
        assert same, (name, voice[name], doc[name])
    assert {k.removeprefix(PROBABILITY_PREFIX): v for k, v in voice.items()
            if k.startswith(PROBABILITY_PREFIX)} == pytest.approx(doc["probabilities"])
    assert [(w["start"], w["end"], w["emotion"]) for w in voice["timeline"]] == \
        [(w["start"], w["end"], w["emotion"]) for w in doc["timeline"]]


def test_batch_rows_refuse_unknown_columns():
    row = {"path": "a.wav", "status": "ok", "emotion": "sad", "confidence": 0.6, "p_sad": 0.6, "p_happy": 0.4}
    BatchRow.model_validate(row)
    with pytest.raises(ValueError, match="label"):
        BatchRow.model_validate({**row, "label": "sad"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**row, "label": "sad"}, BatchRow.model_json_schema())
