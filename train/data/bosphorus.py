"""Bosphorus 2D images -> manifest rows.

Layout: ``<data dir>/bsNNN/bsNNN_<KIND>_<CODE>_<n>.png`` with a ``.lm2`` landmark file beside each
image. The kind says what was captured and therefore what can be said about the AUs:

``LFAU``, ``UFAU``, ``CAU`` (lower/upper face and combined action units)
    posed FACS actions: every AU number in the code is present (1), every other AU column is
    absent (0). Letters around the numbers are ignored: ``12`` -> AU12, ``12LW``/``12L``/``12R``
    (unilateral/weak variants) -> AU12, ``1_2`` or ``A1A2`` -> AU1 and AU2.
``N`` (neutral), ``O`` (occlusions: eye, glasses, hair, mouth), ``YR``, ``PR``, ``CR`` (rotations)
    captured with a neutral face: all AUs 0. Occluded and turned faces are exactly the hard
    cases a robust model must get right.
``E`` (the six emotions)
    no AU coding: all AUs unknown (NaN), so the loader drops them unless an intensity file
    labels them.
``IGN``
    marked by the database as not to be used: skipped.

AU columns: ``au4``, ``au12`` and every AU number that appears in a code.

Intensities (optional, ``intensity_csv``): a CSV with a ``file`` column (the image name with or
without ``.png``, e.g. ``bs001_LFAU_12_0``) and any ``auN`` columns (0-5; empty means not
scored), e.g. ``file,au12,au4`` / ``bs001_LFAU_12_0,3,0``.

Occurrence or intensity: file names say only whether an AU is posed (1) or not (0), which is not an
intensity. The rows are built for one task kind (``kind``; when not given: ``intensity`` with an
intensity file, ``occurrence`` without, with a note on stderr), never a mix of the two scales:

``occurrence``
    every AU column 0/1 from the file names as above. An AU an intensity file scores (if one is
    given) takes its scores (the trainer reads a score >= 1 as present), absent stays 0, present
    but not scored becomes unknown (NaN).
``intensity``
    every value is an intensity 0-5 or unknown (NaN), never an occurrence code. For an AU the
    intensity file scores: the score where given; 0 where the AU is absent (a posed capture of
    other AUs, a neutral, occluded or turned face: none of them shows it); NaN where it is
    present (or, for ``E``, possibly present) but not scored. An AU the file scores for no image
    has no intensity at all: NaN in every row, and asking for it (``aus``, the task's AUs) is an
    error naming the AU and the file, with the fix: give the intensity CSV that scores it, or
    train the occurrence task. NaN is a missing label: the trainer masks it out of the loss and
    the metrics leave it out.

``.lm2`` (Bosphorus' 2D landmark text file)::

    # 2D Landmark File          <- header line(s)
    22 landmarks:
    Labels:                     <- optional
    Outer left eyebrow          <- one name per landmark
    ...
    2D Image coordinates:       <- (or "2D landmarks:") then one "x y" line per landmark
    123.4 210.0
    ...

Files may list fewer than 22 landmarks (occluded or turned faces). The five project points come
from: eye centres = mean of the outer and inner corner of each eye, nose tip, the two mouth
corners; each pair is then ordered by x so that "left" means image-left, as in MTFL. Images
whose file lacks any of those points (or has no ``.lm2``) are skipped and counted.

Splits: Bosphorus has no official test set, so whole subjects are carved into ``test`` by a
seed-independent hash (``test_fraction``, default 0.2) and the rest is the ``train`` pool.
"""

from __future__ import annotations

import csv
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from auedge.train.data.manifest import AU_COLUMN, DataError, ManifestRow, parse_au_value
from auedge.train.data.splits import carve_subjects

SUBJECT_DIR = re.compile(r"^bs\d{3}$")
FILE_NAME = re.compile(r"^(?P<subject>bs\d{3})_(?P<kind>LFAU|UFAU|CAU|E|N|O|YR|PR|CR|IGN)_(?P<code>.+)_(?P<n>\d+)$")
FACS_KINDS = ("LFAU", "UFAU", "CAU")
NEUTRAL_KINDS = ("N", "O", "YR", "PR", "CR")
BASE_AUS = (4, 12)
KINDS = ("occurrence", "intensity")
COUNT_LINE = re.compile(r"^(\d+)\s+landmarks:?$", re.IGNORECASE)
EYE_CORNERS = (("outer left eye corner", "inner left eye corner"), ("outer right eye corner", "inner right eye corner"))
NOSE = "nose tip"
MOUTH = ("left mouth corner", "right mouth corner")


@dataclass(frozen=True)
class BosphorusName:
    subject: str
    kind: str
    code: str
    take: int


