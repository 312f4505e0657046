"""The walk the corpus recipes share (avemo.data.recipes.common): its skip rules in order, with their wording and
counts, what a recipe adds (its own rules, the key of a take, the recording it keeps), and named_files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from avemo.data.recipes.common import CorpusWalk, named_files
from avemo.errors import CorpusError
from avemo.labels import ANGRY, HAPPY, NEUTRAL
from tests.data.test_recipes import touch

#: ``<code><speaker>_<n>``: a label letter, a speaker number, a take number.
NAME = re.compile(r"^([a-z])(\d+)_(\d+)$", re.IGNORECASE)
LABELS = {"a": ANGRY, "h": HAPPY, "n": NEUTRAL}


def walk_all(walk: CorpusWalk, own_rule=None):
    """Keep every take the walk yields (speaker = the number in the name), unless ``own_rule(take)`` says why not."""
    for take in walk:
        reason = own_rule(take) if own_rule else None
        if reason:
            walk.skip(take, reason)
            continue
        walk.keep(take, recording_id=take.path.stem, speaker=take.match.group(2), attributes={"n": take.match.group(3)})
    return walk.finish("<class>/<code><speaker>_<n>.wav")


def test_class_folders_and_codes_in_the_name(tmp_path):
    touch(tmp_path, "01Angry/a1_1.wav", "Happy/H2_1.ogg", "joy/h3_1.wav",   # a leading number, any case, a synonym
          "a1_2.wav",                      # not in a folder
          "Calm/a1_3.wav",                 # a folder of a class the corpus lacks
          "Angry/notes.wav",               # unreadable name
          "Angry/x1_4.wav",                # unknown label letter
          "Angry/h1_5.wav",                # the letter of another class than the folder's
          "01Angry/a1_1.ogg",              # the same take as Ogg (sorted before the WAV)
          "Angry/a1_6.txt", "Angry/.a1_7.wav")  # no audio extension, hidden: not looked at
    recs = walk_all(CorpusWalk("toy", tmp_path, NAME, LABELS, code_group=1, class_folders="Angry, Happy, Neutral"))
    assert [(r.id, r.emotion, r.speaker, r.corpus, r.attributes) for r in recs] == [
        ("a1_1", "angry", "toy:1", "toy", {"n": "1"}), ("H2_1", "happy", "toy:2", "toy", {"n": "1"}),
        ("h3_1", "happy", "toy:3", "toy", {"n": "1"})]
    assert recs[0].path == str((tmp_path / "01Angry/a1_1.ogg").resolve())  # the first copy in sorted order
    assert recs.skipped == {"not in a class folder (Angry, Happy, Neutral)": 2, "unrecognised file name": 1,
                            "unknown label code": 1, "label letter disagrees with the folder": 1,
                            "same take in another format": 1}
    assert recs.skipped_examples["same take in another format"] == [str(Path("01Angry/a1_1.wav"))]


def test_folder_names_as_label_codes(tmp_path):
    """Without a code in the name, the folder name is the label code: only the corpus's own folder names count."""
    touch(tmp_path, "Angry/a1_1.wav", "NEUTRAL/x2_1.wav", "01Angry/a1_2.wav", "anger/a1_3.wav", "a1_4.wav")
    recs = walk_all(CorpusWalk("toy", tmp_path, NAME, {"angry": ANGRY, "neutral": NEUTRAL},
                               class_folders="Angry, Neutral"))
    assert [(r.id, r.emotion) for r in recs] == [("a1_1", "angry"), ("x2_1", "neutral")]
    assert recs.skipped == {"not in a class folder (Angry, Neutral)": 3}


def test_own_rules_keys_and_file_names(tmp_path):
    """Without class folders or a code group the walk only matches names; a recipe's own rule, its key of a take
    (here: the stem, so the same name in two folders is one take) and naming skipped files by file name."""
    touch(tmp_path, "s1/a1_1.wav", "s2/a1_1.wav", "s2/h9_1.wav", "s2/bad.wav", "s3/x1_1.wav")
    walk = CorpusWalk("toy", tmp_path, NAME, LABELS, relative_names=False)
    for take in walk:
        assert take.emotion is None
        if take.match.group(2) == "9":
            walk.skip(take, "speaker 9 left out")
            continue
        emotion = walk.label(take, take.match.group(1))
        if emotion is not None:
            walk.keep(take, recording_id=take.path.stem, speaker="1", attributes={}, emotion=emotion,
                      key=take.path.stem)
    recs = walk.finish("x")
    assert [(r.id, r.emotion, r.path.endswith(str(Path("s1/a1_1.wav")))) for r in recs] == [("a1_1", "angry", True)]
    assert recs.skipped == {"same take in another format": 1, "speaker 9 left out": 1, "unrecognised file name": 1,
                            "unknown label code": 1}
    assert recs.skipped_examples == {"same take in another format": ["a1_1.wav"], "speaker 9 left out": ["h9_1.wav"],
                                     "unrecognised file name": ["bad.wav"], "unknown label code": ["x1_1.wav"]}


def test_nothing_kept_says_what_was_expected_and_skipped(tmp_path):
    touch(tmp_path, "Angry/notes.wav")
    with pytest.raises(CorpusError, match=r"no toy recordings found \(skipped 1 unrecognised file name .*\); "
                                          r"expected <class>/<code>") as err:
        walk_all(CorpusWalk("toy", tmp_path, NAME, LABELS, code_group=1, class_folders="Angry"))
    assert "\n" not in str(err.value)
    with pytest.raises(CorpusError, match="corpus folder not found"):
        walk_all(CorpusWalk("toy", tmp_path / "missing", NAME, LABELS))


def test_named_files_passes_over_other_names(tmp_path):
    touch(tmp_path, "b/a1_2.flac", "a1_1.wav", "notes.wav", "a1_3.txt")
    found = [(path.name, m.group(3)) for path, m in named_files(tmp_path, NAME)]
    assert found == [("a1_1.wav", "1"), ("a1_2.flac", "2")]
    assert [path.name for path, _ in named_files(tmp_path, NAME, {".wav"})] == ["a1_1.wav"]
