"""Small on-disk datasets for the data-layer tests: face-like PNGs with known landmarks."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from auedge.train.data.manifest import ManifestRow, write_manifest

# Five points (image-left eye, image-right eye, nose, image-left mouth, image-right mouth) on a 120x140 image.
BASE_POINTS = np.array([[40, 50], [80, 50], [60, 75], [45, 100], [75, 100]], dtype=np.float32)
BOSPHORUS_NAMES = (
    "Outer left eyebrow", "Middle left eyebrow", "Inner left eyebrow", "Inner right eyebrow", "Middle right eyebrow",
    "Outer right eyebrow", "Outer left eye corner", "Inner left eye corner", "Inner right eye corner",
    "Outer right eye corner", "Nose saddle left", "Nose saddle right", "Left nose peak", "Nose tip",
    "Right nose peak", "Left mouth corner", "Upper lip outer middle", "Right mouth corner",
    "Upper lip inner middle", "Lower lip inner middle", "Lower lip outer middle", "Chin middle",
)


def face_image(seed: int, height: int = 140, width: int = 120) -> np.ndarray:
    """A textured RGB image (random but deterministic) so crops differ between files."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    for x, y in BASE_POINTS:
        cv2.circle(image, (int(x), int(y)), 4, (255, 0, 0), -1)
    return image


def write_png(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def make_manifest_dataset(root: Path, subjects: int = 6, per_subject: int = 3, test_subjects: int = 2) -> Path:
    """``root/manifest.csv`` with relative image paths, au12 on every row, au4 on every other row."""
    rows = []
    for s in range(subjects):
        for k in range(per_subject):
            i = s * per_subject + k
            image = write_png(root / "images" / f"s{s}_{k}.png", face_image(i))
            rows.append(
                ManifestRow(
                    path=str(image),
                    subject=f"person{s}",
                    split="test" if s < test_subjects else "train",
                    aus={"au12": float(i % 2), "au4": float(i % 6) if i % 2 == 0 else float("nan")},
                    landmarks=BASE_POINTS + np.float32(k),
                    meta={"glasses": str(i % 2), "source": "fixture"},
                )
            )
    return write_manifest(rows, root / "manifest.csv")


def lm2_text(points: dict[str, tuple[float, float]]) -> str:
    """A Bosphorus .lm2 file for the given named points (in the database's order)."""
    names = [name for name in BOSPHORUS_NAMES if name in points]
    lines = ["# 2D Landmark File", "", f"{len(names)} landmarks:", "Labels:", *names, "", "2D Image coordinates:"]
    lines += [f"{points[name][0]:.3f} {points[name][1]:.3f}" for name in names]
    return "\n".join(lines) + "\n"


def bosphorus_points(shift: float = 0.0) -> dict[str, tuple[float, float]]:
    """All 22 points; the subject's left eye/mouth corner is on the image RIGHT (larger x)."""
    points = {name: (60.0 + shift, 20.0 + 5 * i) for i, name in enumerate(BOSPHORUS_NAMES)}
    points.update({
        "Outer left eye corner": (90 + shift, 50), "Inner left eye corner": (70 + shift, 52),
        "Inner right eye corner": (50 + shift, 52), "Outer right eye corner": (30 + shift, 50),
        "Nose tip": (60 + shift, 75), "Left mouth corner": (75 + shift, 100), "Right mouth corner": (45 + shift, 100),
    })
    return points


def make_bosphorus(root: Path, stems: list[str], without_lm2: tuple[str, ...] = (),
                   without_nose: tuple[str, ...] = ()) -> Path:
    """``root/bsNNN/<stem>.png`` + ``.lm2`` for each stem (e.g. ``bs001_LFAU_12_0``)."""
    for i, stem in enumerate(stems):
        folder = root / stem.split("_")[0]
        write_png(folder / f"{stem}.png", face_image(100 + i))
        if stem in without_lm2:
            continue
        points = bosphorus_points(shift=i % 3)
        if stem in without_nose:
            del points["Nose tip"]
        (folder / f"{stem}.lm2").write_text(lm2_text(points))
    return root


FER_TABLE = {"au4": ["angry", "fear", "sad"], "au12": ["happy"], "exclude": ["disgust"]}


def make_fer(root: Path, rows: list[tuple[str, str]]) -> Path:
    """A FER2013 folder in the shared layout: ``rows`` of (split, emotion), flat grey 48x48 frames."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "split", "emotion"])
        for i, (split, emotion) in enumerate(rows):
            rel = f"{split}/{emotion}/img{i}.jpg"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            grey = np.full((48, 48), 40 + 5 * i, np.uint8)
            assert cv2.imwrite(str(root / rel), grey)
            writer.writerow([rel, split, emotion])
    return root
