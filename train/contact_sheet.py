"""Contact sheets to *look at* the training inputs: occluders on aligned faces, and synthetic faces.

    python train/contact_sheet.py --out experiments/occluders_synthetic.png [--n 6] [--seed 0]
    python train/contact_sheet.py --data-dir ../shared/data/mtfl --out experiments/local/occluders.png
    python train/contact_sheet.py --synthetic-grid --out experiments/synthetic_faces.png [--n 24] [--seed 0]
    python train/contact_sheet.py --geometry --data-dir ../shared/data --out experiments/local/crop_geometry.png

The occluder sheet has one row per occluder kind (plus the bare crop) over N faces aligned with
the project's one crop (auedge.edge.align); it uses MTFL photos from ``--data-dir`` and falls back to
synthetic faces when that folder is absent. The synthetic grid shows generated faces with the
AU12/AU4 intensities drawn into them written underneath. The geometry sheet (``--geometry``, with
``--data-dir`` holding mtfl/ and fer2013/) puts FER2013 frames, their crops (detector path and template
path), MTFL training crops and the crops the device cuts from a camera-sized frame side by side, to
see that a model trained on FER sees faces the way a device will show them.

A sheet drawn from a dataset's photos is a copy of licensed images: it is for looking at, never for
committing. So such a sheet is refused at a path git would track (one line, exit 2); write it under
``experiments/local/`` (git-ignored) or outside the repository. Sheets of synthetic faces are free to commit.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
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


def geometry_sheet(data_root: Path, n: int, seed: int, size: int = 160) -> np.ndarray:
    """Rows: FER frames as stored; their crops from the detector; FER crops from the template (faces
    the detector missed); MTFL training crops (detector keypoints on the photo); the device's crops
    (the MTFL photo shrunk into a 640x480 frame, eyes 40 px apart, through the edge runtime's detector)."""
    from auedge.benchmarks.detection import far_scene
    from auedge.edge.align import align_points
    from auedge.train.data import fer2013
    from auedge.train.data.images import detector_keypoints
    from auedge.train.data.loader import open_training_detector

    params = CropParams(size=size)
    detector = open_training_detector()
    rng = np.random.default_rng(seed)
    with open(data_root / "fer2013" / "labels.csv", newline="") as fh:
        fer_rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
    found, missed = [], []
    for i in rng.permutation(len(fer_rows)):
        if len(found) >= n and len(missed) >= n:
            break
        frame = fer2013.read_frame(str(data_root / "fer2013" / fer_rows[int(i)]["path"]))
        points = fer2013.frame_keypoints(detector, frame)
        target = found if points is not None else missed
        if len(target) < n:
            crop, _ = align_points(frame, points if points is not None else fer2013.template_for(frame), params)
            target.append((cv2.resize(frame, (size, size), interpolation=cv2.INTER_NEAREST), crop))
    mtfl_train, device = [], []
    for image, landmarks in mtfl_faces(data_root / "mtfl", n, seed):
        keypoints = detector_keypoints(detector, image, landmarks.astype(np.float32))
        mtfl_train.append(align_points(image, keypoints if keypoints is not None else landmarks[[0, 1, 2, 3]], params)[0])
        frame, points = far_scene(image, landmarks.astype(np.float32), 40.0)
        keypoints = detector_keypoints(detector, frame, points)
        device.append(align_points(frame, keypoints, params)[0] if keypoints is not None else np.zeros_like(crop))
    detector.backend.close()
    rows = [("FER frame", [f for f, _ in found]), ("FER detector", [c for _, c in found]),
            ("FER template", [c for _, c in missed]), ("MTFL training", mtfl_train), ("device 640x480", device)]
    sheet = np.full((len(rows) * size, LABEL_WIDTH + n * size, 3), 24, np.uint8)
    for r, (label, cells) in enumerate(rows):
        put_text(sheet, label, 6, r * size + size // 2 + 5)
        for c, cell in enumerate(cells[:n]):
            sheet[r * size : (r + 1) * size, LABEL_WIDTH + c * size : LABEL_WIDTH + (c + 1) * size] = cell
    return sheet


def save_png(image: np.ndarray, out: Path) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    from auedge.edge.atomic_io import atomic_writer
    from PIL import Image

    with atomic_writer(out, "wb") as handle:  # readable by all (0644): a committed figure
        Image.fromarray(image).save(handle, format="PNG", optimize=True)


def committable(out: Path) -> bool:
    """True when ``out`` lies in a git work tree and git would not ignore it (so ``git add -A`` takes it).

    Outside a repository, or without git, nothing can be committed by accident: False."""
    folder = out.resolve().parent
    while not folder.exists():
        folder = folder.parent
    try:
        inside = subprocess.run(["git", "-C", str(folder), "rev-parse", "--is-inside-work-tree"],
                                capture_output=True, text=True, check=False, timeout=10)
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return False
        ignored = subprocess.run(["git", "-C", str(folder), "check-ignore", "-q", str(out.resolve())],
                                 capture_output=True, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return ignored.returncode == 1  # 0: ignored; 1: not ignored; 128: error (treated as not committable)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Contact sheet of occluders on aligned faces, or of synthetic faces.")
    parser.add_argument("--data-dir", type=Path, default=None, help="MTFL folder with labels.csv (else synthetic faces)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--n", type=int, default=None, help="faces per row (default 6; 24 for --synthetic-grid)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic-grid", action="store_true", help="grid of generated faces with their AU values")
    parser.add_argument("--geometry", action="store_true",
                        help="FER2013 and MTFL crops beside the device's (--data-dir: the folder holding mtfl/, fer2013/)")
    args = parser.parse_args(argv)
    n = args.n if args.n is not None else (24 if args.synthetic_grid else 6)
    if n < 1:
        parser.error(f"--n must be at least 1, got {n}")
    from_dataset = args.geometry or (args.data_dir is not None and (args.data_dir / "labels.csv").is_file())
    if from_dataset and committable(args.out):
        print(f"contact_sheet: {args.out} is a path git would commit, and this sheet shows dataset photos that "
              "must not be committed; write it under experiments/local/ (git-ignored) or outside the repository",
              file=sys.stderr)
        return 2
    if args.geometry:
        if args.data_dir is None or not (args.data_dir / "fer2013" / "labels.csv").is_file():
            parser.error("--geometry needs --data-dir holding mtfl/ and fer2013/ (e.g. ../shared/data)")
        sheet = geometry_sheet(args.data_dir, n, args.seed)
    elif args.synthetic_grid:
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
