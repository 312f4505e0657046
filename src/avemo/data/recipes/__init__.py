"""Corpus recipes: each turns a corpus folder in its published layout into a list of Recordings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from avemo.data.manifest import Recording, validate_manifest, write_manifest
from avemo.data.recipes.cremad import prepare_cremad
from avemo.data.recipes.emodb import prepare_emodb
from avemo.data.recipes.emovo import prepare_emovo
from avemo.data.recipes.fer2013 import prepare_fer2013
from avemo.data.recipes.ferplus import prepare_ferplus
from avemo.data.recipes.folder import prepare_folder
from avemo.data.recipes.nemo import prepare_nemo
from avemo.data.recipes.ased import prepare_ased
from avemo.data.recipes.ravdess import prepare_ravdess
from avemo.data.recipes.savee import prepare_savee
from avemo.data.recipes.skips import RecipeRecordings
from avemo.data.recipes.tess import prepare_tess
from avemo.data.recipes.turev import prepare_turev
from avemo.data.recipes.urdu import prepare_urdu
from avemo.errors import ParameterError

RECIPES: dict[str, Callable[..., list[Recording]]] = {
    "ravdess": prepare_ravdess,
    "cremad": prepare_cremad,
    "tess": prepare_tess,
    "emodb": prepare_emodb,
    "folder": prepare_folder,
    "fer2013": prepare_fer2013,
    "ferplus": prepare_ferplus,
    "nemo": prepare_nemo,
    "emovo": prepare_emovo,
    "turev": prepare_turev,
    "urdu": prepare_urdu,
    "savee": prepare_savee,
    "ased": prepare_ased,
}


def prepare(corpus: str, corpus_dir: str | os.PathLike, output: str | os.PathLike | None = None,
            **options) -> list[Recording]:
    """Run a corpus recipe, validate the result and optionally write it as a JSON-lines manifest.

    Recipes that skip bad entries (nemo, emovo, turev, urdu, savee, ased, cremad, ferplus) return a
    :class:`RecipeRecordings`: the list of recordings with ``.skipped`` (reason -> count); it is returned as is.

    Raises:
        ParameterError: for an unknown corpus name.
        CorpusError: when the folder holds no recognisable files.
    """
    if corpus not in RECIPES:
        raise ParameterError(f"unknown corpus {corpus!r}; choose one of {sorted(RECIPES)}")
    recordings = validate_manifest(RECIPES[corpus](Path(corpus_dir), **options))
    if output is not None:
        write_manifest(recordings, output)
    return recordings


__all__ = ["RECIPES", "prepare", "prepare_ravdess", "prepare_cremad", "prepare_tess", "prepare_emodb",
           "prepare_fer2013", "prepare_ferplus", "prepare_folder", "prepare_nemo", "prepare_emovo", "prepare_turev",
           "prepare_urdu", "prepare_savee", "prepare_ased", "RecipeRecordings"]
