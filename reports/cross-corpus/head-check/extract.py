"""Frame features and eGeMAPS of every clean clip of the cross-corpus benchmark's corpora, for head-check/check.py.

python reports/cross-corpus/head-check/extract.py DATA [OUT]   (OUT: ~/.cache/avemo/head-check)

Per clip, as avemo's ``whisper_stats`` features see it (loudness normalised to -23 dBFS, Whisper base, torch):
every layer's hidden states (0..6) averaged over 4 frames (12.5 frames/s, float16, at most 12 s), and the 88
eGeMAPS v02 functionals of the clip as recorded. One ``OUT/<corpus>.npz`` per corpus: ``paths``, ``offsets``
``(n + 1,)``, ``frames`` ``(total frames, 7, 512)``, ``egemaps`` ``(n, 88)``. Written once; delete it to redo.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

POOL, MAX_SECONDS = 4, 12.0


def one_clip(path: str):
    import torch

    torch.set_num_threads(1)
    from avemo.features.audio.whisper_layers import hidden_states, normalise_loudness
    from avemo.features.base import create_extractor
    from avemo.io.audio import load_audio

    try:
        signal = load_audio(path, 16000)[: int(MAX_SECONDS * 16000)]
        egemaps = create_extractor("egemaps").process_signal(signal, 16000)
        states = hidden_states(normalise_loudness(signal, -23.0), "base", tuple(range(7))).numpy()  # (7, T, 512)
    except Exception as exc:  # noqa: BLE001  (a clip load_corpora skips too)
        return path, None, None, str(exc)
    t = states.shape[1] // POOL * POOL or states.shape[1]
    pooled = states[:, :t].reshape(7, -1, min(POOL, t), 512).mean(2) if t >= POOL else states.mean(1, keepdims=True)
    return path, pooled.transpose(1, 0, 2).astype(np.float16), egemaps.astype(np.float32), None


def main(data: str, out: str) -> None:
    from avemo.data.recipes import prepare
    from avemo.shipping.corpora import CORPUS_FOLDERS, corpus_folder

    Path(out).mkdir(parents=True, exist_ok=True)
    for corpus in CORPUS_FOLDERS:
        target = Path(out) / f"{corpus}.npz"
        if target.exists():
            continue
        options = {"modalities": ("audio-only",), "vocal_channels": ("speech",)} if corpus == "ravdess" else {}
        paths = [str(r.path) for r in prepare(corpus, corpus_folder(data, corpus), **options)]
        start = time.time()
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.map(one_clip, paths, chunksize=8)
        kept = [r for r in results if r[3] is None]
        offsets = np.cumsum([0] + [len(r[1]) for r in kept])
        np.savez(target, paths=np.array([r[0] for r in kept]), offsets=offsets,
                 frames=np.concatenate([r[1] for r in kept]), egemaps=np.stack([r[2] for r in kept]))
        print(f"{corpus}: {len(kept)} clips ({len(paths) - len(kept)} unreadable), {offsets[-1]} frames, "
              f"{time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.expanduser("~/.cache/avemo/head-check"))
