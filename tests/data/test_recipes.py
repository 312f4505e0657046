"""Corpus recipes on empty files named in each corpus's published layout, and the JSON-lines manifest."""

from __future__ import annotations

import json

import pytest

from avemo.data.manifest import Recording, read_manifest, validate_manifest, write_manifest
from avemo.data.recipes import RECIPES, prepare
from avemo.data.recipes.cremad import prepare_cremad
from avemo.data.recipes.emodb import prepare_emodb
from avemo.data.recipes.folder import prepare_folder
from avemo.data.recipes.ravdess import prepare_ravdess
from avemo.data.recipes.tess import prepare_tess
from avemo.errors import CorpusError, ParameterError


def touch(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return root


def by_id(recordings):
    return {r.id: r for r in recordings}


# ---- RAVDESS ---------------------------------------------------------------------------------------------------

@pytest.fixture()
def ravdess_dir(tmp_path):
    return touch(tmp_path / "RAVDESS",
                 "Actor_01/03-01-05-02-01-01-01.wav",   # audio-only speech, angry, strong, actor 1
                 "Actor_01/03-01-01-01-02-02-01.wav",   # audio-only speech, neutral
                 "Actor_02/03-01-08-01-01-02-02.wav",   # audio-only speech, surprised, actor 2 (female)
                 "Actor_01/03-02-03-01-01-01-01.wav",   # song
                 "Actor_01/01-01-04-02-02-01-01.mp4",   # audio-visual speech, sad
                 "Actor_01/02-01-04-02-02-01-01.mp4",   # video-only
                 # junk that must be ignored:
                 "Actor_01/03-01-09-01-01-01-01.wav",   # emotion 09 does not exist
                 "Actor_01/04-01-05-01-01-01-01.wav",   # modality 04 does not exist
                 "Actor_01/03-01-05-01-01-01.wav",      # one field short
                 "Actor_01/03-01-05-01-01-01-01.txt",   # not media
                 "Actor_01/.03-01-05-01-01-01-01.wav",  # hidden (macOS resource fork)
                 "Actor_01/notes.wav", "README.md")


def test_ravdess_labels_speaker_and_attributes(ravdess_dir):
    recs = prepare_ravdess(ravdess_dir)
    assert sorted(r.id for r in recs) == ["03-01-01-01-02-02-01", "03-01-05-02-01-01-01", "03-01-08-01-01-02-02"]
    r = by_id(recs)["03-01-05-02-01-01-01"]
    assert (r.corpus, r.speaker, r.emotion) == ("ravdess", "01", "angry")
    assert r.attributes == {"modality": "audio-only", "vocal_channel": "speech", "intensity": "strong",
                            "statement": 1, "repetition": 1, "gender": "male"}
    assert r.path == str((ravdess_dir / "Actor_01/03-01-05-02-01-01-01.wav").resolve())
    n = by_id(recs)["03-01-01-01-02-02-01"]
    assert (n.emotion, n.attributes["intensity"], n.attributes["statement"], n.attributes["repetition"]) == \
        ("neutral", "normal", 2, 2)
    s = by_id(recs)["03-01-08-01-01-02-02"]
    assert (s.speaker, s.emotion, s.attributes["gender"]) == ("02", "surprised", "female")


def test_ravdess_modality_and_channel_filters(ravdess_dir):
    with_song = prepare_ravdess(ravdess_dir, vocal_channels=("speech", "song"))
    assert len(with_song) == 4
    song = by_id(with_song)["03-02-03-01-01-01-01"]
    assert (song.emotion, song.attributes["vocal_channel"]) == ("happy", "song")
    av = prepare_ravdess(ravdess_dir, modalities=("audio-visual",))
    assert [r.id for r in av] == ["01-01-04-02-02-01-01"]
    assert av[0].emotion == "sad" and av[0].attributes["modality"] == "audio-visual"
    assert av[0].path.endswith(".mp4")
    video = prepare_ravdess(ravdess_dir, modalities=("video-only",))
    assert [r.id for r in video] == ["02-01-04-02-02-01-01"]
    both = prepare_ravdess(ravdess_dir, modalities=("audio-only", "audio-visual", "video-only"),
                           vocal_channels=("speech", "song"))
    assert len(both) == 6


def test_ravdess_bad_options_and_empty_folder(ravdess_dir, tmp_path):
    with pytest.raises(ParameterError, match="audio"):
        prepare_ravdess(ravdess_dir, modalities=("audio",))
    with pytest.raises(ParameterError):
        prepare_ravdess(ravdess_dir, vocal_channels=("singing",))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="03-01-05-01-02-01-12"):
        prepare_ravdess(tmp_path / "empty")
    with pytest.raises(CorpusError, match="not found"):
        prepare_ravdess(tmp_path / "nowhere")