def parse_file_name(stem: str) -> BosphorusName | None:
    """``bs001_LFAU_12_0`` -> (bs001, LFAU, 12, 0); None for names outside the scheme."""
    match = FILE_NAME.match(stem)
    if not match:
        return None
    return BosphorusName(match["subject"], match["kind"], match["code"], int(match["n"]))


def action_units(name: BosphorusName) -> set[int] | None:
    """AU numbers present (empty for neutral captures), or None when the capture has no AU coding."""
    if name.kind in FACS_KINDS:
        return {int(number) for number in re.findall(r"\d+", name.code)}
    if name.kind in NEUTRAL_KINDS:
        return set()
    return None


def occurrence_labels(name: BosphorusName, au_numbers: list[int]) -> dict[str, float]:
    present = action_units(name)
    if present is None:
        return {f"au{n}": math.nan for n in au_numbers}
    return {f"au{n}": float(n in present) for n in au_numbers}


def parse_lm2(path: str | Path) -> dict[str, np.ndarray]:
    """Landmark name (lower-case) -> (x, y) from a ``.lm2`` file."""
    path = Path(path)
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError as exc:
        raise DataError(f"landmark file {path} cannot be read ({exc.strerror})") from None
    count_at = next((i for i, line in enumerate(lines) if COUNT_LINE.match(line)), None)
    if count_at is None:
        raise DataError(f"{path}: no 'N landmarks:' line; is this a Bosphorus .lm2 file?")
    count = int(COUNT_LINE.match(lines[count_at]).group(1))
    body = [(i, line) for i, line in enumerate(lines[count_at + 1 :], start=count_at + 2) if line]
    if body and body[0][1].lower() == "labels:":
        body = body[1:]
    names = [line for _, line in body[:count]]
    rest = body[count:]
    if len(names) < count or not rest or not rest[0][1].endswith(":"):
        raise DataError(f"{path}: expected {count} landmark names, then a coordinates header like '2D Image coordinates:'")
    coordinates = rest[1 : 1 + count]
    if len(coordinates) < count:
        raise DataError(f"{path}: {count} landmarks announced but only {len(coordinates)} coordinate lines")
    points: dict[str, np.ndarray] = {}
    for name, (line_no, line) in zip(names, coordinates):
        try:
            x, y = (float(v) for v in line.split()[:2])
        except ValueError:
            raise DataError(f"{path} line {line_no}: {line!r} is not 'x y'") from None
        points[name.lower()] = np.array([x, y], dtype=np.float32)
    return points


def five_points(points: dict[str, np.ndarray]) -> np.ndarray | None:
    """The project's five landmarks (image-left first), or None when a needed point is missing."""
    needed = [*(c for pair in EYE_CORNERS for c in pair), NOSE, *MOUTH]
    if any(name not in points for name in needed):
        return None
    eyes = sorted((np.mean([points[outer], points[inner]], axis=0) for outer, inner in EYE_CORNERS), key=lambda p: p[0])
    mouth = sorted((points[name] for name in MOUTH), key=lambda p: p[0])
    return np.stack([eyes[0], eyes[1], points[NOSE], mouth[0], mouth[1]]).astype(np.float32)


