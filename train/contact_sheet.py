"""Contact sheets to *look at* the training inputs: occluders on aligned faces, and synthetic faces.

    python train/contact_sheet.py --data-dir ../shared/data/mtfl --out experiments/occluders.png [--n 6] [--seed 0]
    python train/contact_sheet.py --synthetic-grid --out experiments/synthetic_faces.png [--n 24] [--seed 0]

The occluder sheet has one row per occluder kind (plus the bare crop) over N faces aligned with
the project's one crop (auedge.edge.align); it uses MTFL photos from ``--data-dir`` and falls back to
synthetic faces when that folder is absent. The synthetic grid shows generated faces with the
AU12/AU4 intensities drawn into them written underneath.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

# Run as a script, Python puts train/ first on sys.path; drop it so only the installed auedge.* names resolve.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import cv2
import numpy as np

try:
    from auedge.edge.align import CropParams, align_face, transform_points
    from auedge.train.data.synthetic import IMAGES_PER_SUBJECT, generate
    from auedge.train.occluders import MIX_KINDS, apply_occluder
except ImportError as exc:  # pragma: no cover - only without the package installed
    sys.exit(f"contact_sheet: cannot import auedge ({exc}); install the project first: pip install -e .")

LABEL_WIDTH = 118
TEXT_HEIGHT = 18
LANDMARKS = ("leye_x", "leye_y", "reye_x", "reye_y", "nose_x", "nose_y", "lmouth_x", "lmouth_y", "rmouth_x", "rmouth_y")


def mtfl_faces(data_dir: Path, n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """N frontal MTFL photos (pose 3) picked by ``seed``: (RGB image, (5, 2) landmarks)."""
    from PIL import Image

    with open(data_dir / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("pose") == "3"]
    if len(rows) < n:
        raise SystemExit(f"contact_sheet: {data_dir / 'labels.csv'} has only {len(rows)} frontal faces, need {n}")
    picked = np.random.default_rng(seed).choice(len(rows), size=n, replace=False)
    faces = []
    for i in picked:
        row = rows[int(i)]
        try:
            image = np.asarray(Image.open(data_dir / row["path"]).convert("RGB"))
        except OSError as exc:
            raise SystemExit(f"contact_sheet: cannot read {data_dir / row['path']}: {exc}") from exc
        faces.append((image, np.array([float(row[k]) for k in LANDMARKS], np.float64).reshape(5, 2)))
    return faces


def synthetic_faces(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    # Every other image so neighbouring cells show different people (5 images share an identity).
    faces = generate(n * 5, seed)
    return [(faces.images[k], faces.landmarks[k]) for k in range(0, n * 5, 5)]


def put_text(canvas: np.ndarray, text: str, x: int, y: int, scale: float = 0.45) -> None:
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (235, 235, 235), 1, cv2.LINE_AA)


def occluder_sheet(faces: list[tuple[np.ndarray, np.ndarray]], seed: int, size: int = 160) -> np.ndarray:
    """Rows: bare + each occluder kind; columns: faces. Each cell gets its own jitter (rng per cell)."""
    params = CropParams(size=size)
    crops = []
    for image, landmarks in faces:
        crop, matrix = align_face(image, landmarks[0], landmarks[1], params)
        crops.append((crop, transform_points(landmarks, matrix)))
    kinds = MIX_KINDS
    sheet = np.full((len(kinds) * size, LABEL_WIDTH + len(crops) * size, 3), 24, np.uint8)
    for r, kind in enumerate(kinds):
        put_text(sheet, kind, 6, r * size + size // 2 + 5)
        for c, (crop, lm) in enumerate(crops):
            cell = apply_occluder(crop, lm, kind, np.random.default_rng([seed, r, c]))
            sheet[r * size : (r + 1) * size, LABEL_WIDTH + c * size : LABEL_WIDTH + (c + 1) * size] = cell
    return sheet


def synthetic_grid(n: int, seed: int, columns: int = 8) -> np.ndarray:
    """Generated faces with their AU12 / AU4 intensities written under each.

    Each row follows a few identities through several of their images, so the sheet shows both
    the variety between people and the AU changes within one person.
    """
    per_identity = min(4, IMAGES_PER_SUBJECT)
    picks = [(k // per_identity) * IMAGES_PER_SUBJECT + k % per_identity for k in range(n)]
    faces = generate(picks[-1] + 1, seed)
    size = faces.images.shape[1]
    rows = (n + columns - 1) // columns
    sheet = np.full((rows * (size + TEXT_HEIGHT), columns * size, 3), 24, np.uint8)
    for cell, k in enumerate(picks):
        y, x = (cell // columns) * (size + TEXT_HEIGHT), (cell % columns) * size
        sheet[y : y + size, x : x + size] = faces.images[k]
        put_text(sheet, f"AU12 {faces.au12[k]:.1f}  AU4 {faces.au4[k]:.1f}", x + 6, y + size + 13, 0.42)
    return sheet


def save_png(image: np.ndarray, out: Path) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".png", dir=out.parent)
    os.close(fd)
    try:
        Image.fromarray(image).save(tmp, format="PNG", optimize=True)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a committed figure should be readable by all
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Contact sheet of occluders on aligned faces, or of synthetic faces.")
    parser.add_argument("--data-dir", type=Path, default=None, help="MTFL folder with labels.csv (else synthetic faces)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--n", type=int, default=None, help="faces per row (default 6; 24 for --synthetic-grid)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic-grid", action="store_true", help="grid of generated faces with their AU values")
    args = parser.parse_args(argv)
    n = args.n if args.n is not None else (24 if args.synthetic_grid else 6)
    if n < 1:
        parser.error(f"--n must be at least 1, got {n}")
    if args.synthetic_grid:
        sheet = synthetic_grid(n, args.seed)
    else:
        if args.data_dir is not None and (args.data_dir / "labels.csv").is_file():
            faces = mtfl_faces(args.data_dir, n, args.seed)
        else:
            if args.data_dir is not None:
                print(f"contact_sheet: {args.data_dir / 'labels.csv'} not found; using synthetic faces", file=sys.stderr)
            faces = synthetic_faces(n, args.seed)
        sheet = occluder_sheet(faces, args.seed)
    save_png(sheet, args.out)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
