"""The emotion taxonomy: canonical emotion names, the label sets models predict, and each corpus's label map.

Every corpus label is mapped to one canonical name here and nowhere else. A *label set* is the ordered
tuple of classes a model predicts; its order is the order of the model's output units.
"""

from __future__ import annotations

from avemo.errors import ParameterError

#: Canonical emotion names (lower case, adjectives where the field uses them).
NEUTRAL, CALM, HAPPY, SAD, ANGRY, FEARFUL, DISGUST, SURPRISED, BORED = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "bored",
)

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
}

#: Each corpus's own label codes mapped to canonical names.
CORPUS_LABEL_MAPS: dict[str, dict[str, str]] = {
    "ravdess": {"01": NEUTRAL, "02": CALM, "03": HAPPY, "04": SAD, "05": ANGRY, "06": FEARFUL,
                "07": DISGUST, "08": SURPRISED},
    "fer2013": {"0": ANGRY, "1": DISGUST, "2": FEARFUL, "3": HAPPY, "4": SAD, "5": SURPRISED, "6": NEUTRAL,
                "angry": ANGRY, "disgust": DISGUST, "fear": FEARFUL, "happy": HAPPY, "sad": SAD,
                "surprise": SURPRISED, "neutral": NEUTRAL},
    "cremad": {"ANG": ANGRY, "DIS": DISGUST, "FEA": FEARFUL, "HAP": HAPPY, "NEU": NEUTRAL, "SAD": SAD},
    "tess": {"angry": ANGRY, "disgust": DISGUST, "fear": FEARFUL, "happy": HAPPY, "neutral": NEUTRAL,
             "ps": SURPRISED, "pleasant_surprise": SURPRISED, "pleasant_surprised": SURPRISED,
             "surprise": SURPRISED, "surprised": SURPRISED, "sad": SAD},
    # EmoDB file names carry German initials: Wut, Langeweile, Ekel, Angst, Freude, Trauer, Neutral.
    "emodb": {"W": ANGRY, "L": BORED, "E": DISGUST, "A": FEARFUL, "F": HAPPY, "T": SAD, "N": NEUTRAL},
}

#: Common spellings accepted for generic ``<root>/<emotion>/<file>`` folders.
SYNONYMS: dict[str, str] = {
    "neutral": NEUTRAL, "calm": CALM, "happy": HAPPY, "happiness": HAPPY, "joy": HAPPY, "sad": SAD,
    "sadness": SAD, "angry": ANGRY, "anger": ANGRY, "fear": FEARFUL, "fearful": FEARFUL, "afraid": FEARFUL,
    "disgust": DISGUST, "disgusted": DISGUST, "surprise": SURPRISED, "surprised": SURPRISED, "ps": SURPRISED,
    "pleasant_surprise": SURPRISED, "boredom": BORED, "bored": BORED, "contempt": "contempt",
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


def corpus_label(corpus: str, code: str) -> str:
    """Map a corpus's own label code to the canonical emotion name.

    Raises:
        ParameterError: if the corpus or the code is unknown.
    """
    if corpus not in CORPUS_LABEL_MAPS:
        raise ParameterError(f"unknown corpus {corpus!r}; choose one of {sorted(CORPUS_LABEL_MAPS)}")
    table = CORPUS_LABEL_MAPS[corpus]
    if code not in table:
        raise ParameterError(f"unknown {corpus} emotion code {code!r}; expected one of {sorted(table)}")
    return table[code]


def canonical_emotion(name: str) -> str:
    """Normalise a free-form emotion name (``"Anger"``, ``"pleasant_surprise"``) to the canonical one.

    Raises:
        ParameterError: if the name is not recognised.
    """
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in SYNONYMS:
        raise ParameterError(f"unknown emotion name {name!r}; expected one of {sorted(set(SYNONYMS))}")
    return SYNONYMS[key]
