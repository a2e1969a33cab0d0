"""The motion video of ``benchmarks/pipeline.py``: what tracking costs in missed, late and stale faces.

600 frames at 30 fps, 640x480, camera noise (sigma 2 grey levels) on every frame, two faces (MTFL
testing faces, else generated ones) pasted where a script puts them, so every frame's truth is
known:

====  ========================================================================================
0     face A still, left of centre
90    A drifts (up to 60 px) and turns (squeezed to 70 % of its width, tilted up to 10 degrees)
180   A jumps to a new place every 20 frames (three jumps)
240   face B appears on the right; both still
360   A slides left 8 px a frame, then vanishes at 380 (B stays)
450   B vanishes; nobody for 60 frames
510   A appears again in the middle
====  ========================================================================================

:func:`score` compares the daemon's records of two runs (detect every frame, tracked) with that
truth: for each appearance, how many frames until the face is reported; for each disappearance,
how many frames it is still reported; and on frames where both runs see the same face, the mean
absolute difference of their AU values.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FRAMES = 600
FPS = 30
SIZE = (640, 480)
FACE_HEIGHT = 200
NOISE = 2.0


@dataclass(frozen=True)
class Placement:
    """Where one face is drawn in one frame: top-left, x squeeze, tilt in degrees."""

    face: str
    x: float
    y: float
    squeeze: float = 1.0
    tilt: float = 0.0


def script(t: int) -> list[Placement]:
    """The faces of frame ``t`` (see the module's table)."""
    if t < 90:
        return [Placement("A", 120, 140)]
    if t < 180:
        phase = math.sin(2 * math.pi * (t - 90) / 90)
        return [Placement("A", 120 + 60 * phase, 140 + 20 * phase, 1.0 - 0.3 * abs(phase), 10 * phase)]
    if t < 240:
        spots = [(330, 60), (60, 240), (260, 200)]
        x, y = spots[(t - 180) // 20]
        return [Placement("A", x, y)]
    if t < 360:
        return [Placement("A", 80, 140), Placement("B", 380, 120)]
    if t < 380:
        return [Placement("A", 80 - 8 * (t - 360), 140), Placement("B", 380, 120)]
    if t < 450:
        return [Placement("B", 380, 120)]
    if t < 510:
        return []
    return [Placement("A", 220, 130)]


APPEARANCES = [(0, "A"), (180, "A"), (200, "A"), (220, "A"), (240, "B"), (510, "A")]
DISAPPEARANCES = [(180, "A", 179), (200, "A", 199), (220, "A", 219), (240, "A", 239), (380, "A", 379), (450, "B", 449)]


def face_box(place: Placement, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """The pasted face image's box (x, y, w, h) in the frame, before clipping."""
    scale = FACE_HEIGHT / shape[0]
    return place.x, place.y, shape[1] * scale * place.squeeze, float(FACE_HEIGHT)


def draw(canvas: np.ndarray, face: np.ndarray, place: Placement) -> None:
    """Paste ``face`` onto ``canvas`` in place: scaled to FACE_HEIGHT, squeezed, tilted about its centre."""
    import cv2

    scale = FACE_HEIGHT / face.shape[0]
    sx, sy = scale * place.squeeze, scale
    angle = math.radians(place.tilt)
    cos, sin = math.cos(angle), math.sin(angle)
    w, h = face.shape[1] * sx, face.shape[0] * sy
    cx, cy = place.x + w / 2, place.y + h / 2
    linear = np.array([[cos * sx, -sin * sy], [sin * sx, cos * sy]])
    centre = linear @ np.array([face.shape[1] / 2, face.shape[0] / 2])
    matrix = np.hstack([linear, np.array([[cx - centre[0]], [cy - centre[1]]])])
    cv2.warpAffine(face, matrix, SIZE, dst=canvas, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)


def make_motion_video(path: Path, faces: dict[str, np.ndarray], grey: int = 118, times: list[int] | None = None,
                      fps: float = FPS) -> dict:
    """Write the MJPG video; returns the truth: per frame, the faces present and their boxes.

    ``times``: which frames of the script to write, in order (default all :data:`FRAMES`), e.g. a
    few dozen around a face leaving for a fast test; ``fps``: the rate the container records."""
    import cv2

    rng = np.random.default_rng(37)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write an MJPG video at {tmp}: install opencv-python-headless")
    truth = []
    try:
        for t in range(FRAMES) if times is None else times:
            canvas = np.full((SIZE[1], SIZE[0], 3), grey, dtype=np.uint8)
            boxes = {}
            for place in script(t):
                draw(canvas, faces[place.face], place)
                boxes[place.face] = face_box(place, faces[place.face].shape[:2])
            noisy = np.clip(canvas + rng.normal(0.0, NOISE, canvas.shape), 0, 255).astype(np.uint8)
            writer.write(cv2.cvtColor(noisy, cv2.COLOR_RGB2BGR))
            truth.append(boxes)
    finally:
        writer.release()
    os.replace(tmp, path)
    return {"frames": truth}


def _who(face: dict, boxes: dict[str, tuple[float, float, float, float]]) -> str | None:
    """The truth face whose box holds the reported box's centre."""
    x, y, w, h = face["box"]
    cx, cy = x + w / 2, y + h / 2
    for name, (bx, by, bw, bh) in boxes.items():
        if bx <= cx <= bx + bw and by <= cy <= by + bh:
            return name
    return None


def _seen(frames: list[list[dict]], truth: list[dict], t: int) -> dict[str, dict]:
    """Which truth faces frame ``t``'s records report (first report wins)."""
    seen: dict[str, dict] = {}
    for face in frames[t] if t < len(frames) else []:
        name = _who(face, truth[t])
        if name is not None and name not in seen:
            seen[name] = face
    return seen


def _stale(frames: list[list[dict]], box: tuple[float, float, float, float], start: int) -> int:
    """Frames in a row from ``start`` that still report a face centred in ``box`` (where one was)."""
    count = 0
    for t in range(start, len(frames)):
        if not any(_who(face, {"gone": box}) for face in frames[t]):
            break
        count += 1
    return count


def score_run(frames: list[list[dict]], truth: list[dict]) -> dict:
    """Appearance delays, disappearance overhang and coverage of one run's per-frame faces."""
    delays = []
    for start, name in APPEARANCES:
        end = next((s for s, _ in APPEARANCES if s > start), FRAMES)
        delay = next((t - start for t in range(start, end) if name in _seen(frames, truth, t)), None)
        delays.append({"frame": start, "face": name, "frames_late": delay})
    overhang = [{"frame": gone, "face": name, "frames_still_reported": _stale(frames, truth[last][name], gone)}
                for gone, name, last in DISAPPEARANCES]
    present = sum(len(boxes) for boxes in truth)
    reported = sum(len(_seen(frames, truth, t)) for t in range(len(truth)))
    phantom = sum(1 for t in range(len(truth)) for f in (frames[t] if t < len(frames) else []) if _who(f, truth[t]) is None)
    return {"appearances": delays, "disappearances": overhang, "face_frames": present,
            "face_frames_reported": reported, "reports_outside_any_face": phantom,
            "worst_frames_late": max((d["frames_late"] for d in delays if d["frames_late"] is not None), default=None),
            "missed_appearances": sum(1 for d in delays if d["frames_late"] is None),
            "worst_frames_still_reported": max((o["frames_still_reported"] for o in overhang), default=0)}


def _spread(values: list[float], name: str) -> dict:
    array = np.asarray(values, dtype=np.float64)
    if not array.size:
        return {f"{name}_mean": None, f"{name}_p95": None, f"{name}_max": None}
    return {f"{name}_mean": float(array.mean()), f"{name}_p95": float(np.percentile(array, 95)),
            f"{name}_max": float(array.max())}


def au_agreement(every: list[list[dict]], tracked: list[dict], truth: list[dict]) -> dict:
    """On the faces both runs report in the same frame: absolute AU differences, and how far the
    tracked eye keypoints (which place the crop) lie from the freshly detected ones, in eye
    distances. The second does not depend on the AU model, so it means something even for a bundle
    whose outputs barely move (an untrained smoke bundle)."""
    diffs, shifts = [], []
    for t in range(len(truth)):
        mine, theirs = _seen(tracked, truth, t), _seen(every, truth, t)
        for name in mine.keys() & theirs.keys():
            a, b = mine[name]["aus"], theirs[name]["aus"]
            diffs.extend(abs(a[k] - b[k]) for k in a.keys() & b.keys())
            eyes_a, eyes_b = np.asarray(mine[name]["keypoints"][:2]), np.asarray(theirs[name]["keypoints"][:2])
            distance = max(float(np.hypot(*(eyes_b[1] - eyes_b[0]))), 1e-6)
            shifts.append(float(np.hypot(*(eyes_a - eyes_b).T).mean()) / distance)
    spread = _spread(diffs, "abs_diff")
    return {"values_compared": len(diffs), "mean_abs_diff": spread["abs_diff_mean"],
            "p95_abs_diff": spread["abs_diff_p95"], "max_abs_diff": spread["abs_diff_max"],
            "eyes_compared": len(shifts), **_spread(shifts, "eye_shift")}


def main(argv: list[str] | None = None) -> int:
    """``python -m auedge.benchmarks.motion --out motion.avi``: write the motion video alone, e.g. to try
    ``au-edge analyze`` on it (MTFL testing faces when the data is there, else generated ones)."""
    import argparse

    from auedge.benchmarks.frames import default_mtfl_dir
    from auedge.benchmarks.pipeline import load_faces

    parser = argparse.ArgumentParser(description=main.__doc__.split(":", 1)[1].strip())
    parser.add_argument("--out", type=Path, required=True, help="the video to write (MJPG, .avi)")
    parser.add_argument("--data-dir", default=None, help="MTFL folder (default: as the benchmarks find it)")
    args = parser.parse_args(argv)
    images, what = load_faces(2, args.data_dir or default_mtfl_dir())
    if len(images) < 2:
        print("error: the motion video needs two different faces; the MTFL folder gave one", flush=True)
        return 2
    make_motion_video(args.out, {"A": images[0], "B": images[1]})
    print(f"{args.out}: {FRAMES} frames at {FPS} fps, {SIZE[0]}x{SIZE[1]}, faces: {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
