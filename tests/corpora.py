"""Builders of tiny synthetic corpora shared by the tests, laid out as the real ones are: RAVDESS-named voices (the
emotion in the pitch), the audio-visual layout (those voices in ``speech16k/`` beside a table of clip-mean action
units), a FER2013 image folder (the emotion in a square's brightness), and the small configs the benchmark suites
run on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SR = 16000
#: One voice pitch (Hz) per ravdess8 class, RAVDESS emotion codes 01..08, so that the classes are learnable from
#: log-mel statistics.
CLASS_PITCHES = (90.0, 110.0, 135.0, 160.0, 190.0, 225.0, 265.0, 310.0)
#: The FER2013 folder names of its 7 classes, in its label order.
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: A small face CNN (configs/face/ layout) that trains in seconds on a few dozen 48x48 images.
TINY_FACE_CNN = ("name: tiny-cnn\nmodel: face_cnn\nmodel_config: {channels: [8, 16], convs_per_block: 1}\n"
                 "augment: {crop: 44, erase: 0, brightness: 0, contrast: 0, tta: flip}\n"
                 "train: {epochs: 3, batch_size: 16, lr: 0.01}\n")


def write_ravdess_voices(folder: Path, seconds: float = 1.0) -> Path:
    """24 actors x 8 emotions in RAVDESS's layout (``folder/Actor_XX/03-01-EE-01-01-01-XX.wav``, 16 kHz): one
    ``seconds``-long synthetic voice each, at its emotion's pitch (:data:`CLASS_PITCHES`) shifted by up to 4 % per
    actor. Returns ``folder``."""
    import soundfile as sf

    from avemo.io.synth import synth_voice

    for actor in range(1, 25):
        actor_dir = folder / f"Actor_{actor:02d}"
        actor_dir.mkdir(parents=True, exist_ok=True)
        for emo, pitch in enumerate(CLASS_PITCHES, 1):
            x = synth_voice(seconds, pitch * (1 + 0.02 * ((actor % 5) - 2)), SR, seed=actor * 10 + emo)
            sf.write(actor_dir / f"03-01-{emo:02d}-01-01-01-{actor:02d}.wav", x, SR)
    return folder


def write_ravdess_av(root: Path) -> Path:
    """The audio-visual layout of :func:`write_ravdess_voices` (0.6-s voices) in ``root/speech16k/`` and, in
    ``root/openface_au_mean.csv``, one row of AU means per take (the emotion in two AUs, plus noise), named as
    RAVDESS's audio-visual clips. Returns ``root``."""
    from avemo.features.openface import AU_COLUMNS

    write_ravdess_voices(root / "speech16k", 0.6)
    rng = np.random.default_rng(0)
    rows = []
    for actor in range(1, 25):
        for emo in range(1, len(CLASS_PITCHES) + 1):
            au = rng.uniform(0, 0.3, len(AU_COLUMNS))
            au[(emo - 1) % len(AU_COLUMNS)] += 1.0
            au[(emo + 7) % len(AU_COLUMNS)] += 0.5 * (emo % 2)
            name = f"01-01-{emo:02d}-01-01-01-{actor:02d}"
            rows.append(";".join(f"{v:.5f}" for v in au) + f";0.8;{name};/x/{name}.mp4;{len(rows)}")
    header = ";".join(AU_COLUMNS) + ";speech;name;path;index"
    (root / "openface_au_mean.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return root


def face_like(label: int, k: int) -> np.ndarray:
    """A 48x48 gray image whose central square's brightness encodes the class (robust to flips and shifts)."""
    rng = np.random.default_rng(100 * label + k)
    img = rng.integers(0, 30, (48, 48)).astype(np.uint8)
    img[12:36, 12:36] = 60 + 30 * label + rng.integers(0, 8)
    return img


def write_fer2013_folder(root: Path, per_split: dict[str, int]) -> Path:
    """FER2013's image-folder release (``train/<emotion>/``, ``test/<emotion>/``) with ``per_split[split]``
    :func:`face_like` JPEGs per class and split (Training, PublicTest, PrivateTest). Returns ``root``."""
    from PIL import Image

    for label, name in enumerate(FER_CLASSES):
        for split, n in per_split.items():
            folder = root / ("train" if split == "Training" else "test") / name
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(n):
                Image.fromarray(face_like(label, k + 100 * len(split))).save(folder / f"{split}_{label}{k:03d}.jpg",
                                                                             quality=95)
    return root


def write_speech_suite(configs: Path, suite: str = "tiny-suite") -> Path:
    """Configs (the ``$AVEMO_CONFIGS`` layout) of a speech benchmark suite named ``suite`` on RAVDESS, 6 folds:
    ``tiny-linear`` (log-mel mean + std, logistic regression, also run on a random split for the leakage gap) and
    ``tiny-neural`` (attention pooling over log-mel, one epoch). Returns ``configs``."""
    import yaml

    (configs / "speech").mkdir(parents=True, exist_ok=True)
    (configs / "benchmarks").mkdir(exist_ok=True)
    (configs / "speech" / "tiny-linear.yaml").write_text(yaml.safe_dump(
        {"name": "tiny-linear", "description": "log-mel mean+std, logistic regression", "kind": "linear",
         "vectors": ["logmel:meanstd"], "linear": {"C": 1.0}}))
    (configs / "speech" / "tiny-neural.yaml").write_text(yaml.safe_dump(
        {"name": "tiny-neural", "description": "attention pooling over log-mel", "kind": "neural",
         "frames": "logmel", "frame_pool": 4, "model": "attention_head",
         "train": {"epochs": 1, "batch_size": 32, "patience": 1}}))
    (configs / "benchmarks" / f"{suite}.yaml").write_text(yaml.safe_dump(
        {"name": suite, "corpus": "ravdess",
         "corpus_options": {"modalities": ["audio-only"], "vocal_channels": ["speech"]},
         "protocol": "ravdess-6fold", "label_set": "ravdess8", "systems": ["tiny-linear", "tiny-neural"],
         "leakage": {"system": "tiny-linear", "protocol": "random"}}))
    return configs


def write_fer2013_suite(configs: Path) -> Path:
    """Configs (the ``$AVEMO_CONFIGS`` layout) of the fer2013 suite with one system, :data:`TINY_FACE_CNN`, and no
    peer. Returns ``configs``."""
    (configs / "face").mkdir(parents=True, exist_ok=True)
    (configs / "benchmarks").mkdir(exist_ok=True)
    (configs / "face" / "tiny-cnn.yaml").write_text(TINY_FACE_CNN)
    (configs / "benchmarks" / "fer2013.yaml").write_text(
        "name: fer2013\nprotocol: test protocol\nlabel_set: fer7\nsystems: [tiny-cnn]\npeer: null\n")
    return configs
