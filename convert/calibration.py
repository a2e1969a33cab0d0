"""Calibration and validation crops: aligned uint8 faces, normalised exactly as in training.

Quantization is only as good as its representative data, and validation only means something on
held-out faces cut the way the device cuts them. So the crops come from the run's own data layer
(``auedge.train.runs.load_run_crops``: same dataset, crop and labels) unless the user hands over
``--calib-data`` / ``--val-data``: a folder of aligned crop images or an ``.npz`` of uint8 crops
(``crops``/``images``/``x``) with optional ``labels``/``y``.

The run's own crops carry the run's occluders, pasted as the trainer pasted them
(``auedge.train.runs.occlude_for``): validation the trainer's fixed validation occluders, calibration
the training mix. A run that learned on masked faces must be quantized and judged on masked faces,
or int8 ranges never see a mask and an occlusion flag is only ever checked on bare faces. Crops a
user supplies are used as they are (``occluders`` records ``as supplied``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from auedge.convert.errors import ExportError
from auedge.edge.preprocess import Normalization, normalize

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
CROP_KEYS = ("crops", "images", "x", "X")
LABEL_KEYS = ("labels", "y", "Y")


AS_SUPPLIED = {"kind": "as supplied"}  # the occluder record of user crops: whatever they show


@dataclass(frozen=True)
class CropData:
    """``crops`` (N, S, S, 3) uint8 RGB; ``labels`` (N, K) float or None; ``source`` for the record;
    ``occluders`` says which occluder condition the crops show (recorded beside every figure)."""

    crops: np.ndarray
    labels: np.ndarray | None
    source: str
    occluders: dict[str, Any] = field(default_factory=lambda: dict(AS_SUPPLIED))

    def __len__(self) -> int:
        return int(self.crops.shape[0])

    def take(self, count: int, seed: int = 0) -> CropData:
        """A deterministic random subset of at most ``count`` crops (all of them when fewer)."""
        index = pick(len(self), count, seed)
        if index is None:
            return self
        labels = None if self.labels is None else self.labels[index]
        return CropData(self.crops[index], labels, self.source, self.occluders)


def pick(n: int, count: int | None, seed: int = 0) -> np.ndarray | None:
    """Sorted positions of a deterministic random ``count`` of ``n`` rows; None for all of them."""
    if count is None or count >= n:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=count, replace=False))


def _pixels_or_none(crops: np.ndarray) -> np.ndarray | None:
    """``crops`` as uint8 when they already hold 0-255 pixel values, else None.

    Why so strict: rounding float crops saved in [0, 1] would silently give 0/1 pixels, nearly
    black faces, and calibrate and validate on them. Whole numbers 0-255 of any numeric dtype are
    pixels stored wide; anything else is not.
    """
    if crops.dtype == np.uint8:
        return crops
    if not (np.issubdtype(crops.dtype, np.integer) or np.issubdtype(crops.dtype, np.floating)):
        return None
    if crops.size == 0:
        return crops.astype(np.uint8)
    wide = crops.astype(np.float64)
    if not np.all(np.isfinite(wide)) or wide.min() < 0 or wide.max() > 255 or np.any(wide != np.rint(wide)):
        return None
    return wide.astype(np.uint8)


def _value_span(crops: np.ndarray) -> str:
    """``values 0.0003 to 1`` (finite ones), for the error that refuses them."""
    if not np.issubdtype(crops.dtype, np.number):
        return "values"
    finite = crops[np.isfinite(crops)] if np.issubdtype(crops.dtype, np.floating) else crops
    span = f"values {float(finite.min()):.3g} to {float(finite.max()):.3g}" if finite.size else "values"
    return span + (" and NaN/inf" if finite.size < crops.size else "")


def _check_crops(crops: np.ndarray, size: int, source: str) -> np.ndarray:
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[-1] != 3:
        raise ExportError(f"{source}: crops must be (N, H, W, 3) RGB, got shape {list(crops.shape)}")
    if crops.shape[1:3] != (size, size):
        raise ExportError(
            f"{source}: crops are {crops.shape[1]}x{crops.shape[2]} but the model takes {size}x{size}; "
            "cut them with the run's crop parameters"
        )
    pixels = _pixels_or_none(crops)
    if pixels is None:
        raise ExportError(
            f"{source}: crops are {crops.dtype} {_value_span(crops)}, not pixels; uint8 RGB crops 0-255 are expected "
            "(save them as uint8, e.g. np.rint(crops * 255).astype(np.uint8) for floats in 0-1)"
        )
    return pixels


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


def _split_rows(cropset: Any, split: str) -> np.ndarray:
    """Boolean mask of one split of the data layer's CropSet."""
    mask = np.asarray(cropset.split) == split
    if not mask.any():
        present = sorted({str(s) for s in np.asarray(cropset.split)})
        raise ExportError(f"the run's data has no {split!r} rows (it has {present}); pass --calib-data/--val-data")
    return mask


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


def _occluded(cropset: Any, rows: np.ndarray, positions: np.ndarray, run: Any, split: str,
              purpose: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The chosen rows' images with the run's occluders for ``purpose`` pasted on, and their record.

    ``positions`` are the rows' places within their split: the trainer seeds each face's occluder
    by that place, so pasting only the faces in use still gives the pixels it scored.
    """
    from auedge.train.runs import occlude_for, occluders_for

    images = np.asarray(cropset.images)[rows]
    try:
        record = occluders_for(run.config, split, purpose)
        if record["kind"] == "none":
            return images, record
        landmarks = getattr(cropset, "landmarks", None)
        if landmarks is None:
            raise ExportError(f"the run's data has no landmarks to paste its {record['kind']!r} occluders on; "
                              "pass --calib-data/--val-data")
        return occlude_for(images, np.asarray(landmarks)[rows], record, positions), record
    except ValueError as exc:
        raise ExportError(f"cannot paste the run's occluders: {exc}; pass --calib-data/--val-data") from exc


def run_split(cropset: Any, run: Any, split: str, size: int, outputs: int, purpose: str = "validation",
              count: int | None = None, seed: int = 0) -> CropData:
    """``count`` faces (``CropData.take``'s choice; None: all) of one split of the run's own data,
    with the run's occluders for ``purpose`` (``calibration``: the training mix; ``validation``:
    the trainer's validation occluders)."""
    in_split = np.flatnonzero(_split_rows(cropset, split))
    positions = pick(len(in_split), count, seed)
    positions = np.arange(len(in_split)) if positions is None else positions
    rows = in_split[positions]
    images, record = _occluded(cropset, rows, positions, run, split, purpose)
    where = f"run {run.root.name} split {split!r}"
    if record["kind"] != "none":
        where += f" with {record['setting']} occluders {record['kind']!r} (seed {record['seed']})"
    crops = _check_crops(images, size, where)
    labels = np.asarray(cropset.labels)[rows]
    return CropData(crops, _check_labels(labels, len(crops), outputs, where), where, record)


def require_nonempty(data: CropData, what: str, flag: str) -> CropData:
    if len(data) == 0:
        raise ExportError(f"{what} set from {data.source} is empty; pass {flag} with at least one aligned crop")
    return data


def normalized(data: CropData, norm: Normalization) -> np.ndarray:
    """float32 model inputs, with the training normalisation (auedge.edge.preprocess.normalize)."""
    return normalize(data.crops, norm).astype(np.float32)


def representative_batches(inputs: np.ndarray) -> Iterator[np.ndarray]:
    """One [1, S, S, 3] float32 batch at a time: one face, as a device runs it without flip averaging."""
    for i in range(inputs.shape[0]):
        yield inputs[i : i + 1]
