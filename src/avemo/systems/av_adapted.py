"""The adapted head of the speech + action-unit late-fusion system
(:class:`~avemo.systems.av_fusion.AVLateFusionSystem`): people split into random groups of a few recordings (how
the head's prior weight is chosen), that choice, and the head's saved form (JSON description + named arrays)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from avemo.modalities import Modality
from avemo.systems.inputs import Standardizer

MODALITIES = (Modality.SPEECH, Modality.ACTION_UNITS)
#: Key of the fused probabilities beside each modality's (:meth:`AVLateFusionSystem.adapted_proba`).
FUSED = "fused"


def random_groups(people: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Each person's rows split at random into groups of ``size`` (the last may be smaller; ``size <= 0``: one
    group per person): ``(n,)`` group names ``person/k``, as if each group were a separate person."""
    people = np.asarray(people, dtype=object)
    out = people.copy()
    rng = np.random.default_rng(seed)
    for person in np.unique(people):
        rows = rng.permutation(np.flatnonzero(people == person))
        if size > 0:
            for k, start in enumerate(range(0, len(rows), size)):
                out[rows[start:start + size]] = f"{person}/{k}"
    return out


def choose_prior_weight(ua: Mapping[tuple[float, int], float], global_ua: float) -> dict[str, Any]:
    """The adapted head's prior weight ``tau`` and the fewest recordings worth adapting from, given the validation
    UA of every ``(tau, group size)`` (people adapted from groups of that many recordings) and the global head's.

    ``tau``: the best UA averaged over group sizes (ties: the smaller); ``min_recordings``: the smallest group size
    from which on the adapted head is no worse than the global one (none: twice the largest size). Returns those
    with ``tau_ua`` (``{tau: mean UA}``) and ``size_ua`` (``{size: UA at the chosen tau}``).
    """
    taus, sizes = list(dict.fromkeys(t for t, _ in ua)), list(dict.fromkeys(s for _, s in ua))
    scores = {str(tau): float(np.mean([ua[tau, size] for size in sizes])) for tau in taus}
    tau = float(max(taus, key=lambda t: (scores[str(t)], -t)))
    size_ua = {size: ua[tau, size] for size in sorted(sizes)}
    worth = [s for s in size_ua if all(v >= global_ua for t, v in size_ua.items() if t >= s)]
    return {"tau": tau, "min_recordings": int(min(worth) if worth else 2 * max(size_ua)), "tau_ua": scores,
            "size_ua": size_ua}


def head_doc(head: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON description of the adapted head (what :func:`head_from` reads back)."""
    return {"au_C": head["au_C"], "weights": head["weights"], "tau": head["tau"],
            "min_recordings": head["min_recordings"],
            "temperatures": {**head["temperatures"], FUSED: head["fused_temperature"]}}


def head_tensors(head: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of the adapted head, by their names in ``weights.safetensors``."""
    return {"adapted_speech_mean": head["speech_scaler"].mean_, "adapted_speech_std": head["speech_scaler"].std_,
            "adapted_speech_coef": head["speech_w"][0], "adapted_speech_intercept": head["speech_w"][1],
            "adapted_au_mean": head["au_scaler"].mean_, "adapted_au_std": head["au_scaler"].std_,
            "adapted_au_coef": head["au_w"][0], "adapted_au_intercept": head["au_w"][1],
            **{f"adapted_prior_{m}_{k}": v for m in MODALITIES for k, v in zip(("mean", "std"), head["priors"][m])}}


def head_from(doc: Mapping[str, Any], t: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The adapted head from its JSON description and the tensors :func:`head_tensors` wrote (KeyError: missing)."""
    return {"speech_scaler": Standardizer.from_state(t["adapted_speech_mean"], t["adapted_speech_std"]),
            "au_scaler": Standardizer.from_state(t["adapted_au_mean"], t["adapted_au_std"]),
            "speech_w": (t["adapted_speech_coef"], t["adapted_speech_intercept"]),
            "au_w": (t["adapted_au_coef"], t["adapted_au_intercept"]),
            "priors": {m: (t[f"adapted_prior_{m}_mean"], t[f"adapted_prior_{m}_std"]) for m in MODALITIES},
            "au_C": float(doc["au_C"]), "tau": float(doc["tau"]), "min_recordings": int(doc["min_recordings"]),
            "weights": {m: float(doc["weights"][m]) for m in MODALITIES},
            "temperatures": {m: float(doc["temperatures"][m]) for m in MODALITIES},
            "fused_temperature": float(doc["temperatures"][FUSED])}


def people_groups(people: np.ndarray, n_groups: int, seed: int = 0) -> list[np.ndarray]:
    """The distinct ``people`` split at random into ``n_groups`` groups (fewer when there are fewer people): each an
    array of person names, every person in exactly one."""
    names = np.unique(np.asarray(people, dtype=object))
    np.random.default_rng(seed).shuffle(names)
    return [g for g in np.array_split(names, min(n_groups, len(names))) if len(g)]
