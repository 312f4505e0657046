"""Skipping bad entries of a corpus without stopping: count them by reason, log one warning, tell the caller.

A recipe that meets a missing file, an unknown label code or an unreadable name skips it and goes on. It
returns a :class:`RecipeRecordings` — a plain ``list`` of :class:`Recording` s that also carries ``skipped``
(reason → count) and ``skipped_examples`` (reason → first few offending names), so callers that only want the
list are unaffected and callers that care (the CLI, a benchmark) can report the counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from avemo.data.manifest import Recording
from avemo.errors import CorpusError

log = logging.getLogger("avemo.data.recipes")

#: How many offending names are kept per reason.
MAX_EXAMPLES = 3


class RecipeRecordings(list):
    """The recordings a recipe found, plus what it skipped.

    Attributes:
        corpus: the corpus name.
        skipped: reason → number of entries skipped for that reason (empty when nothing was skipped).
        skipped_examples: reason → up to three of the skipped names.
    """

    def __init__(self, recordings=(), corpus: str = "", skipped: dict[str, int] | None = None,
                 skipped_examples: dict[str, list[str]] | None = None) -> None:
        super().__init__(recordings)
        self.corpus = corpus
        self.skipped: dict[str, int] = dict(skipped or {})
        self.skipped_examples: dict[str, list[str]] = dict(skipped_examples or {})

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


class SkipLog:
    """Collects the entries a recipe skips, by reason."""

    def __init__(self, corpus: str) -> None:
        self.corpus = corpus
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def skip(self, reason: str, name: str) -> None:
        """Record that ``name`` (a file or a table row) was skipped because of ``reason``."""
        self.counts[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(name)

    def summary(self) -> str:
        """``"3 missing file (e.g. a.wav, b.wav); 1 unknown label code (e.g. x.ogg)"``."""
        return "; ".join(f"{n} {reason} (e.g. {', '.join(self.examples[reason])})"
                         for reason, n in self.counts.most_common())

    def finish(self, recordings: list[Recording], root: Path, expected: str) -> RecipeRecordings:
        """Wrap the recordings with the skip counts, warning once when anything was skipped.

        Raises:
            CorpusError: when nothing was recognised; the one-line message shows the expected layout (and what
                was skipped, if anything).
        """
        if not recordings:
            skipped = f" (skipped {self.summary()})" if self.counts else ""
            raise CorpusError(f"{root}: no {self.corpus} recordings found{skipped}; expected {expected}")
        if self.counts:
            log.warning("%s: skipped %d of %d entries: %s", self.corpus, sum(self.counts.values()),
                        sum(self.counts.values()) + len(recordings), self.summary())
        return RecipeRecordings(recordings, corpus=self.corpus, skipped=dict(self.counts),
                                skipped_examples={k: list(v) for k, v in self.examples.items()})