# ---- CREMA-D, TESS, EmoDB ------------------------------------------------------------------------------------

def test_cremad(tmp_path):
    root = touch(tmp_path / "CREMA-D", "AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1091_IEO_HAP_HI.wav",
                 "AudioWAV/1002_TIE_NEU_X.wav", "VideoFlash/1001_DFA_ANG_XX.flv",  # same take as a video
                 "AudioWAV/1001_DFA_XYZ_XX.wav", "AudioWAV/1001_DFA_ANG_XX.txt", "AudioWAV/readme.wav")
    recs = by_id(prepare_cremad(root))
    assert sorted(recs) == ["1001_DFA_ANG_XX", "1002_TIE_NEU_X", "1091_IEO_HAP_HI"]
    a = recs["1001_DFA_ANG_XX"]
    assert (a.corpus, a.speaker, a.emotion) == ("cremad", "1001", "angry")
    assert a.attributes == {"sentence": "DFA", "intensity": "unspecified"}
    assert a.path.endswith("AudioWAV/1001_DFA_ANG_XX.wav")  # first copy in sorted path order
    assert recs["1091_IEO_HAP_HI"].emotion == "happy" and recs["1091_IEO_HAP_HI"].attributes["intensity"] == "high"
    assert recs["1002_TIE_NEU_X"].emotion == "neutral"
    videos = prepare_cremad(root, extensions=(".flv",))
    assert [r.path.endswith(".flv") for r in videos] == [True]


def test_tess(tmp_path):
    root = touch(tmp_path / "TESS", "OAF_angry/OAF_back_angry.wav", "YAF_pleasant_surprised/YAF_dog_ps.wav",
                 "OAF_Pleasant_surprise/OAF_bath_ps.wav", "YAF_neutral/YAF_youth_neutral.wav",
                 "OAF_Fear/OAF_bite_fear.wav", "YAF_disgust/YAF_bean_disgust.wav",
                 "junk/XAF_back_angry.wav", "junk/OAF_back_bored.wav")
    recs = by_id(prepare_tess(root))
    assert sorted(recs) == ["OAF_back_angry", "OAF_bath_ps", "OAF_bite_fear", "YAF_bean_disgust", "YAF_dog_ps",
                            "YAF_youth_neutral"]
    a = recs["OAF_back_angry"]
    assert (a.corpus, a.speaker, a.emotion, a.attributes) == ("tess", "OAF", "angry", {"word": "back"})
    assert recs["YAF_dog_ps"].emotion == "surprised" and recs["YAF_dog_ps"].speaker == "YAF"
    assert recs["OAF_bath_ps"].emotion == "surprised"
    assert recs["OAF_bite_fear"].emotion == "fearful"
    assert recs["YAF_bean_disgust"].emotion == "disgust"


def test_emodb(tmp_path):
    root = touch(tmp_path / "emodb", "wav/03a01Fa.wav", "wav/10b02La.wav", "wav/08a02Wb.wav", "wav/16b10Tb.wav",
                 "wav/03a01Xa.wav", "wav/3a01Fa.wav", "lablaut/03a01Fa.lbl")
    for folder in (root, root / "wav"):
        recs = by_id(prepare_emodb(folder))
        assert sorted(recs) == ["03a01Fa", "08a02Wb", "10b02La", "16b10Tb"]
    assert (recs["03a01Fa"].speaker, recs["03a01Fa"].emotion) == ("03", "happy")
    assert recs["03a01Fa"].attributes == {"text": "a01", "version": "a", "gender": "male"}
    assert (recs["10b02La"].emotion, recs["10b02La"].attributes["gender"]) == ("bored", "male")
    assert (recs["08a02Wb"].emotion, recs["08a02Wb"].attributes["gender"]) == ("angry", "female")
    assert recs["16b10Tb"].emotion == "sad"


@pytest.mark.parametrize("recipe,expected", [(prepare_cremad, "1001_DFA_ANG_XX"), (prepare_tess, "OAF_back_angry"),
                                             (prepare_emodb, "03a01Fa")])
def test_recipes_without_matching_files_raise_corpus_error(tmp_path, recipe, expected):
    touch(tmp_path, "a/b.wav", "c.flac")
    with pytest.raises(CorpusError, match=expected):
        recipe(tmp_path)


# ---- generic folder --------------------------------------------------------------------------------------------

