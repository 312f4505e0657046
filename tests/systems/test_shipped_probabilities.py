"""The shipped systems give the probabilities they gave when their folders were last converted: each one's outputs
on a fixed random input, compared with the reference in ``shipped_probabilities.json`` (written by running this
file as a script, ``python tests/systems/test_shipped_probabilities.py``, only when a shipped model is retrained).

The tolerance (:data:`ATOL`) is far below what any change to a model moves (a retrain moves them by 1e-3 and more)
and above what float32 arithmetic moves from one CPU's kernels to another's (about 1.5e-6 between the machine that
wrote the reference and an AMD EPYC)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from avemo.systems.base import load_system

REFERENCE = Path(__file__).with_name("shipped_probabilities.json")
ATOL = 1e-5


def _speech_multicorpus() -> dict[str, np.ndarray]:
    from avemo.systems.speech_probe import CorpusInputs

    system = load_system("speech-multicorpus")
    x = np.random.default_rng(0).normal(size=(6, 2 * system.width_ * len(system.layers))).astype(np.float32)
    rows = CorpusInputs.create(x, ["?"] * 6, ["a", "a", "a", "b", "b", "b"], system.layers)
    residuals = system.speaker_residuals(x[:3])
    return {"global": system.predict_proba(x), "adapted": system.predict_proba(rows, adapt=True),
            "adapted-varied": system.predict_proba(rows, adapt=True, adapt_for="varied"),
            "running": system.predict_proba_adapted(x[:3], residuals.mean(0), residuals.std(0), count=3)}


def _speech_ravdess() -> dict[str, np.ndarray]:
    system = load_system("speech-ravdess")
    dim = len(system.parts_[0].vector_scaler_.mean_) // 2
    rng = np.random.default_rng(1)
    features = {"whisper_layers": [rng.normal(size=(20 + 5 * k, dim)).astype(np.float32) for k in range(3)]}
    return {"combination": system.predict_proba(features)}


def _face(name: str):
    def compute() -> dict[str, np.ndarray]:
        system = load_system(name, engine="torch")
        images = np.random.default_rng(2).integers(0, 256, size=(3, 48, 48), dtype=np.uint8)
        out = {"tta": system.predict_proba(images), "centre": system.predict_proba(images, tta=False)}
        out.update({f"head {head}": system.predict_proba(images, head=head) for head in system.heads if head})
        return out
    return compute


def _av_ravdess_openface() -> dict[str, np.ndarray]:
    system = load_system("av-ravdess-openface")
    rng = np.random.default_rng(3)
    speech = rng.normal(size=(6, system.speech_coef_.shape[1])).astype(np.float32)
    au = rng.uniform(0, 3, size=(6, 35)).astype(np.float32)
    au[5] = np.nan
    inputs = system.inputs(speech, au, au_present=~np.isnan(au).any(1)).with_people(
        np.array(["p"] * 3 + ["q"] * 3, dtype=object))
    adapted, _ = system.adapted_proba(inputs)
    return {"fused": system.predict_proba(speech, au), "adapted": adapted["fused"]}


SHIPPED = {"speech-multicorpus": _speech_multicorpus, "speech-ravdess": _speech_ravdess,
           "face-fer2013": _face("face-fer2013"), "face-cnn-long": _face("face-cnn-long"),
           "av-ravdess-openface": _av_ravdess_openface}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_system_gives_its_reference_probabilities(name):
    reference = json.loads(REFERENCE.read_text())[name]
    outputs = SHIPPED[name]()
    assert sorted(outputs) == sorted(reference)
    for key, probs in outputs.items():
        np.testing.assert_allclose(probs, np.array(reference[key], dtype=np.float64), rtol=0, atol=ATOL,
                                   err_msg=f"{name} {key}")


if __name__ == "__main__":
    doc = {name: {k: np.asarray(v, np.float64).tolist() for k, v in compute().items()}
           for name, compute in SHIPPED.items()}
    REFERENCE.write_text(json.dumps(doc, indent=1) + "\n")
    sys.exit(0)
