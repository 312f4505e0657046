"""The corpus registry: each recipe module declares its corpus once, and every table about corpora is read from here.

A module of :mod:`avemo.data.recipes` that defines a module-level ``CORPUS = Corpus(...)`` is a corpus; the others
(``common``, ``skips``, this one) are helpers. The recipes (``RECIPES``), each corpus's label codes and classes, its
folders under a data root, its language and licence (for model cards) and the CLI's corpus choices
(:func:`corpus_names`) all come from those declarations, so adding a corpus is writing one module.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, Mapping, TypeVar

from avemo.errors import ParameterError
from avemo.labels import canonical_order, class_mask
from avemo.modalities import Modality

if TYPE_CHECKING:
    import numpy as np

    from avemo.data.manifest import Recording

PACKAGE = __name__.rpartition(".")[0]


@dataclass(frozen=True)
class Corpus:
    """One corpus, as its recipe module declares it.

    Attributes:
        name: what ``prepare(name, ...)`` and :attr:`Recording.corpus` call it.
        prepare: the recipe, ``prepare(corpus_dir, **options)`` -> its recordings (a list of :class:`Recording`).
        modalities: what its recordings hold (:class:`~avemo.modalities.Modality` values: ``speech``, ``face``,
            ``audio-visual``).
        labels: the corpus's own label codes -> canonical emotion names (:mod:`avemo.labels`); empty when its files
            name the emotions in words (``folder``).
        folders: where it lives under a data root such as ``../shared/data`` (the first that exists is used); empty
            when it has no usual place.
        language: the spoken language, for model cards (empty for faces).
        licence: its licence, for model cards.
        speakers: who is recorded, in words.
        multi_corpus_order: its place among the acted-speech corpora that the multi-corpus speech system and the
            cross-corpus benchmark read (``avemo.shipping.corpora.CORPUS_FOLDERS``, in this order); None when it
            is not one of them.

    Raises:
        ParameterError: for a modality that is not a :class:`Modality`, or a label that is not a canonical name.
    """

    name: str
    prepare: Callable[..., list[Recording]]
    modalities: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    folders: tuple[str, ...] = ()
    language: str = ""
    licence: str = ""
    speakers: str = ""
    multi_corpus_order: int | None = None

    def __post_init__(self) -> None:
        known = {m.value for m in Modality}
        unknown = sorted(set(self.modalities) - known)
        if unknown or not self.modalities:
            raise ParameterError(f"corpus {self.name!r}: modalities {list(self.modalities)} must be some of "
                                 f"{sorted(known)}")
        try:
            canonical_order(self.labels.values())
        except ParameterError as exc:
            raise ParameterError(f"corpus {self.name!r}: labels {exc}") from None
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

    @property
    def classes(self) -> tuple[str, ...]:
        """The canonical classes it has labels for (the values of :attr:`labels`), in ravdess8 order."""
        return canonical_order(self.labels.values())


@functools.cache
def corpora() -> Mapping[str, Corpus]:
    """Every corpus declared by a module of :mod:`avemo.data.recipes`, by name (sorted). Read once;
    ``corpora.cache_clear()`` reads the package again.

    Raises:
        ParameterError: when two modules declare the same name, or a module's ``CORPUS`` is not a :class:`Corpus`.
    """
    found: dict[str, Corpus] = {}
    for module in pkgutil.iter_modules(importlib.import_module(PACKAGE).__path__):
        declared = getattr(importlib.import_module(f"{PACKAGE}.{module.name}"), "CORPUS", None)
        if declared is None:
            continue  # a helper module
        if not isinstance(declared, Corpus):
            raise ParameterError(f"{PACKAGE}.{module.name}: CORPUS must be a registry.Corpus, got "
                                 f"{type(declared).__name__}")
        if declared.name in found:
            raise ParameterError(f"{PACKAGE}.{module.name}: corpus name {declared.name!r} is already declared; "
                                 "give each corpus module its own name")
        found[declared.name] = declared
    return MappingProxyType(dict(sorted(found.items())))


def get_corpus(name: str) -> Corpus:
    """The corpus called ``name``.

    Raises:
        ParameterError: for an unknown name; the message lists the known ones.
    """
    known = corpora()
    if name not in known:
        raise ParameterError(f"unknown corpus {name!r}; choose one of {sorted(known)}")
    return known[name]


def corpus_names(modality: str | None = None) -> tuple[str, ...]:
    """The corpus names (sorted), or those whose recordings hold ``modality`` (``speech``, ``face``,
    ``audio-visual``): the CLI's corpus choices.

    Raises:
        ParameterError: for an unknown modality.
    """
    if modality is not None and modality not in {m.value for m in Modality}:
        raise ParameterError(f"unknown modality {modality!r}; choose one of {[m.value for m in Modality]}")
    return tuple(name for name, c in corpora().items() if modality is None or modality in c.modalities)


def corpus_classes(corpus: str) -> tuple[str, ...]:
    """The canonical classes a corpus has labels for (the values of its label map), in ravdess8 order.

    This is the one place that says which classes a corpus covers: a multi-corpus trainer masks every other
    class for that corpus's recordings (a corpus without "calm" must not teach that nothing is calm), and a
    cross-corpus test scores the argmax among these classes only.

    Raises:
        ParameterError: for an unknown corpus, or one whose files name their emotions in words (``folder``).
    """
    classes = get_corpus(corpus).classes
    if not classes:
        raise ParameterError(f"corpus {corpus!r} has no label codes of its own (its files name the emotions); "
                             f"choose one of {[n for n, c in corpora().items() if c.labels]}")
    return classes


def corpus_class_mask(corpus: str, labels: str | tuple[str, ...] | list[str] = "ravdess8") -> np.ndarray:
    """Boolean vector over ``labels`` (a label-set name or a sequence of emotion names): True for the classes
    :func:`corpus_classes` says the corpus has. Classes of the corpus that ``labels`` lacks are ignored.

    Raises:
        ParameterError: for an unknown corpus or label set.
    """
    return class_mask(corpus_classes(corpus), labels)


V = TypeVar("V")


class CorpusTable(Mapping[str, V], Generic[V]):
    """A read-only table, corpus name -> one thing about it (``value(corpus)``), read from the registry at each use
    so a corpus declared later shows. Corpora whose value is None or empty are left out.

    Args:
        value: what the table holds for a corpus.
        order: sort key of a corpus (default: its name).
    """

    def __init__(self, value: Callable[[Corpus], V | None], order: Callable[[Corpus], Any] | None = None) -> None:
        self._value = value
        self._order = order or (lambda c: c.name)

    def _rows(self) -> dict[str, V]:
        rows = [(c, self._value(c)) for c in corpora().values()]
        return {c.name: v for c, v in sorted(((c, v) for c, v in rows if v), key=lambda row: self._order(row[0]))}

    def __getitem__(self, name: str) -> V:
        return self._rows()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())

    def __repr__(self) -> str:
        return f"CorpusTable({self._rows()!r})"