def test_folder_recipe(tmp_path):
    root = touch(tmp_path / "mine", "Anger/x.wav", "happy/sub/spk7_y.flac", "Pleasant Surprise/z.mp4",
                 "sadness/spk2_w.wav", "loose_file.wav", "Anger/notes.txt")
    recs = by_id(prepare_folder(root))
    assert sorted(recs) == ["Anger/x", "Pleasant Surprise/z", "happy/sub/spk7_y", "sadness/spk2_w"]
    assert recs["Anger/x"].emotion == "angry" and recs["Anger/x"].speaker == "unknown"
    assert recs["happy/sub/spk7_y"].emotion == "happy"
    assert recs["Pleasant Surprise/z"].emotion == "surprised"
    assert recs["sadness/spk2_w"].emotion == "sad"
    assert {r.corpus for r in recs.values()} == {"folder"}


def test_folder_recipe_speaker_pattern(tmp_path):
    root = touch(tmp_path / "mine", "happy/spk7_y.wav", "sad/spk2_w.wav")
    recs = by_id(prepare_folder(root, speaker_pattern=r"spk(\d+)"))
    assert recs["happy/spk7_y"].speaker == "7" and recs["sad/spk2_w"].speaker == "2"
    with pytest.raises(CorpusError, match="does not match"):
        prepare_folder(root, speaker_pattern=r"actor(\d+)")
    with pytest.raises(ParameterError, match="speaker_pattern"):
        prepare_folder(root, speaker_pattern=r"spk(\d+")


def test_folder_recipe_errors(tmp_path):
    touch(tmp_path / "bad", "Anger/x.wav", "Zebra/z.wav")
    with pytest.raises(CorpusError, match="Zebra"):
        prepare_folder(tmp_path / "bad")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError):
        prepare_folder(tmp_path / "empty")
    touch(tmp_path / "flat", "x.wav", "y.wav")
    with pytest.raises(CorpusError):
        prepare_folder(tmp_path / "flat")


def test_folder_recipe_images_only_when_asked(tmp_path):
    root = touch(tmp_path / "faces", "happy/a.jpg", "sad/b.png", "sad/c.wav")
    assert [r.id for r in prepare_folder(root)] == ["sad/c"]
    assert sorted(r.id for r in prepare_folder(root, include_images=True)) == ["happy/a", "sad/b", "sad/c"]


# ---- prepare() and the manifest ----------------------------------------------------------------------------------

def test_prepare_writes_a_manifest_that_reads_back(ravdess_dir, tmp_path):
    out = tmp_path / "out" / "ravdess.jsonl"
    recs = prepare("ravdess", ravdess_dir, out, vocal_channels=("speech", "song"))
    lines = out.read_text().splitlines()
    assert len(lines) == len(recs) == 4
    assert json.loads(lines[0])["corpus"] == "ravdess"
    back = read_manifest(out)
    assert back == recs
    assert set(RECIPES) == {"ravdess", "cremad", "tess", "emodb", "fer2013", "ferplus", "folder", "nemo", "emovo",
                            "turev", "urdu", "savee", "ased"}


def test_prepare_unknown_corpus(tmp_path):
    with pytest.raises(ParameterError, match="iemocap"):
        prepare("iemocap", tmp_path)


def test_manifest_round_trip_keeps_unicode_and_attributes(tmp_path):
    recs = [Recording("a", str(tmp_path / "ä.wav"), "folder", "spk1", "happy", {"x": [1, 2], "note": "é"}),
            Recording("b", str(tmp_path / "b.wav"), "folder", "spk2", "sad")]
    path = write_manifest(recs, tmp_path / "m.jsonl")
    assert read_manifest(path) == recs
    assert "ä.wav" in path.read_text(encoding="utf-8")


def test_read_manifest_errors(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        read_manifest(tmp_path / "missing.jsonl")
    good = json.dumps(Recording("a", "/x.wav", "c", "s", "happy").to_dict())
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good + "\n\n{not json\n")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:3"):
        read_manifest(bad)
    incomplete = tmp_path / "incomplete.jsonl"
    incomplete.write_text(json.dumps({"id": "a", "path": "/x.wav"}) + "\n")
    with pytest.raises(CorpusError, match="lacks"):
        read_manifest(incomplete)
    not_object = tmp_path / "list.jsonl"
    not_object.write_text("[1, 2]\n")
    with pytest.raises(CorpusError):
        read_manifest(not_object)


def test_validate_manifest(tmp_path):
    touch(tmp_path, "a.wav", "b.wav")
    a = Recording("a", str(tmp_path / "a.wav"), "c", "s", "happy")
    b = Recording("b", str(tmp_path / "b.wav"), "c", "s", "sad")
    assert validate_manifest([a, b]) == [a, b]
    with pytest.raises(CorpusError, match="no recordings"):
        validate_manifest([])
    with pytest.raises(CorpusError, match="duplicate"):
        validate_manifest([a, b, a])
    with pytest.raises(CorpusError, match="gone.wav"):
        validate_manifest([a, Recording("g", str(tmp_path / "gone.wav"), "c", "s", "sad")])
