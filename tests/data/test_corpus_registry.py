"""The corpus registry: a corpus declared by one module shows in every table (recipes, label classes, folders,
languages, licences, the CLI's choices), and what a declaration may not do."""

from __future__ import annotations

import importlib
import sys

import pytest

import avemo.data.recipes as recipes
from avemo.data.manifest import read_manifest
from avemo.data.recipes import (RECIPES, Corpus, corpora, corpus_class_mask, corpus_classes, corpus_names, get_corpus,
                                prepare)
from avemo.errors import ParameterError
from avemo.shipping.corpora import CORPUS_FOLDERS, LANGUAGES, corpus_folder
from avemo.shipping.probe_train import LICENCES

#: The whole of a toy corpus: ``<speaker>_<x|o>.wav``, x angry, o neutral.
TOY_MODULE = '''
from pathlib import Path

from avemo.data.manifest import Recording
from avemo.data.recipes.common import AUDIO_EXTENSIONS, media_files, require_some
from avemo.data.recipes.registry import Corpus
from avemo.labels import ANGRY, NEUTRAL

LABELS = {"x": ANGRY, "o": NEUTRAL}


def prepare_toy(corpus_dir):
    out = []
    for path in media_files(Path(corpus_dir), AUDIO_EXTENSIONS):
        speaker, code = path.stem.split("_")
        out.append(Recording(id=path.stem, path=str(path), corpus=CORPUS.name, speaker=speaker, emotion=LABELS[code]))
    return require_some(out, Path(corpus_dir), "<speaker>_<x|o>.wav")


CORPUS = Corpus(name="toy", prepare=prepare_toy, modalities=("speech",), labels=LABELS, folders=("toys", "toy"),
                language="Toki Pona", licence="CC0 1.0", speakers="2 made-up speakers", multi_corpus_order=99)
'''


@pytest.fixture()
def extra_modules(tmp_path, monkeypatch):
    """Write modules into a folder the recipes package also reads; returns ``write(name, source)``."""
    folder = tmp_path / "more_recipes"
    folder.mkdir()
    monkeypatch.setattr(recipes, "__path__", [*recipes.__path__, str(folder)])
    written = []

    def write(name: str, source: str) -> None:
        (folder / f"{name}.py").write_text(source)
        written.append(name)
        importlib.invalidate_caches()
        corpora.cache_clear()

    yield write
    for name in written:
        sys.modules.pop(f"{recipes.__name__}.{name}", None)
    corpora.cache_clear()


def test_a_toy_corpus_written_as_one_module_shows_everywhere(extra_modules, tmp_path):
    assert "toy" not in RECIPES
    extra_modules("toy", TOY_MODULE)
    toy = get_corpus("toy")
    assert RECIPES["toy"] is toy.prepare
    assert "toy" in corpus_names() and "toy" in corpus_names("speech") and "toy" not in corpus_names("face")
    assert corpus_classes("toy") == ("neutral", "angry")
    assert corpus_class_mask("toy").tolist() == [True, False, False, False, True, False, False, False]
    assert list(CORPUS_FOLDERS)[-1] == "toy" and CORPUS_FOLDERS["toy"] == ("toys", "toy")
    assert LANGUAGES["toy"] == "Toki Pona" and LICENCES["toy"] == "CC0 1.0"

    root = tmp_path / "data"
    for name in ("s1_x.wav", "s1_o.wav", "s2_x.wav"):
        (root / "toy" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "toy" / name).write_bytes(b"")
    assert corpus_folder(root, "toy") == root / "toy"
    recordings = prepare("toy", corpus_folder(root, "toy"), tmp_path / "toy.jsonl")
    assert [(r.speaker, r.emotion, r.corpus) for r in recordings] == [
        ("s1", "neutral", "toy"), ("s1", "angry", "toy"), ("s2", "angry", "toy")]
    assert read_manifest(tmp_path / "toy.jsonl") == recordings


def test_the_shipped_corpora_and_their_tables():
    assert corpus_names() == ("ased", "cremad", "emodb", "emovo", "fer2013", "ferplus", "folder", "nemo", "ravdess",
                              "savee", "tess", "turev", "urdu")
    assert corpus_names("face") == ("fer2013", "ferplus", "folder", "ravdess")
    assert corpus_names("audio-visual") == ("cremad", "folder", "ravdess")
    # the multi-corpus system's corpora, in the order its reports list them
    assert list(CORPUS_FOLDERS) == ["ravdess", "nemo", "emovo", "turev", "urdu", "cremad", "savee", "ased"]
    assert CORPUS_FOLDERS["ravdess"] == ("ravdess/speech16k", "ravdess")
    assert set(LICENCES) == set(corpus_names()) - {"folder"}
    assert set(LANGUAGES) == set(corpus_names("speech")) - {"folder"}
    for name, corpus in corpora().items():  # every label code maps into the classes the corpus lists
        assert set(corpus.labels.values()) == set(corpus.classes), name


def test_unknown_names_give_one_line_that_lists_the_known_ones(tmp_path):
    for call in (lambda: prepare("iemocap", tmp_path), lambda: get_corpus("iemocap"),
                 lambda: corpus_classes("iemocap"), lambda: corpus_folder(tmp_path, "iemocap")):
        with pytest.raises(ParameterError) as caught:
            call()
        assert "\n" not in str(caught.value) and "'iemocap'" in str(caught.value) and "'ravdess'" in str(caught.value)
    with pytest.raises(ParameterError, match="no label codes of its own"):
        corpus_classes("folder")
    with pytest.raises(ParameterError, match="no usual folder"):
        corpus_folder(tmp_path, "folder")
    with pytest.raises(ParameterError, match="no folder 'nemo'"):
        corpus_folder(tmp_path, "nemo")
    with pytest.raises(ParameterError, match="unknown modality"):
        corpus_names("smell")


def test_a_declaration_is_checked():
    def prepare_nothing(corpus_dir):
        return []

    with pytest.raises(ParameterError, match="modalities"):
        Corpus(name="x", prepare=prepare_nothing, modalities=("smell",))
    with pytest.raises(ParameterError, match="'x': labels .*'glad'"):
        Corpus(name="x", prepare=prepare_nothing, modalities=("speech",), labels={"g": "glad"})
    corpus = Corpus(name="x", prepare=prepare_nothing, modalities=("speech",), labels={"a": "angry"})
    with pytest.raises(TypeError):
        corpus.labels["b"] = "sad"  # frozen, labels included


def test_two_modules_may_not_declare_one_name(extra_modules):
    extra_modules("ravdess_again", TOY_MODULE.replace('name="toy"', 'name="ravdess"'))
    with pytest.raises(ParameterError, match="'ravdess' is already declared"):
        corpora()


def test_a_corpus_must_be_declared_as_a_corpus(extra_modules):
    extra_modules("stringly", 'CORPUS = "stringly"\n')
    with pytest.raises(ParameterError, match="CORPUS must be a registry.Corpus, got str"):
        corpora()
