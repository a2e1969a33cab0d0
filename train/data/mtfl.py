"""MTFL (``labels.csv`` of ../shared/data/mtfl) -> manifest rows.

What is taken from MTFL and why:

- ``smile`` -> ``au12`` occurrence (1 smiling / 0 not): the only AU-like label MTFL has; it is a
  noisy proxy, so results on it are reported as "AU12 (smile proxy)".
- the five landmarks, already in MTFL's (= the project's) order.
- ``glasses``, ``pose``, ``gender``, ``source`` as metadata, for per-group accuracy (glasses are a
  real eye-region occlusion).
- subjects: LFW files are named ``First_Last_NNNN.jpg`` so the person is ``First_Last``; the web
  and AFLW images carry no identity, so each image is its own subject.
- splits: ``training`` -> ``train`` (the pool the validation set is carved from), ``testing`` ->
  ``test``, untouched.
"""

from __future__ import annotations

import csv
import os
import posixpath
import re
from pathlib import Path

from auedge.train.data.manifest import LANDMARK_COLUMNS, DataError, ManifestRow, parse_landmarks

LABELS_FILE = "labels.csv"
SPLIT_NAMES = {"training": "train", "testing": "test"}
META_COLUMNS = ("pose", "glasses", "gender", "source")
REQUIRED = ("path", "split", "smile", *META_COLUMNS, *LANDMARK_COLUMNS)
LFW_NAME = re.compile(r"^(?P<person>.+)_\d{4}$")


def subject_from_path(relative_path: str) -> str:
    """``lfw_5590/Aaron_Eckhart_0001.jpg`` -> ``Aaron_Eckhart``; other images are their own subject."""
    # String operations, not pathlib: this runs for every one of MTFL's 12,995 rows.
    folder, _, name = relative_path.rpartition("/")
    stem = posixpath.splitext(relative_path)[0]
    match = LFW_NAME.match(posixpath.splitext(name)[0])
    return match.group("person") if folder.startswith("lfw") and match else stem


def build_manifest(data_dir: str | Path) -> list[ManifestRow]:
    """Read ``labels.csv`` of an MTFL folder into manifest rows (absolute image paths)."""
    data_dir = Path(data_dir)
    labels = data_dir / LABELS_FILE
    if not data_dir.is_dir():
        raise DataError(f"data dir {data_dir} not found; pass --data-dir DIR (the MTFL folder) or use --dataset synthetic")
    if not labels.is_file():
        raise DataError(f"{labels} not found; --data-dir must be the MTFL folder holding {LABELS_FILE}")
    root = str(data_dir.resolve())
    rows = []
    with open(labels, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{labels}: missing columns {missing}; is this MTFL's labels.csv?")
        for record in reader:
            where = f"{labels} line {reader.line_num}"
            split = SPLIT_NAMES.get(record["split"].strip())
            if split is None:
                raise DataError(f"{where}, column split: {record['split']!r} is not 'training' or 'testing'")
            smile = record["smile"].strip()
            if smile not in ("0", "1"):
                raise DataError(f"{where}, column smile: {smile!r} is not 0 or 1")
            landmarks = parse_landmarks([record[c] for c in LANDMARK_COLUMNS], where)
            rows.append(
                ManifestRow(
                    path=os.path.join(root, record["path"]),
                    subject=subject_from_path(record["path"]),
                    split=split,
                    aus={"au12": float(smile)},
                    landmarks=landmarks,
                    meta={name: record[name].strip() for name in META_COLUMNS},
                )
            )
    if not rows:
        raise DataError(f"{labels} has no rows")
    return rows
