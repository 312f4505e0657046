"""How much each modality contributed to a fused result.

The fused distribution is recomputed with the engine's own fusion for every subset of the modalities present;
the value of a subset is the fused probability of the predicted class (the empty subset: the uniform
distribution, ``1 / classes``). Each modality gets its Shapley value (its mean gain over the orders in which the
modalities could be added), its share (the positive Shapley values normalised to sum to 1: a modality that argued
against the predicted class gets 0), and the change of the predicted class's probability when it alone is
dropped.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Mapping, Sequence

from avemo.errors import ParameterError

#: ``{modality: distribution}`` of the modalities present ``-> fused distribution`` (``engine.fuse_distributions``).
FuseFunction = Callable[[Mapping[str, Mapping[str, float]]], Mapping[str, float]]

METHOD = ("Shapley values over the modalities of the fused probability of the predicted class, each subset fused "
          "by the engine's own fusion (fuse_distributions: temperature-scaled, weighted mean of log-probabilities); "
          "the empty subset is the uniform distribution; share = positive Shapley values normalised to sum to 1")


def modality_contributions(parts: Mapping[str, Mapping[str, float]], fuse: FuseFunction, target: str,
                           labels: Sequence[str]) -> list[dict[str, Any]]:
    """One entry per modality in ``parts`` (each a distribution over ``labels``): ``modality``, ``share`` in [0, 1]
    (summing to 1), ``shapley``, ``probability_without`` (the fused probability of ``target`` without this
    modality; ``None`` when it is the only one), ``drop_when_removed`` and ``probabilities_without``.

    Raises:
        ParameterError: for no modality, or a ``target`` not in ``labels``.
    """
    names = sorted(name for name, p in parts.items() if p)
    if not names:
        raise ParameterError("no modality produced probabilities, so there is nothing to attribute")
    if target not in labels:
        raise ParameterError(f"target {target!r} is not one of the classes {list(labels)}")
    fused: dict[frozenset, Mapping[str, float]] = {}
    for size in range(1, len(names) + 1):
        for subset in itertools.combinations(names, size):
            fused[frozenset(subset)] = fuse({name: parts[name] for name in subset})

    def value(subset: frozenset) -> float:
        return float(fused[subset][target]) if subset else 1.0 / len(labels)

    n, everyone = len(names), frozenset(names)
    shapley = {}
    for name in names:
        others = [m for m in names if m != name]
        total = 0.0
        for size in range(len(others) + 1):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                total += weight * (value(frozenset(subset) | {name}) - value(frozenset(subset)))
        shapley[name] = total
    positive = {name: max(v, 0.0) for name, v in shapley.items()}
    mass = sum(positive.values())
    out = []
    for name in names:
        rest = everyone - {name}
        without = float(fused[rest][target]) if rest else None
        out.append({"modality": name,
                    "share": round(positive[name] / mass if mass > 0 else 1.0 / n, 4),
                    "shapley": round(shapley[name], 5),
                    "probability_without": None if without is None else round(without, 5),
                    "drop_when_removed": None if without is None else round(value(everyone) - without, 5),
                    "probabilities_without": None if not rest else {c: round(float(fused[rest][c]), 4)
                                                                     for c in labels}})
    return out
