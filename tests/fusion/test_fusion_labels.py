"""Valence/arousal coordinates and mapping between label sets."""

import numpy as np
import pytest
import torch

from avemo.errors import ParameterError
from avemo.labels import (LABEL_SETS, VALENCE_AROUSAL, label_mapping_matrix, to_common_label_set,
                          valence_arousal)


def test_valence_arousal_of_single_emotion():
    assert valence_arousal({"happy": 1.0}) == pytest.approx(VALENCE_AROUSAL["happy"])
    assert valence_arousal({"anger": 2.0}) == pytest.approx(VALENCE_AROUSAL["angry"])  # renormalised, synonym


def test_valence_arousal_table_sane():
    for name in ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "bored"):
        v, a = VALENCE_AROUSAL[name]
        assert -1 <= v <= 1 and -1 <= a <= 1
    assert VALENCE_AROUSAL["happy"][0] > 0 > VALENCE_AROUSAL["sad"][0]
    assert VALENCE_AROUSAL["angry"][1] > VALENCE_AROUSAL["sad"][1]
    assert VALENCE_AROUSAL["calm"][1] < VALENCE_AROUSAL["surprised"][1]


def test_valence_arousal_mixture_and_errors():
    v, a = valence_arousal({"happy": 0.5, "sad": 0.5})
    assert v == pytest.approx((VALENCE_AROUSAL["happy"][0] + VALENCE_AROUSAL["sad"][0]) / 2)
    with pytest.raises(ParameterError):
        valence_arousal({"happy": -0.1})
    # a class without a lexicon entry sits at its fallback's point: a ferplus8 face model's contempt at disgust's
    assert valence_arousal({"contempt": 1.0}) == pytest.approx(VALENCE_AROUSAL["disgust"])
    with pytest.raises(ParameterError, match="unknown emotion name 'jealous'"):
        valence_arousal({"jealous": 1.0})
    with pytest.raises(ParameterError):
        valence_arousal({})


def test_ravdess_to_fer_folds_calm_into_neutral():
    src, tgt = LABEL_SETS["ravdess8"], LABEL_SETS["fer7"]
    p = np.zeros(8)
    p[src.index("calm")] = 0.6
    p[src.index("neutral")] = 0.1
    p[src.index("angry")] = 0.3
    out = to_common_label_set(p, "ravdess8", "fer7")
    assert out.shape == (7,)
    assert out[tgt.index("neutral")] == pytest.approx(0.7)
    assert out[tgt.index("angry")] == pytest.approx(0.3)
    assert out.sum() == pytest.approx(1.0)
    t = to_common_label_set(torch.tensor(np.stack([p, p])), src, tgt)
    assert isinstance(t, torch.Tensor) and t.shape == (2, 7)


def test_unmapped_classes():
    m = label_mapping_matrix("emodb7", "fer7")
    assert m[LABEL_SETS["emodb7"].index("bored")].sum() == 0
    p = np.full(7, 1 / 7)
    out = to_common_label_set(p, "emodb7", "fer7")
    assert out.sum() == pytest.approx(1.0) and out[LABEL_SETS["fer7"].index("surprised")] == 0
    with pytest.raises(ParameterError):
        to_common_label_set(p, "emodb7", "fer7", unmapped="error")
    with pytest.raises(ParameterError):
        to_common_label_set(np.ones(5) / 5, "ravdess8", "fer7")
