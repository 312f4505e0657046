"""Corpus recipes: each turns a corpus folder in its published layout into a list of Recordings.

Each recipe module declares its corpus once (``CORPUS = Corpus(...)``, :mod:`avemo.data.recipes.registry`); the
tables here are read from those declarations.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from avemo.data.manifest import Recording, validate_manifest, write_manifest
from avemo.data.recipes.registry import (Corpus, CorpusTable, corpora, corpus_class_mask, corpus_classes,
                                         corpus_names, get_corpus)
from avemo.data.recipes.skips import RecipeRecordings

#: Corpus name -> its recipe, ``recipe(corpus_dir, **options)`` -> recordings.
RECIPES: CorpusTable[Callable[..., list[Recording]]] = CorpusTable(lambda c: c.prepare)


def prepare(corpus: str, corpus_dir: str | os.PathLike, output: str | os.PathLike | None = None,
            **options) -> list[Recording]:
    """Run a corpus recipe, validate the result and optionally write it as a JSON-lines manifest.

    Recipes that skip bad entries (nemo, emovo, turev, urdu, savee, ased, cremad, ferplus) return a
    :class:`RecipeRecordings`: the list of recordings with ``.skipped`` (reason -> count); it is returned as is.

    Raises:
        ParameterError: for an unknown corpus name.
        CorpusError: when the folder holds no recognisable files.
    """
    recordings = validate_manifest(get_corpus(corpus).prepare(Path(corpus_dir), **options))
    if output is not None:
        write_manifest(recordings, output)
    return recordings


__all__ = ["Corpus", "CorpusTable", "RECIPES", "RecipeRecordings", "corpora", "corpus_class_mask", "corpus_classes",
           "corpus_names", "get_corpus", "prepare"]
