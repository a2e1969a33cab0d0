"""The one manifest format every dataset adapter produces, and its strict reader.

A manifest is a CSV file, one row per face image:

``path``
    image path, relative to the manifest's folder or absolute (required).
``subject``
    person id (required column; an empty value means "one subject per image": the path is used),
    so that train/validation splits can keep each person on one side.
``split``
    ``train``, ``val`` or ``test`` (required). When no row says ``val``, the loader carves a
    subject-disjoint validation set out of ``train``.
``auN`` (any N, e.g. ``au4``, ``au12``)
    optional AU labels: intensity 0-5 or occurrence 0/1; empty means unknown.
``leye_x, leye_y, reye_x, reye_y, nose_x, nose_y, lmouth_x, lmouth_y, rmouth_x, rmouth_y``
    optional five landmarks in image pixels, MTFL's order (image-left eye, image-right eye, nose,
    image-left mouth corner, image-right mouth corner); all ten columns or none, and per row all
    ten values or none.
anything else
    kept as string metadata (pose, glasses, gender, source...).

Column names are case-insensitive and stored lower-case. Every problem is a :class:`DataError`
naming the file, the line and the column, and saying how to fix it, because a silently skipped
column or a label read as zero is a wrong model that looks right.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from auedge.edge.atomic_io import atomic_writer

REQUIRED_COLUMNS = ("path", "subject", "split")
SPLITS = ("train", "val", "test")
LANDMARK_COLUMNS = (
    "leye_x", "leye_y", "reye_x", "reye_y", "nose_x", "nose_y", "lmouth_x", "lmouth_y", "rmouth_x", "rmouth_y",
)
AU_COLUMN = re.compile(r"^au(\d+)$")
AU_RANGE = (0.0, 5.0)
MISSING = {"", "na", "nan", "none", "null"}


class DataError(ValueError):
    """Unusable training data; the message names the file (and row/column) and the fix."""


@dataclass
class ManifestRow:
    """One face image with what is known about it.

    ``aus`` maps a lower-case AU column (``"au12"``) to its value, NaN when unknown;
    ``landmarks`` is (5, 2) float32 in image pixels (MTFL order) or None when the row has none.
    """

    path: str
    subject: str
    split: str
    aus: dict[str, float] = field(default_factory=dict)
    landmarks: np.ndarray | None = None
    meta: dict[str, str] = field(default_factory=dict)


def au_sort_key(name: str) -> int:
    match = AU_COLUMN.match(name)
    return int(match.group(1)) if match else 10**6


def parse_au_value(text: str, where: str) -> float:
    """A label cell: empty -> NaN (unknown), else a number in 0-5."""
    if text.strip().lower() in MISSING:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: {text!r} is not a number; write an intensity 0-5, 0/1, or leave it empty") from None
    if not AU_RANGE[0] <= value <= AU_RANGE[1]:
        raise DataError(f"{where}: {value} is outside 0-5; AU labels are intensities 0-5 or occurrence 0/1")
    return value


def parse_landmarks(cells: list[str], where: str) -> np.ndarray | None:
    """Ten landmark cells -> (5, 2) array, or None when all are empty."""
    empty = [c.strip().lower() in MISSING for c in cells]
    if all(empty):
        return None
    if any(empty):
        missing = [LANDMARK_COLUMNS[i] for i, e in enumerate(empty) if e]
        raise DataError(f"{where}: landmark values {missing} are empty; give all ten landmark values or none")
    values = []
    for name, cell in zip(LANDMARK_COLUMNS, cells):
        try:
            value = float(cell)
        except ValueError:
            raise DataError(f"{where}, column {name}: {cell!r} is not a number (pixels)") from None
        if not math.isfinite(value):
            raise DataError(f"{where}, column {name}: {cell!r} is not a finite pixel coordinate")
        values.append(value)
    return np.asarray(values, dtype=np.float32).reshape(5, 2)


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Read and validate a manifest; row paths come back absolute (resolved against its folder)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"manifest {path} not found; pass the CSV file or a folder holding manifest.csv")
    base = path.resolve().parent
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"manifest {path} is empty; it needs a header with {', '.join(REQUIRED_COLUMNS)}") from None
        columns = [name.strip().lower() for name in header]
        _check_header(path, columns)
        index = {name: i for i, name in enumerate(columns)}
        au_names = sorted((c for c in columns if AU_COLUMN.match(c)), key=au_sort_key)
        has_landmarks = any(c in index for c in LANDMARK_COLUMNS)
        meta_names = [c for c in columns if c not in REQUIRED_COLUMNS and c not in au_names and c not in LANDMARK_COLUMNS]
        rows = []
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            where = f"manifest {path} line {line}"
            if len(cells) != len(columns):
                raise DataError(f"{where}: {len(cells)} cells but the header has {len(columns)}; fix the row's commas")
            rows.append(_parse_row(cells, index, au_names, has_landmarks, meta_names, base, where))
    return rows


def _check_header(path: Path, columns: list[str]) -> None:
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise DataError(f"manifest {path}: duplicate columns {duplicates}; keep one of each")
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            raise DataError(
                f"manifest {path}: missing required column {name!r} (header has {columns}); "
                f"the header must include {', '.join(REQUIRED_COLUMNS)}"
            )
    present = [c for c in LANDMARK_COLUMNS if c in columns]
    if present and len(present) != len(LANDMARK_COLUMNS):
        missing = [c for c in LANDMARK_COLUMNS if c not in columns]
        raise DataError(f"manifest {path}: landmark columns {missing} are missing; give all ten or none")


def _parse_row(
    cells: list[str],
    index: dict[str, int],
    au_names: list[str],
    has_landmarks: bool,
    meta_names: list[str],
    base: Path,
    where: str,
) -> ManifestRow:
    raw_path = cells[index["path"]].strip()
    if not raw_path:
        raise DataError(f"{where}, column path: empty; give the image path (relative to the manifest or absolute)")
    split = cells[index["split"]].strip().lower()
    if split not in SPLITS:
        raise DataError(f"{where}, column split: {split!r} is not one of {', '.join(SPLITS)}; fix the value")
    subject = cells[index["subject"]].strip() or raw_path
    aus = {name: parse_au_value(cells[index[name]], f"{where}, column {name}") for name in au_names}
    landmarks = parse_landmarks([cells[index[c]] for c in LANDMARK_COLUMNS], where) if has_landmarks else None
    meta = {name: cells[index[name]].strip() for name in meta_names}
    resolved = Path(raw_path) if Path(raw_path).is_absolute() else base / raw_path
    return ManifestRow(str(resolved), subject, split, aus, landmarks, meta)


def _format_number(value: float) -> str:
    """Shortest text that reads back to the same value (float32 landmarks stay short); NaN -> empty."""
    return np.format_float_positional(value, trim="-") if math.isfinite(value) else ""


def write_manifest(rows: Iterable[ManifestRow], path: str | Path) -> Path:
    """Write rows as a manifest (atomically). Absolute paths under the manifest's folder become relative."""
    path = Path(path)
    rows = list(rows)
    base = path.resolve().parent
    au_names = sorted({name for row in rows for name in row.aus}, key=au_sort_key)
    bad = [name for name in au_names if not AU_COLUMN.match(name)]
    if bad:
        raise DataError(f"cannot write manifest {path}: AU names {bad} are not like 'au12'")
    has_landmarks = any(row.landmarks is not None for row in rows)
    meta_names: list[str] = []
    for row in rows:
        meta_names += [name for name in row.meta if name not in meta_names]
    header = [*REQUIRED_COLUMNS, *au_names, *(LANDMARK_COLUMNS if has_landmarks else ()), *meta_names]
    with atomic_writer(path, "w") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            cells = [_relative(row.path, base), row.subject, row.split]
            cells += [_format_number(row.aus.get(name, math.nan)) for name in au_names]
            if has_landmarks:
                points = row.landmarks
                cells += [""] * 10 if points is None else [_format_number(v) for v in np.ravel(points)]
            cells += [row.meta.get(name, "") for name in meta_names]
            writer.writerow(cells)
    return path


def _relative(image_path: str, base: Path) -> str:
    candidate = Path(image_path)
    if candidate.is_absolute():
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            return str(candidate)
    return candidate.as_posix()
