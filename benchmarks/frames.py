"""The 640x480 test frame with one real face that the detector and pipeline benchmarks run on.

Why a real face: BlazeFace's cost after the network (decoding, NMS) and the pipeline's per-face
work (one warp, one AU model run) only happen when a face is found, so a blank frame would
under-report. An MTFL testing image (frontal, smiling) is placed on a grey 640x480 canvas; without
the data, a synthetic face from the project's own generator is used. The description says which.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

FRAME_SIZE = (640, 480)  # width, height
FACE_HEIGHT = 300  # the source image is scaled to this height on the canvas
CANVAS_GREY = 118


def place_on_canvas(image: np.ndarray, size: tuple[int, int] = FRAME_SIZE, height: int = FACE_HEIGHT) -> np.ndarray:
    """``image`` (RGB uint8) scaled to ``height`` pixels and centred on a grey canvas of ``size``."""
    import cv2

    width, frame_h = size
    scale = height / image.shape[0]
    new_w = min(width, max(1, round(image.shape[1] * scale)))
    resized = cv2.resize(image, (new_w, height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.full((frame_h, width, 3), CANVAS_GREY, dtype=np.uint8)
    x0, y0 = (width - new_w) // 2, (frame_h - height) // 2
    canvas[y0 : y0 + height, x0 : x0 + new_w] = resized
    return canvas


def default_mtfl_dir() -> str | None:
    """The MTFL folder the benchmarks use when ``--data-dir`` is not given, or None without data.

    ``$AUEDGE_DATA/mtfl`` (as training reads it), else ``../shared/data/mtfl`` from the working
    directory, else the same path beside this checkout; the first that holds ``labels.csv``.
    """
    import os

    candidates = [Path(os.environ["AUEDGE_DATA"]) / "mtfl"] if os.environ.get("AUEDGE_DATA") else []
    candidates += [Path("..") / "shared" / "data" / "mtfl", Path(__file__).resolve().parents[2] / "shared" / "data" / "mtfl"]
    return next((str(path) for path in candidates if (path / "labels.csv").is_file()), None)


def mtfl_candidates(data_dir: Path, limit: int = 40) -> list[Path]:
    """Frontal, smiling, unoccluded MTFL testing images, largest first (clearest face)."""
    labels = data_dir / "labels.csv"
    if not labels.is_file():
        return []
    with open(labels, newline="", encoding="utf-8") as handle:
        rows = [
            r for r in csv.DictReader(handle)
            if r["split"] == "testing" and r["smile"] == "1" and r["glasses"] == "0" and r["pose"] == "3"
        ]
    rows.sort(key=lambda r: (-int(r["height"]), r["path"]))
    return [data_dir / r["path"] for r in rows[:limit]]


def synthetic_candidates(count: int = 8) -> list[np.ndarray]:
    from auedge.train.data import synthetic

    return list(synthetic.generate(count, seed=3, image_size=320).images)


def make_frame(count_faces: Callable[[np.ndarray], int], data_dir: str | Path | None) -> tuple[np.ndarray, str]:
    """The first candidate frame in which the detector finds exactly one face, and its description."""
    from PIL import Image

    tried = 0
    for path in mtfl_candidates(Path(data_dir)) if data_dir else []:
        try:
            with Image.open(path) as img:
                image = np.asarray(img.convert("RGB"))
        except OSError:
            continue
        tried += 1
        frame = place_on_canvas(image)
        if count_faces(frame) == 1:
            return frame, f"MTFL testing image {path.name} ({image.shape[1]}x{image.shape[0]}) on a 640x480 canvas"
    for i, image in enumerate(synthetic_candidates()):
        frame = place_on_canvas(image)
        if count_faces(frame) == 1:
            note = f" (no MTFL image of {tried} tried had exactly one detected face)" if tried else ""
            return frame, f"synthetic face {i} (seed 3, 320 px) on a 640x480 canvas{note}"
    raise RuntimeError("the face detector found no single face in any MTFL or synthetic test frame")
