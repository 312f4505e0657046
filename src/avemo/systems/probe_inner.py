"""A fitted speech probe's global head scored by leave-one-corpus-out inside its training corpora, the same way
whatever its kind: the score the cross-corpus benchmark's recipe rule compares recipes by
(:data:`~avemo.benchmark.cross_corpus_tables.RECIPE_RULE`).

The head's recipe as it ships, with the layers, L2 strength and loss the nested rule chose, is refitted without each
training corpus in turn on the inner rows and applied to that corpus's inner rows:

- a softmax regression: its standardisation and the regression;
- an MLP: its standardisation, principal components and network
  (:func:`~avemo.systems.probe_mlp.held_out_corpus_logits`);
- an attentive head: its network on the frames. This is what its fit already computes to calibrate it
  (:meth:`~avemo.systems.probe_fitting.HeadFitting._attentive_choice`, on the same inner rows when its copies have
  frames), so its recorded score is taken.

The inner rows are those of the nested rule's inner loop: at most
:data:`~avemo.systems.transfer_selection.CELL_CAP` rows of each corpus and class among the fitted rows (the clips and
their training copies), and every validation row. The score is the mean over the inner corpora of each one's UA
(the argmax among its classes).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from avemo.systems import probe_mlp
from avemo.systems.probe_inputs import CorpusInputs
from avemo.systems.probe_stats import corpus_ua, fit_softmax_regression
from avemo.systems.transfer_selection import capped_rows, loss_masks
from avemo.systems.transfer_selection import softmax as _softmax


def inner_refit_ua(choice: Mapping[str, Any], inputs: CorpusInputs, y: np.ndarray, rows: np.ndarray,
                   va: np.ndarray, classes: Sequence[str], weights: Callable[[np.ndarray, np.ndarray], np.ndarray]
                   ) -> dict[str, Any]:
    """``{"ua": mean over the inner corpora, "ua_by_corpus": {corpus: UA}, "n_rows": inner rows}`` (UA as a
    fraction) of a global head, refitted as the module docstring says.

    Args:
        choice: what the nested rule chose for the head (its fit report: ``kind``, absent for a softmax regression;
            ``layers``, ``l2``, ``loss``; for an attentive head ``val_ua``, the score its fit computed).
        inputs: the rows (prepared as for fitting) and ``y`` their class indices.
        rows: the rows the head was fitted on (training and validation rows, with the training copies);
            ``va``: the validation rows among them.
        classes: the label set's classes; ``weights``: ``(corpus, y) -> (n,)`` training row weights.
    """
    kind = choice.get("kind", "linear")
    if kind == "attentive":  # its fit scored it so: the choice's held-out-corpus refits on the same inner rows
        return {"ua": float(choice["val_ua"]), "ua_by_corpus": None, "n_rows": None}
    rows = np.asarray(rows, np.int64)
    inner = np.union1d(rows[capped_rows(inputs.corpus[rows], y[rows])], va)
    x = inputs.take(inner).columns(choice["layers"])
    yy, corpus = y[inner], inputs.corpus[inner]
    mask = loss_masks(corpus, classes, choice["loss"])
    if kind == "mlp":
        logits = probe_mlp.held_out_corpus_logits(x, yy, mask, corpus, weights)
    else:
        logits = np.zeros((len(inner), len(classes)), np.float32)
        for name in np.unique(corpus):
            fit, held = corpus != name, corpus == name
            mean, std = x[fit].mean(0), np.maximum(x[fit].std(0), 1e-6)
            coef, bias = fit_softmax_regression((x[fit] - mean) / std, yy[fit], mask[fit],
                                                weights(corpus[fit], yy[fit]), choice["l2"])
            logits[held] = ((x[held] - mean) / std) @ coef.T + bias
    by_corpus = corpus_ua(yy, _softmax(logits), corpus, classes)
    return {"ua": float(np.mean(list(by_corpus.values()))), "ua_by_corpus": by_corpus, "n_rows": int(len(inner))}
