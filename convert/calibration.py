"""Calibration and validation crops: aligned uint8 faces, normalised exactly as in training.

Quantization is only as good as its representative data, and validation only means something on
held-out faces cut the way the device cuts them. So the crops come from the run's own data layer
(``auedge.train.runs.load_run_crops``: same dataset, crop and labels) unless the user hands over
``--calib-data`` / ``--val-data``: a folder of aligned crop images or an ``.npz`` of uint8 crops
(``crops``/``images``/``x``) with optional ``labels``/``y``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from auedge.convert.errors import ExportError
from auedge.edge.preprocess import Normalization, normalize

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
CROP_KEYS = ("crops", "images", "x", "X")
LABEL_KEYS = ("labels", "y", "Y")


@dataclass(frozen=True)
class CropData:
    """``crops`` (N, S, S, 3) uint8 RGB; ``labels`` (N, K) float or None; ``source`` for the record."""

    crops: np.ndarray
    labels: np.ndarray | None
    source: str

    def __len__(self) -> int:
        return int(self.crops.shape[0])

    def take(self, count: int, seed: int = 0) -> CropData:
        """A deterministic random subset of at most ``count`` crops (all of them when fewer)."""
        n = len(self)
        if count >= n:
            return self
        index = np.sort(np.random.default_rng(seed).choice(n, size=count, replace=False))
        labels = None if self.labels is None else self.labels[index]
        return CropData(self.crops[index], labels, self.source)


def _check_crops(crops: np.ndarray, size: int, source: str) -> np.ndarray:
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[-1] != 3:
        raise ExportError(f"{source}: crops must be (N, H, W, 3) RGB, got shape {list(crops.shape)}")
    if crops.shape[1:3] != (size, size):
        raise ExportError(
            f"{source}: crops are {crops.shape[1]}x{crops.shape[2]} but the model takes {size}x{size}; "
            "cut them with the run's crop parameters"
        )
    if crops.dtype != np.uint8:
        if crops.size and (crops.min() < 0 or crops.max() > 255):
            raise ExportError(f"{source}: crops must be uint8 pixels 0-255, got {crops.dtype} values outside that range")
        crops = np.clip(np.rint(crops), 0, 255).astype(np.uint8)
    return crops


def _check_labels(labels: Any, n: int, outputs: int, source: str) -> np.ndarray | None:
    if labels is None:
        return None
    arr = np.asarray(labels, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape != (n, outputs):
        raise ExportError(f"{source}: labels have shape {list(arr.shape)}, expected [{n}, {outputs}] (one column per AU)")
    return arr


def load_npz(path: Path, size: int, outputs: int) -> CropData:
    try:
        with np.load(path, allow_pickle=False) as data:
            crop_key = next((k for k in CROP_KEYS if k in data.files), None)
            if crop_key is None:
                raise ExportError(f"{path} holds {sorted(data.files)}; it needs crops under one of {', '.join(CROP_KEYS)}")
            crops = data[crop_key]
            label_key = next((k for k in LABEL_KEYS if k in data.files), None)
            labels = data[label_key] if label_key else None
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path} is not a readable .npz file ({exc}); pass a folder of crops or an .npz") from exc
    crops = _check_crops(crops, size, str(path))
    return CropData(crops, _check_labels(labels, len(crops), outputs, str(path)), str(path))


def load_image_folder(path: Path, size: int) -> CropData:
    """Aligned crops saved as images; other sizes are resized (bilinear) to the model's input."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    crops = []
    for file in files:
        try:
            with Image.open(file) as img:
                rgb = img.convert("RGB")
                if rgb.size != (size, size):
                    rgb = rgb.resize((size, size), Image.BILINEAR)
                crops.append(np.asarray(rgb, dtype=np.uint8))
        except (OSError, UnidentifiedImageError) as exc:
            raise ExportError(f"calibration image {file} cannot be read ({exc}); remove or replace it") from exc
    array = np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)
    return CropData(array, None, str(path))


def load_crop_file(path: str | Path, size: int, outputs: int) -> CropData:
    """``--calib-data`` / ``--val-data``: a folder of crop images or an .npz."""
    p = Path(path)
    if p.is_dir():
        return load_image_folder(p, size)
    if p.is_file() and p.suffix.lower() == ".npz":
        return load_npz(p, size, outputs)
    if not p.exists():
        raise ExportError(f"calibration data {p} not found; pass a folder of aligned crops or an .npz")
    raise ExportError(f"calibration data {p} is neither a folder nor an .npz file; pass a folder of aligned crops or an .npz")


def _split_arrays(cropset: Any, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows of one split of the data layer's CropSet (images, labels with NaN where unknown)."""
    mask = np.asarray(cropset.split) == split
    if not mask.any():
        present = sorted({str(s) for s in np.asarray(cropset.split)})
        raise ExportError(f"the run's data has no {split!r} rows (it has {present}); pass --calib-data/--val-data")
    return np.asarray(cropset.images)[mask], np.asarray(cropset.labels)[mask]


def load_run_cropset(run: Any) -> Any:
    """The run's whole CropSet (loaded once, then split), via ``load_run_crops``."""
    from auedge.train.runs import load_run_crops

    try:
        return load_run_crops(run)
    except ImportError as exc:
        raise ExportError(
            f"cannot load the run's data ({exc}); pass --calib-data and --val-data (folder of crops or .npz)"
        ) from exc
    except (ValueError, OSError) as exc:
        raise ExportError(f"cannot load the run's data: {str(exc).strip().splitlines()[0]}") from exc


def run_split(cropset: Any, run: Any, split: str, size: int, outputs: int) -> CropData:
    """One split (train/val/test) of the run's own data."""
    images, labels = _split_arrays(cropset, split)
    where = f"run {run.root.name} split {split!r}"
    crops = _check_crops(np.asarray(images), size, where)
    return CropData(crops, _check_labels(labels, len(crops), outputs, where), where)


def require_nonempty(data: CropData, what: str, flag: str) -> CropData:
    if len(data) == 0:
        raise ExportError(f"{what} set from {data.source} is empty; pass {flag} with at least one aligned crop")
    return data


def normalized(data: CropData, norm: Normalization) -> np.ndarray:
    """float32 model inputs, with the training normalisation (auedge.edge.preprocess.normalize)."""
    return normalize(data.crops, norm).astype(np.float32)


def representative_batches(inputs: np.ndarray) -> Iterator[np.ndarray]:
    """One [1, S, S, 3] float32 batch at a time: the fixed batch-1 shape every edge model has."""
    for i in range(inputs.shape[0]):
        yield inputs[i : i + 1]
