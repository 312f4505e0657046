"""The PyTorch Whisper encoder reproduces CTranslate2's output; layer selection; silence trimming."""

from __future__ import annotations

import numpy as np
import pytest

from avemo.errors import ParameterError
from avemo.features import create_extractor
from avemo.features.base import trim_silence
from avemo.io.synth import synth_voice


@pytest.fixture(scope="module")
def voice():
    return synth_voice(2.0)


def test_last_layer_matches_ctranslate2(voice):
    ct2 = create_extractor("whisper", compute_type="float32").process_signal(voice, 16000)
    ours = create_extractor("whisper_layers", layers=[4]).process_signal(voice, 16000)
    assert ours.shape == ct2.shape == (100, 384)
    cos = np.sum(ours * ct2, 1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ct2, axis=1)
    assert cos.min() > 0.999


def test_layer_selection_shapes(voice):
    concat = create_extractor("whisper_layers", layers=[2, 3, 4]).process_signal(voice, 16000)
    mean = create_extractor("whisper_layers", layers=[2, 3, 4], combine="mean").process_signal(voice, 16000)
    assert concat.shape == (100, 1152) and mean.shape == (100, 384)
    np.testing.assert_allclose(mean, (concat[:, :384] + concat[:, 384:768] + concat[:, 768:]) / 3, atol=1e-4)


@pytest.mark.parametrize("settings", [{"layers": [5]}, {"layers": []}, {"combine": "max"}, {"max_chunk": 40}])
def test_bad_settings(settings):
    with pytest.raises(ParameterError):
        create_extractor("whisper_layers", **settings)


def test_trim_silence_cuts_quiet_edges(voice):
    padded = np.concatenate([np.zeros(16000, np.float32), voice, np.zeros(8000, np.float32)])
    trimmed = trim_silence(padded, 40, 16000)
    assert abs(len(trimmed) - len(voice)) < 0.1 * 16000
    assert len(trim_silence(np.zeros(16000, np.float32), 40, 16000)) >= 0.25 * 16000


def test_trimmed_extractor_has_its_own_cache_key(voice):
    plain, trimmed = create_extractor("egemaps"), create_extractor("egemaps", trim_db=30)
    assert "trim_db" not in plain.cache_key() and trimmed.cache_key()["trim_db"] == 30
    padded = np.concatenate([np.zeros(16000, np.float32), voice])
    assert not np.allclose(plain.process_signal(padded, 16000), trimmed.process_signal(padded, 16000))