def read_intensities(path: str | Path) -> dict[str, dict[str, float]]:
    """``file`` -> {auN: intensity} from an intensity CSV (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"intensity file {path} not found; pass an existing CSV with columns file,au12,au4,...")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        if "file" not in fields:
            raise DataError(f"intensity file {path}: no 'file' column (header {fields}); add file,au12,... as header")
        reader.fieldnames = fields
        au_fields = [f for f in fields if AU_COLUMN.match(f)]
        table = {}
        for record in reader:
            where = f"intensity file {path} line {reader.line_num}"
            stem = Path(record["file"].strip()).name.removesuffix(".png")
            values = {au: parse_au_value(record[au] or "", f"{where}, column {au}") for au in au_fields}
            table[stem] = {au: v for au, v in values.items() if not math.isnan(v)}
    return table


def intensity_labels(occurrence: dict[str, float], scores: dict[str, float], scored: set[str]) -> dict[str, float]:
    """Intensity labels of one capture (see the module docstring): its scores, 0 for AUs the file
    scores elsewhere and absent here, NaN for the rest (present but not scored, or never scored)."""
    return {
        au: scores.get(au, 0.0 if au in scored and occ == 0.0 else math.nan)
        for au, occ in occurrence.items()
    }


def check_scored(aus: list[str], scored: set[str], intensity_csv: str | Path | None) -> None:
    """One error line when an intensity task asks for AUs that no intensity file scores."""
    missing = [au for au in aus if au not in scored]
    if not missing:
        return
    names, task = ", ".join(missing), "+".join(aus)
    columns = ",".join(["file", *missing])
    fix = f"or use the occurrence task {task}-occurrence (file names give only occurrence 0/1)"
    if intensity_csv is None:
        raise DataError(
            f"bosphorus: task {task}-intensity needs {names} intensities but no intensity file was given; "
            f"give the intensity CSV ({columns}, scores 0-5): python -m auedge.train.data manifest --dataset "
            f"bosphorus --intensity-csv FILE --out bos.csv, then --dataset manifest --data-dir bos.csv; {fix}"
        )
    raise DataError(
        f"bosphorus: task {task}-intensity needs {names} intensities but intensity file {intensity_csv} scores "
        f"{names} for no image; add the {'columns' if len(missing) > 1 else 'column'} ({columns}, scores 0-5) "
        f"to it, {fix}"
    )


def build_manifest(
    data_dir: str | Path,
    intensity_csv: str | Path | None = None,
    test_fraction: float = 0.2,
    *,
    kind: str | None = None,
    aus: list[str] | None = None,
) -> list[ManifestRow]:
    """Scan a Bosphorus folder into manifest rows (absolute image paths).

    ``kind`` (``occurrence`` or ``intensity``) is the task kind the labels are for; None means
    ``intensity`` when ``intensity_csv`` is given, else ``occurrence``. ``aus`` are the task's AUs:
    with ``intensity``, each must be scored in the intensity file (else one DataError line).
    """
    if kind not in (None, *KINDS):
        raise DataError(f"bosphorus: label kind {kind!r} is not one of {', '.join(KINDS)}")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"data dir {data_dir} not found; pass --data-dir DIR (the Bosphorus folder) or use --dataset synthetic")
    images = sorted(p for d in data_dir.iterdir() if d.is_dir() and SUBJECT_DIR.match(d.name) for p in d.glob("*.png"))
    named = [(p, parse_file_name(p.stem)) for p in images]
    unnamed = [p for p, name in named if name is None]
    named = [(p, name) for p, name in named if name is not None and name.kind != "IGN"]
    if not named:
        raise DataError(f"data dir {data_dir}: no bsNNN/bsNNN_<KIND>_<CODE>_<n>.png images found; is it the Bosphorus folder?")
    intensities = read_intensities(intensity_csv) if intensity_csv else {}
    unknown = sorted(set(intensities) - {p.stem for p, _ in named})
    if unknown:
        raise DataError(f"intensity file {intensity_csv}: {len(unknown)} files not under {data_dir}, e.g. {unknown[0]}")
    numbers = set(BASE_AUS) | {n for _, name in named for n in action_units(name) or ()}
    scored = {au for values in intensities.values() for au in values}
    numbers |= {int(AU_COLUMN.match(au).group(1)) for au in scored}
    au_numbers = sorted(numbers)
    mode = kind or ("intensity" if intensity_csv else "occurrence")
    if mode == "intensity":
        wanted = [au.strip().lower() for au in aus or ()]
        # Without named AUs, an intensity file that scores nothing is still an error (all rows unknown).
        check_scored(wanted or ([] if scored else [f"au{n}" for n in sorted(BASE_AUS, reverse=True)]),
                     scored, intensity_csv)
    rows, no_landmarks = [], []
    for path, name in named:
        lm2 = path.with_suffix(".lm2")
        points = five_points(parse_lm2(lm2)) if lm2.is_file() else None
        if points is None:
            no_landmarks.append(path)
            continue
        labels, scores = occurrence_labels(name, au_numbers), intensities.get(path.stem, {})
        if mode == "intensity":
            labels = intensity_labels(labels, scores, scored)
        else:
            # Occurrence rows: a scored AU takes its scores; "present" without a score is unknown.
            labels |= {au: math.nan for au in scored if labels[au] == 1.0}
            labels |= scores
        meta = {"kind": name.kind, "code": name.code, "source": "bosphorus"}
        rows.append(ManifestRow(str(path.resolve()), name.subject, "train", labels, points, meta))
    if unnamed or no_landmarks:
        print(
            f"bosphorus: skipped {len(unnamed)} images with names outside the scheme and "
            f"{len(no_landmarks)} without eye/nose/mouth landmarks in their .lm2",
            file=sys.stderr,
        )
    if not rows:
        raise DataError(f"data dir {data_dir}: no image has a usable .lm2 file beside it")
    if kind is None and mode == "occurrence":
        print(
            "bosphorus: no intensity file, so every AU label is occurrence 0/1 from the file names: train an "
            "occurrence task (e.g. au12-occurrence), or give the intensity CSV (--intensity-csv) for intensities",
            file=sys.stderr,
        )
    subjects = np.array([row.subject for row in rows])
    test = carve_subjects(subjects, np.ones(len(rows), dtype=bool), test_fraction, seed=0, salt="bosphorus-test")
    for row, is_test in zip(rows, test):
        if is_test:
            row.split = "test"
    return rows
