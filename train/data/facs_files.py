"""The file conventions CK+ and UNBC-McMaster share, read once for both readers.

Both come from the same lab (Jeffrey Cohn's, University of Pittsburgh) and were written by the same
tools: a FACS-coded frame has a ``<frame>_facs.txt`` whose lines start with the AU number and its
intensity, written as floats (``4.0000000e+00   3.0000000e+00``); a tracked frame has a text file of
AAM landmarks, one ``x y`` line a point (68 points in CK+, 66 in UNBC-McMaster); and the zips of both
downloads unpack with or without an extra folder level. The two readers differ in what a file may
hold (an empty FACS file, extra columns, the point count), so those are arguments here, and each
reader keeps its own messages about what to restore.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from auedge.train.data.manifest import DataError
from auedge.train.data.splits import check_split_options

# The 68-point markup (0-based) and the 66-point one (the 68 without the two inner mouth corners,
# 60 and 64) share these indices: 36-41 and 42-47 the two eye contours, 30 the nose tip, 48 and 54
# the outer mouth corners.
LEFT_EYE, RIGHT_EYE, NOSE_TIP, MOUTH_CORNERS = range(36, 42), range(42, 48), 30, (48, 54)
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}
KINDS = ("occurrence", "intensity")


def checked_root(data_dir: str | Path, *, dataset: str, name: str, holding: str, kind: str, test_fraction: float,
                 all_split: str | None) -> Path:
    """A reader's common arguments checked before any work: the label kind, the split options, and
    the dataset folder (``holding``: the folders it must hold, for the message)."""
    if kind not in KINDS:
        raise DataError(f"{dataset}: label kind {kind!r} is not one of {', '.join(KINDS)}")
    check_split_options(dataset, test_fraction, all_split)
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"{name} folder {root} not found; pass --data-dir the folder holding {holding}")
    return root


def find_folder(root: Path, names: tuple[str, ...]) -> Path | None:
    """``root/NAME`` or ``root/NAME/NAME`` or ``root/NAME_labels/NAME`` (how the zips unpack), else None."""
    for name in names:
        for candidate in (root / name / name, root / name, root / f"{name}_labels" / name):
            if candidate.is_dir():
                return candidate
    return None


def read_text_lines(path: Path, what: str, restore: str) -> list[str]:
    """The lines of a label file, or one DataError naming it and where to restore it from."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"{what} {path} cannot be read ({exc.strerror}); {restore}") from None


def read_facs_codes(path: Path, *, widths: tuple[int, ...], fix: str, restore: str, first_au: int = 1) -> dict[int, float]:
    """AU number -> intensity (0 = present, intensity not scored; 1-5 = A-E) of one ``_facs.txt``.

    A line holds one of ``widths`` numbers, AU and intensity first; an AU listed twice keeps its
    highest intensity. AU numbers below ``first_au`` are read and checked but not returned (UNBC's
    files may hold FACS' AU 0, "neutral face"). ``fix`` says what a line must look like."""
    codes: dict[int, float] = {}
    count = " or ".join(NUMBER_WORDS.get(w, str(w)) for w in widths)
    for number, line in enumerate(read_text_lines(path, "FACS file", restore), start=1):
        cells = line.split()
        if not cells:
            continue
        where = f"FACS file {path} line {number}: {line.strip()!r}"
        if len(cells) not in widths:
            raise DataError(f"{where} has {len(cells)} values; {fix}")
        try:
            values = [float(cell) for cell in cells]
        except ValueError:
            raise DataError(f"{where} is not {count} numbers; {fix}") from None
        au, intensity = values[0], values[1]
        if not (math.isfinite(au) and au >= first_au and au == int(au)):
            raise DataError(f"{where}: AU number {cells[0]!r} is not a whole number >= {first_au}; {fix}")
        if intensity not in (0, 1, 2, 3, 4, 5):
            raise DataError(f"{where}: intensity {cells[1]!r} is not 0-5 (0 = not scored); {fix}")
        if au >= max(first_au, 1):
            codes[int(au)] = max(codes.get(int(au), 0.0), intensity)
    return codes


def read_points(path: Path, count: int, restore: str) -> np.ndarray:
    """The ``count`` (x, y) points of one landmark file, one ``x y`` line a point."""
    try:
        rows = [line.split() for line in read_text_lines(path, "landmark file", restore) if line.strip()]
        points = np.array(rows, dtype=np.float64)
    except ValueError:
        points = np.zeros((0,))
    if points.shape != (count, 2) or not np.isfinite(points).all():
        raise DataError(f"landmark file {path}: expected {count} lines of 'x y' numbers; {restore}")
    return points


def five_points(points: np.ndarray) -> np.ndarray:
    """The project's five landmarks (MTFL order, image-left first) from the 68- or 66-point markup:
    eye centre = mean of its six contour points, the nose tip, the two outer mouth corners; each
    pair ordered by x so "left" is image-left, as in MTFL."""
    eyes = sorted((points[list(LEFT_EYE)].mean(axis=0), points[list(RIGHT_EYE)].mean(axis=0)), key=lambda p: p[0])
    mouth = sorted((points[MOUTH_CORNERS[0]], points[MOUTH_CORNERS[1]]), key=lambda p: p[0])
    return np.stack([eyes[0], eyes[1], points[NOSE_TIP], mouth[0], mouth[1]]).astype(np.float32)


def au_labels(codes: dict[int, float] | None, au_numbers: list[int], kind: str) -> dict[str, float]:
    """One frame's labels from its FACS codes (``None``: a neutral frame, nothing coded). FACS coding
    lists every AU present, so an AU not listed is absent (0). ``occurrence``: 1 where listed;
    ``intensity``: the scored 1-5, and NaN (unknown) where listed with intensity 0 ("not scored"), so
    no occurrence code is ever read as an intensity."""
    codes = codes or {}
    if kind == "occurrence":
        return {f"au{n}": float(n in codes) for n in au_numbers}
    return {f"au{n}": (codes[n] or math.nan) if n in codes else 0.0 for n in au_numbers}
