"""The shipped systems' model cards: each one built again from its saved system (and, for the face model, the
committed benchmark report) is the committed MODEL_CARD.md, word for word; the card pieces they share."""

from __future__ import annotations

from pathlib import Path

import pytest

from avemo.shipping import av_train, face_train, probe_train, speech_train
from avemo.shipping.cards import card_text, closing_sections, cv_figure_lines, figures_section, pct, title
from avemo.systems.base import PRETRAINED_DIR, load_system

REPO = Path(__file__).resolve().parents[2]
BUILDERS = {"speech-ravdess": speech_train.model_card, "speech-multicorpus": probe_train.model_card,
            "av-ravdess-openface": av_train.model_card,
            # a face card's figures come from the benchmark report the model was shipped with (a path as given)
            "face-fer2013": lambda system: face_train.face_model_card(system, "reports/ferplus/summary.json"),
            "face-cnn-long": lambda system: face_train.face_model_card(system, "reports/fer2013/summary.json")}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_shipped_card_is_rebuilt_from_its_system(name, monkeypatch):
    monkeypatch.chdir(REPO)
    options = {"engine": "torch"} if name.startswith("face") else {}
    card = BUILDERS[name](load_system(name, **options))
    assert card == (PRETRAINED_DIR / name / "MODEL_CARD.md").read_text()


def test_card_pieces():
    assert pct(0.45678) == "45.7" and pct(1) == "100.0"
    assert title("m", "what it is") == ["# m", "", "what it is", ""]
    assert figures_section("Figures", []) == ["## Figures", "none recorded"]
    assert figures_section("Figures", [], "train with --cv-report R") == ["## Figures",
                                                                         "none recorded (train with --cv-report R)"]
    assert figures_section("Figures", ["- UA 50%"], "unused") == ["## Figures", "- UA 50%"]
    end = closing_sections("avemo train x", ["one", "two"], note="(note)")
    assert end == ["", "## Reproduce", "```", "avemo train x", "```", "(note)", "", "## Limits", "- one", "- two"]
    assert card_text(["# m", "x"]) == "# m\nx\n"
    cv = {"mean": {"ua": 0.5, "wa": 0.6, "macro_f1": 0.55}, "std": {"ua": 0.01, "wa": 0.02, "macro_f1": 0.03},
          "folds": [{"fold": "f1", "test_speakers": ["01", "02"], "ua": 0.5, "wa": 0.6, "macro_f1": 0.55}]}
    assert cv_figure_lines(cv)[0] == "- UA 50.0 ± 1.0%, WA 60.0 ± 2.0%, macro-F1 55.0 ± 3.0%"
    assert cv_figure_lines(cv)[-1] == "| f1 | 01 02 | 50.0 | 60.0 | 55.0 |"


def test_the_speech_card_says_when_its_abstention_figures_come_from_another_calibration():
    """A report whose MLP heads were calibrated by another `probe_mlp` version than the model's gets a note beside
    its abstention figures; the same version, or a model that does not record one, gets none."""
    cv = {"report": "r", "ravdess_6fold": {},
          "loco": {"x": {"mean_ua": 0.5, "std_ua": 0.0, "ua_by_corpus": {"nemo": 0.5},
                         "abstained_by_corpus": {"nemo": [0.2, 0.6]}}}}
    note = "calibrated as `probe_mlp` version 2 did; this model is calibrated as version 3 does"
    assert any(note in line for line in probe_train._cv_lines(cv, 3))  # a report that records none ran version 2
    assert any(note in line for line in probe_train._cv_lines({**cv, "mlp_version": 2}, 3))
    for same in (probe_train._cv_lines({**cv, "mlp_version": 3}, 3), probe_train._cv_lines(cv, 2),
                 probe_train._cv_lines(cv, None)):
        assert not any("calibrated as" in line for line in same)
