"""Tables of the cross-corpus report (:mod:`avemo.benchmark.cross_corpus`) about its choices: what the nested rule
chose in each outer fold, and which recipe ships by :data:`RECIPE_RULE`."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from avemo.shipping.cards import pct

#: How the recipe to ship is chosen among the systems the nested rule fitted (written before any variant's figures
#: were seen).
RECIPE_RULE = ("Which recipe ships (written before any variant's figures were seen): among the systems whose global "
               "head the nested rule chose, the one with the highest inner leave-one-corpus-out UA of its chosen "
               "candidate, averaged over the outer folds; the test UA beside it plays no part. The inner UA is scored "
               "on the inner held-out corpora's clips and their training copies (so systems trained on different "
               "copies are scored on slightly different rows).")


def recipe_table(loco: Mapping[str, Any], adapted_suffixes: Sequence[str]) -> list[str]:
    """Markdown lines: every nested-rule system's mean inner (validation) UA beside its mean test UA, and which
    recipe :data:`RECIPE_RULE` picks; none when fewer than two systems have inner scores. ``loco``: the summary's
    leave-one-corpus-out systems; names ending in ``adapted_suffixes`` (adapted heads) are left out."""
    inner = {n: [f["choices"]["val_ua"] for f in e["folds"]] for n, e in loco.items()
             if not n.endswith(tuple(adapted_suffixes)) and e["folds"]
             and all({"loco_by_loss", "val_ua"} <= set(f.get("choices", {})) for f in e["folds"])}
    if len(inner) < 2:
        return []
    best = max(inner, key=lambda n: np.mean(inner[n]))
    rows = [f"| {n} | {pct(np.mean(v))} | {pct(np.mean([f['ua'] for f in loco[n]['folds']]))} |"
            for n, v in sorted(inner.items(), key=lambda kv: -np.mean(kv[1]))]
    return [RECIPE_RULE, "", "| system (global head) | inner UA % (validation) | test UA % |", "|---|---|---|", *rows,
            "", f"By this rule the recipe to ship is `{best}`."]


def choices_table(loco: Mapping[str, Any], systems: Sequence[str]) -> str:
    """What the nested rule chose for each outer fold of ``systems`` (global heads): the loss, layers, L2
    and every loss's best inner leave-one-corpus-out UA."""
    rows = []
    for name in systems:
        entry = loco.get(name)
        if not entry:
            continue
        for f in entry["folds"]:
            c = f["choices"]
            if "loco_by_loss" not in c:
                continue
            inner = ", ".join(f"{loss} {pct(v)}" for loss, v in c["loco_by_loss"].items())
            rows.append(f"| {name} | {f['test_corpus']} | {c.get('loss')} | {c.get('layers')} | {c.get('l2')} | "
                        f"{inner} | {pct(f['ua'])} |")
    if not rows:
        return ""
    return "\n".join(["What it chose for the global head, per held-out corpus (inner UA %: the best candidate of each "
                      "loss, scored on the training corpora alone; test UA %: the held-out corpus, never seen by "
                      "the choice):", "", "| system | held out | loss | layers | L2 | inner UA by loss | test UA |",
                      "|---|---|---|---|---|---|---|", *rows])
