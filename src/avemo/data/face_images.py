"""Load the face images of image-corpus recordings as one uint8 array ``(n, side, side)`` (gray), cached on disk.

FER2013 images (and CSV rows) are already 48x48 face crops and are used as they are (resized when ``side``
differs). Larger photographs (e.g. a CK+-style ``<root>/<emotion>/<image>`` folder) go through the face front
end first: the largest face is detected and aligned like a FER2013 crop; images without a face are skipped and
reported. The decoded array is cached under ``$AVEMO_CACHE/images`` keyed by the files' paths, sizes and
modification times; a corrupt cache entry is recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from avemo.data.manifest import Recording, source_file
from avemo.data.recipes.fer2013 import CSV_ROW, read_csv_pixels
from avemo.errors import AvemoError, MediaDecodeError
from avemo.features.store import default_cache_dir

log = logging.getLogger(__name__)


def _key(recordings: Sequence[Recording], side: int) -> str:
    h = hashlib.sha1(f"v1|{side}".encode())
    for rec in recordings:
        path = source_file(rec.path)
        try:
            st = os.stat(path)
            h.update(f"|{rec.path}|{st.st_size}|{st.st_mtime_ns}".encode())
        except OSError:
            h.update(f"|{rec.path}|missing".encode())
    return h.hexdigest()[:20]


def _decode(path: str, side: int) -> np.ndarray:
    try:
        with Image.open(path) as img:
            gray = img.convert("L")
            if gray.size != (side, side):
                if max(gray.size) > 2 * side:
                    return _align_photo(np.asarray(img.convert("RGB")), side, path)
                gray = gray.resize((side, side), Image.BILINEAR)
            return np.asarray(gray, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise MediaDecodeError(f"{path}: cannot decode image ({exc}); remove or replace the file") from None


@functools.lru_cache(maxsize=1)
def _detector():
    from avemo.features.face.detection import create_face_detector

    return create_face_detector("auto")


def _align_photo(rgb: np.ndarray, side: int, path: str) -> np.ndarray:
    from avemo.errors import NoFaceError
    from avemo.features.face.align import align_face

    faces = _detector().process_image(rgb).faces
    if not faces:
        raise NoFaceError(f"{path}: no face found; crop the image to the face or remove it from the corpus")
    face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return align_face(rgb, face, size=side, grayscale=True)


def load_face_images(recordings: Sequence[Recording], side: int = 48,
                     cache: str | os.PathLike | None = "default") -> tuple[np.ndarray, np.ndarray]:
    """The gray face crops of ``recordings`` and the indices of the recordings they belong to.

    Returns ``(images, kept)``: ``images`` ``(len(kept), side, side)`` uint8 and ``kept`` the positions in
    ``recordings`` that could be read (bad files are logged and skipped, so a batch goes on).
    """
    cache_path = None
    if cache is not None:
        root = default_cache_dir() if cache == "default" else Path(cache)
        cache_path = root / "images" / f"{_key(recordings, side)}.npz"
        if cache_path.is_file():
            try:
                with np.load(cache_path, allow_pickle=False) as data:
                    images, kept = data["images"], data["kept"]
                if images.shape[1:] == (side, side) and len(images) == len(kept):
                    return images, kept
            except (OSError, ValueError, KeyError, EOFError) as exc:
                log.warning("corrupt image cache %s (%s); recomputing", cache_path, exc)
            cache_path.unlink(missing_ok=True)
    csv_rows: dict[str, dict[int, np.ndarray]] = {}
    images, kept, bad = [], [], []
    from tqdm import tqdm
    for i, rec in enumerate(tqdm(recordings, desc="decode images", unit="img", disable=len(recordings) < 500)):
        try:
            if source_file(rec.path) != rec.path:
                path, row = rec.path.rsplit(CSV_ROW, 1)
                if path not in csv_rows:
                    csv_rows[path] = read_csv_pixels(path)
                img = csv_rows[path][int(row)]
                if side != img.shape[0]:
                    img = np.asarray(Image.fromarray(img).resize((side, side), Image.BILINEAR))
            else:
                img = _decode(rec.path, side)
        except (AvemoError, KeyError, ValueError) as exc:  # one bad file must not stop the batch
            bad.append(f"{rec.path}: {exc}")
            continue
        images.append(img)
        kept.append(i)
    for line in bad[:20]:
        log.warning("skipped %s", line)
    if len(bad) > 20:
        log.warning("skipped %d more images", len(bad) - 20)
    out = np.stack(images) if images else np.zeros((0, side, side), np.uint8)
    kept_arr = np.asarray(kept, dtype=np.int64)
    if cache_path is not None and len(out):
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_path.with_suffix(".tmp.npz")
        np.savez(tmp, images=out, kept=kept_arr)
        os.replace(tmp, cache_path)
    return out, kept_arr


__all__ = ["load_face_images"]
