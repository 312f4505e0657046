"""The emotion taxonomy: canonical emotion names and the label sets models predict.

Each corpus maps its own label codes to these names once, in its recipe module (the ``labels`` of its ``CORPUS``,
:mod:`avemo.data.recipes.registry`). A *label set* is the ordered tuple of classes a model predicts; its order is
the order of the model's output units.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from avemo.errors import ParameterError

if TYPE_CHECKING:
    import numpy as np

#: Canonical emotion names (lower case, adjectives where the field uses them).
NEUTRAL, CALM, HAPPY, SAD, ANGRY, FEARFUL, DISGUST, SURPRISED, BORED = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "bored",
)
#: FER+'s eighth class. avemo's own class of that name; where a label set lacks it (fer7, ravdess8) it folds into
#: disgust (:data:`LABEL_FALLBACKS`): contempt and disgust are the two rejection expressions (Ekman's contempt was
#: long counted with disgust), and FER2013, which had no contempt class, is scored on its own seven.
CONTEMPT = "contempt"

#: Ordered label sets, by name.
LABEL_SETS: dict[str, tuple[str, ...]] = {
    # RAVDESS emotion codes 01..08 in order.
    "ravdess8": (NEUTRAL, CALM, HAPPY, SAD, ANGRY, FEARFUL, DISGUST, SURPRISED),
    # FER2013 emotion indices 0..6 in order.
    "fer7": (ANGRY, DISGUST, FEARFUL, HAPPY, SAD, SURPRISED, NEUTRAL),
    # EmoDB's seven classes.
    "emodb7": (ANGRY, BORED, DISGUST, FEARFUL, HAPPY, SAD, NEUTRAL),
    # CREMA-D's six classes.
    "cremad6": (ANGRY, DISGUST, FEARFUL, HAPPY, NEUTRAL, SAD),
    # TESS's seven classes ("pleasant surprise" is surprised).
    "tess7": (ANGRY, DISGUST, FEARFUL, HAPPY, NEUTRAL, SURPRISED, SAD),
    # FER+'s eight emotions in the order of its vote columns (neutral, happiness, surprise, sadness, anger,
    # disgust, fear, contempt). Scored against FER2013's seven, contempt counts as disgust (LABEL_FALLBACKS).
    "ferplus8": (NEUTRAL, HAPPY, SURPRISED, SAD, ANGRY, DISGUST, FEARFUL, CONTEMPT),
}

#: Canonical order of every class any corpus can have (ravdess8 first), used by :func:`canonical_order`.
_CANONICAL_ORDER: tuple[str, ...] = (NEUTRAL, CALM, HAPPY, SAD, ANGRY, FEARFUL, DISGUST, SURPRISED, BORED,
                                     CONTEMPT)

#: Common spellings accepted for generic ``<root>/<emotion>/<file>`` folders.
SYNONYMS: dict[str, str] = {
    "neutral": NEUTRAL, "calm": CALM, "happy": HAPPY, "happiness": HAPPY, "joy": HAPPY, "sad": SAD,
    "sadness": SAD, "angry": ANGRY, "anger": ANGRY, "fear": FEARFUL, "fearful": FEARFUL, "afraid": FEARFUL,
    "disgust": DISGUST, "disgusted": DISGUST, "surprise": SURPRISED, "surprised": SURPRISED, "ps": SURPRISED,
    "pleasant_surprise": SURPRISED, "boredom": BORED, "bored": BORED, "contempt": CONTEMPT,
}


def label_set(name: str) -> tuple[str, ...]:
    """Return the ordered classes of a label set.

    Raises:
        ParameterError: if ``name`` is not a known label set.
    """
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise ParameterError(f"unknown label set {name!r}; choose one of {sorted(LABEL_SETS)}") from None


def canonical_order(classes) -> tuple[str, ...]:
    """The canonical emotion names among ``classes`` (any iterable; repeats count once), in ravdess8 order, then
    bored and contempt.

    Raises:
        ParameterError: for a name that is not canonical (see :data:`SYNONYMS` for the spellings it accepts).
    """
    present = set(classes)
    unknown = sorted(present - set(_CANONICAL_ORDER))
    if unknown:
        raise ParameterError(f"{unknown} are not canonical emotion names; use {list(_CANONICAL_ORDER)}")
    return tuple(c for c in _CANONICAL_ORDER if c in present)


def class_mask(present, labels: str | tuple[str, ...] | list[str] = "ravdess8") -> "np.ndarray":
    """Boolean vector over ``labels`` (a label-set name or a sequence of emotion names): True for the classes in
    ``present`` (emotion names). Names of ``present`` that ``labels`` lacks are ignored.

    Raises:
        ParameterError: for an unknown label set or emotion name.
    """
    import numpy as np

    present = set(present)
    names = label_set(labels) if isinstance(labels, str) else tuple(canonical_emotion(str(x)) for x in labels)
    return np.array([name in present for name in names], dtype=bool)


def canonical_emotion(name: str) -> str:
    """Normalise a free-form emotion name (``"Anger"``, ``"pleasant_surprise"``) to the canonical one.

    Raises:
        ParameterError: if the name is not recognised.
    """
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in SYNONYMS:
        raise ParameterError(f"unknown emotion name {name!r}; expected one of {sorted(set(SYNONYMS))}")
    return SYNONYMS[key]


# --- Valence / arousal ------------------------------------------------------------------------------------
#
# Source: the NRC Valence, Arousal, and Dominance Lexicon v1 (file NRC-VAD-Lexicon.txt, August 2018
# release): Saif M. Mohammad, "Obtaining Reliable Human Ratings of Valence, Arousal, and Dominance for
# 20,000 English Words", Proceedings of ACL 2018, Melbourne. http://saifmohammad.com/WebPages/nrc-vad.html
# (free for research use; see the lexicon's terms of use for commercial use).
#
# For each canonical emotion we take the lexicon entry of the canonical name itself (the adjective where the
# label set uses one: "fearful", "surprised", ...; the noun "disgust" because that is the canonical name).
# v1 scores lie in [0, 1] (best-worst scaling); we map them linearly to [-1, 1] with x -> 2x - 1, so 0.5
# (the lexicon's midpoint) becomes 0. Raw v1 entries (valence, arousal):
#   neutral 0.469 0.184 | calm 0.875 0.100 | happy 1.000 0.735 | sad 0.225 0.333 | angry 0.122 0.830 |
#   fearful 0.083 0.482 | disgust 0.052 0.775 | surprised 0.784 0.855 | bored 0.153 0.167
# Note that these are ratings of the *words*, not of facial or vocal expressions; e.g. "fearful" is rated
# less arousing (0.482) than "fear" (0.840) or "scared" (0.828). They place each class on the circumplex
# for display and for a continuous summary, not as ground truth.
_NRC_VAD_V1_RAW: dict[str, tuple[float, float]] = {
    NEUTRAL: (0.469, 0.184), CALM: (0.875, 0.100), HAPPY: (1.000, 0.735), SAD: (0.225, 0.333),
    ANGRY: (0.122, 0.830), FEARFUL: (0.083, 0.482), DISGUST: (0.052, 0.775), SURPRISED: (0.784, 0.855),
    BORED: (0.153, 0.167),
}

#: (valence, arousal) in [-1, 1] of each canonical emotion (NRC VAD Lexicon v1, rescaled; see above).
VALENCE_AROUSAL: dict[str, tuple[float, float]] = {
    name: (round(2.0 * v - 1.0, 3), round(2.0 * a - 1.0, 3)) for name, (v, a) in _NRC_VAD_V1_RAW.items()
}


def valence_arousal(probabilities: dict[str, float]) -> tuple[float, float]:
    """Probability-weighted mean (valence, arousal) of a class distribution, each in [-1, 1].

    Keys are emotion names (canonical or common spellings such as ``"anger"``); the probabilities are
    renormalised to sum to 1, so a distribution over any label set works. A class without an entry of its own sits
    at its :data:`LABEL_FALLBACKS` class's point (contempt at disgust's: the lexicon rows above have no contempt).

    Raises:
        ParameterError: for an unknown emotion, a negative or non-finite probability, or an all-zero input.
    """
    if not probabilities:
        raise ParameterError("valence_arousal: got no probabilities")
    total, v_sum, a_sum = 0.0, 0.0, 0.0
    for name, p in probabilities.items():
        p = float(p)
        if not p >= 0.0 or p == float("inf"):
            raise ParameterError(f"valence_arousal: probability of {name!r} must be finite and >= 0, got {p}")
        key = canonical_emotion(name)
        key = key if key in VALENCE_AROUSAL else LABEL_FALLBACKS.get(key, key)  # contempt: at disgust's point
        if key not in VALENCE_AROUSAL:
            raise ParameterError(f"valence_arousal: no valence/arousal for {name!r}; "
                                 f"known: {sorted(VALENCE_AROUSAL)}")
        v, a = VALENCE_AROUSAL[key]
        total += p
        v_sum += p * v
        a_sum += p * a
    if total <= 0.0:
        raise ParameterError("valence_arousal: probabilities sum to 0")
    return v_sum / total, a_sum / total


# --- Mapping between label sets ---------------------------------------------------------------------------

#: Where a class goes when the target label set lacks it (used by :func:`label_mapping_matrix`): calm -> neutral,
#: contempt -> disgust (so a ferplus8 model is scored on FER2013's seven classes, and fused with a ravdess8
#: speech model, with its contempt probability added to disgust). Contempt has no valence/arousal entry of its
#: own: :func:`valence_arousal` places it at disgust's point.
LABEL_FALLBACKS: dict[str, str] = {CALM: NEUTRAL, CONTEMPT: DISGUST}


def _resolve_labels(labels: str | tuple[str, ...] | list[str], what: str) -> tuple[str, ...]:
    if isinstance(labels, str):
        return label_set(labels)
    out = tuple(canonical_emotion(str(x)) for x in labels)
    if len(set(out)) != len(out):
        raise ParameterError(f"{what} labels contain duplicates: {list(labels)}")
    if len(out) < 2:
        raise ParameterError(f"{what} labels need at least 2 classes, got {list(labels)}")
    return out


def label_mapping_matrix(source_labels: str | tuple[str, ...] | list[str],
                         target_labels: str | tuple[str, ...] | list[str]) -> "np.ndarray":
    """0/1 matrix ``(len(source), len(target))`` sending each source class to its target class.

    A class present in both maps to itself; a class the target lacks follows :data:`LABEL_FALLBACKS`
    (calm -> neutral); any other class (e.g. bored into fer7) gets an all-zero row.
    Label sets are given by name (``"ravdess8"``) or as a sequence of emotion names.

    Raises:
        ParameterError: for an unknown label set or emotion name.
    """
    import numpy as np

    src = _resolve_labels(source_labels, "source")
    tgt = _resolve_labels(target_labels, "target")
    m = np.zeros((len(src), len(tgt)), dtype=np.float64)
    for i, name in enumerate(src):
        if name in tgt:
            m[i, tgt.index(name)] = 1.0
        elif LABEL_FALLBACKS.get(name) in tgt:
            m[i, tgt.index(LABEL_FALLBACKS[name])] = 1.0
    return m


def to_common_label_set(probs, source_labels, target_labels, unmapped: str = "renormalize"):
    """Re-express class probabilities over another label set, e.g. a RAVDESS 8-class speech model's output
    over the FER2013 7 classes of a face model, so the two can be fused.

    Rules: a class present in both label sets keeps its probability; **calm folds into neutral** when the
    target has no calm (RAVDESS "calm" is a low-arousal, mildly positive delivery that FER2013 annotators
    would label neutral; neither FER2013 nor CREMA-D has calm); target classes with no source (calm, when
    going from fer7 to ravdess8) get 0. Source classes with no target (e.g. bored from emodb7, surprised
    into cremad6) are handled by ``unmapped``: ``"renormalize"`` drops their mass and rescales each row to
    sum to 1; ``"drop"`` drops it without rescaling; ``"error"`` raises.

    Args:
        probs: ``(..., len(source))`` numpy array or torch tensor of probabilities.
        source_labels, target_labels: label-set names (``"ravdess8"``, ``"fer7"``) or sequences of names.
        unmapped: ``"renormalize"``, ``"drop"`` or ``"error"``.

    Returns:
        ``(..., len(target))`` probabilities, of the input's kind (numpy or torch).

    Raises:
        ParameterError: for unknown label sets, a shape mismatch, unmapped classes with ``"error"``, or a row
            whose mass is entirely on unmapped classes with ``"renormalize"``.
    """
    import numpy as np

    if unmapped not in ("renormalize", "drop", "error"):
        raise ParameterError(f"unmapped must be 'renormalize', 'drop' or 'error', got {unmapped!r}")
    src = _resolve_labels(source_labels, "source")
    tgt = _resolve_labels(target_labels, "target")
    m = label_mapping_matrix(src, tgt)
    lost = [src[i] for i in np.flatnonzero(m.sum(axis=1) == 0)]
    if lost and unmapped == "error":
        raise ParameterError(f"classes {lost} have no counterpart in the target labels {list(tgt)}")
    is_torch = hasattr(probs, "detach") and hasattr(probs, "new_tensor")
    if probs.shape[-1] != len(src):
        raise ParameterError(f"probs have {probs.shape[-1]} classes, source labels have {len(src)}: {list(src)}")
    if is_torch:
        out = probs @ probs.new_tensor(m)
        if lost and unmapped == "renormalize":
            mass = out.sum(dim=-1, keepdim=True)
            if bool((mass <= 0).any()):
                raise ParameterError(f"some rows put all their probability on {lost}, which the target lacks")
            out = out / mass
        return out
    p = np.asarray(probs, dtype=np.float64)
    out = p @ m
    if lost and unmapped == "renormalize":
        mass = out.sum(axis=-1, keepdims=True)
        if np.any(mass <= 0):
            raise ParameterError(f"some rows put all their probability on {lost}, which the target lacks")
        out = out / mass
    return out
