"""On-disk cache of aligned crops, so decoding and aligning a dataset happens once.

Layout: ``<cache root>/<dataset>-<key>/`` holding ``images.npy`` (uint8 crops, mapped copy-on-write:
pages are read when first touched and writes stay in memory, so opening a gigabyte of MTFL crops
takes milliseconds instead of the 1.5 s of ``np.load``), ``arrays.npz``
(landmarks, validity mask, labels...) and ``info.json`` (what was cached, for humans).

The key is a hash of the dataset name, a fingerprint of the source (image paths with their size
and modification time and their landmarks, or the synthetic generator's parameters and source
code) and ``CropParams.to_dict()``: change any of them and a new entry is built, never a stale one
used. An entry is written into a temporary folder and renamed into place, so an interrupted run
leaves no half entry; a damaged entry is reported, removed and rebuilt.

The cache root is ``cache_dir`` if given, else ``$AUEDGE_CACHE``, else ``.cache/auedge`` in the
current directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from auedge.edge.align import CropParams

# 2: crops cut by the exact fixed-point sampler (edge/align.py), no longer by cv2.warpAffine.
# 3: detector keypoints on the 1/8 px grid, found on the exact letterbox (--keypoints detector crops).
CACHE_VERSION = 3
CACHE_ENV = "AUEDGE_CACHE"
DEFAULT_CACHE_DIR = Path(".cache") / "auedge"
IMAGES_FILE, ARRAYS_FILE, INFO_FILE = "images.npy", "arrays.npz", "info.json"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get(CACHE_ENV) or Path.cwd() / DEFAULT_CACHE_DIR)


def files_fingerprint(paths: list[str], landmarks: np.ndarray) -> str:
    """Hash of what the crops are made from: each file's path, size and mtime, and the landmarks."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            stat = os.stat(path)
            digest.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}\tmissing\n".encode())
    digest.update(np.ascontiguousarray(landmarks, dtype=np.float32).tobytes())
    return digest.hexdigest()


def cache_key(dataset: str, fingerprint: str, crop: CropParams) -> str:
    payload = {"version": CACHE_VERSION, "dataset": dataset, "source": fingerprint, "crop": crop.to_dict()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def entry_dir(root: Path, dataset: str, key: str) -> Path:
    return root / f"{dataset}-{key}"


def load_entry(folder: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays (``images`` plus whatever was saved), or None when absent or damaged."""
    if not folder.is_dir():
        return None
    try:
        images = np.asarray(np.load(folder / IMAGES_FILE, mmap_mode="c"))
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError) as exc:
        print(f"cache entry {folder} is damaged ({exc}); rebuilding it", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return {"images": images, **arrays}


def save_entry(folder: Path, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> Path:
    """Write an entry atomically (temp folder, then rename). A concurrent writer's entry wins."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would hide a shared cache from other users
        np.save(tmp / IMAGES_FILE, arrays["images"])
        np.savez(tmp / ARRAYS_FILE, **{k: v for k, v in arrays.items() if k != "images"})
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        try:
            os.rename(tmp, folder)
        except OSError:
            if not folder.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_or_build(
    folder: Path, build: Callable[[], tuple[dict[str, np.ndarray], dict[str, Any]]]
) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """The entry's arrays, or ``build()``'s (arrays, info) saved there first (atomically, see
    :func:`save_entry`). The second value is the new entry's info, or None when it came from the cache."""
    arrays = load_entry(folder)
    if arrays is not None:
        return arrays, None
    arrays, info = build()
    save_entry(folder, arrays, info)
    return arrays, info
