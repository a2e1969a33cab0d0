"""What the exact face crop costs: ``align_face`` with its fixed-point sampler against OpenCV's warpAffine.

    python benchmarks/crop.py [--runs 400] [--out benchmarks/results/crop-STAMP.json]

Three faces (a 640x480 frame with a 60 px eye distance, 1280x720 with 200 px, 1920x1080 with 400 px:
box-reduced by 3 first) through ``auedge.edge.align.align_face`` as it is (integer sampling maps +
cv2.remap, the same pixels on every OpenCV version and CPU) and with cv2.warpAffine as its sampler
(what it used before issue 38: quicker, but its pixels changed with OpenCV 4.12). Both run
interleaved, round by round, on one thread, so a busy machine slows both alike; the table gives
wall-clock medians and p90 and process-CPU medians in ms and the JSON keeps the machine (CPU flags, load average) beside them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import cv2
import numpy as np
from auedge.benchmarks.latency import time_interleaved
from auedge.benchmarks.stats import summarize_latency
from auedge.benchmarks.store import RESULTS_DIR, environment, stamp, utc_now, write_json

# name: (frame width, height, eye distance in px)
FACES = {"vga_face": (640, 480, 60.0), "hd_close_face": (1280, 720, 200.0), "fullhd_close_face": (1920, 1080, 400.0)}


@contextmanager
def opencv_warp_sampler() -> Iterator[None]:
    """align_face with cv2.warpAffine sampling the same (region of the) source, as before issue 38."""
    from auedge.edge import align

    maps, sample = align.cached_sampling_maps, align.sample_bilinear

    def warp_of(key: tuple[float, ...], size: int, origin: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, int]:
        warp = np.array(key, dtype=np.float64).reshape(2, 3)
        moved = warp.copy()
        moved[:, 2] += warp[:, :2] @ np.array(origin, dtype=np.float64)  # region pixels -> crop
        return moved, size

    def warp_sample(source: np.ndarray, warp: np.ndarray, size: int, border: str) -> np.ndarray:
        return cv2.warpAffine(source, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=align.BORDERS[border],
                              borderValue=(0, 0, 0))

    align.cached_sampling_maps, align.sample_bilinear = warp_of, warp_sample
    try:
        yield
    finally:
        align.cached_sampling_maps, align.sample_bilinear = maps, sample


def uncached(call: Callable[[], Any]) -> Any:
    """``call`` with the crop's sampling maps computed afresh, as on a frame where the detector ran."""
    from auedge.edge import align

    align.cached_sampling_maps.cache_clear()
    return call()


def with_opencv_warp(call: Callable[[], Any]) -> Any:
    with opencv_warp_sampler():
        return call()


def face_frame(width: int, height: int, eye_distance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth random frame and a slightly tilted pair of eyes in its middle."""
    rng = np.random.default_rng(38)
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    frame = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    angle = 0.2
    left = np.array([width / 2 - eye_distance / 2, height * 0.4])
    return frame, left, left + eye_distance * np.array([np.cos(angle), np.sin(angle)])


def run(runs: int) -> dict[str, Any]:
    from auedge.edge.align import CropParams, align_face, reduction_factor, remap_is_exact

    cv2.setNumThreads(1)
    params = CropParams()
    rows = []
    for name, (width, height, eye_distance) in FACES.items():
        frame, left, right = face_frame(width, height, eye_distance)
        exact = align_face(frame, left, right, params)
        with opencv_warp_sampler():
            before = align_face(frame, left, right, params)
        differ = np.abs(exact[0].astype(int) - before[0].astype(int))

        crop = partial(align_face, frame, left, right, params)
        timed = time_interleaved({"exact": partial(uncached, crop), "exact, maps kept": crop,
                                  "warpaffine": partial(with_opencv_warp, crop)}, runs, warmup=20)
        row = {"face": name, "frame": [width, height], "eye_distance": eye_distance,
               "box_reduction": reduction_factor(exact[1]),
               "values_differing_from_warpaffine": int(np.count_nonzero(differ)), "max_level_difference": int(differ.max())}
        for sampler, times in timed.items():
            row[sampler] = {"wall": summarize_latency(times["wall"]).to_dict(),
                            "cpu": summarize_latency(times["cpu"]).to_dict()}
        rows.append(row)
    return {"kind": "crop", "runs": runs, "opencv": cv2.__version__, "remap_is_exact": remap_is_exact(),
            "environment": environment(), "faces": rows}


def print_table(result: dict[str, Any]) -> None:
    env = result["environment"]
    print(f"align_face, one thread: {env['cpu_model']} ({', '.join(env['cpu_simd_flags']) or 'no SIMD flags read'}), "
          f"OpenCV {result['opencv']}, load average {env['load_average']}, {result['runs']} runs")
    print("| face | reduction | exact: wall median ms (p90), CPU median | exact, maps kept (a tracked face) "
          "| warpAffine | values differing (max levels) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in result["faces"]:
        cells = [f"{row[s]['wall']['median_ms']:.3f} ({row[s]['wall']['p90_ms']:.3f}), {row[s]['cpu']['median_ms']:.3f}"
                 for s in ("exact", "exact, maps kept", "warpaffine")]
        print(f"| {row['face']} {row['frame'][0]}x{row['frame'][1]} | {row['box_reduction']} | {' | '.join(cells)} | "
              f"{row['values_differing_from_warpaffine']} ({row['max_level_difference']}) |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="timed rounds per face (default 400)")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/crop-STAMP.json)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        print(f"error: --runs must be at least 1, got {args.runs}", file=sys.stderr)
        return 2
    result = run(args.runs)
    print_table(result)
    out = args.out or RESULTS_DIR / f"crop-{stamp(utc_now())}.json"
    print(f"wrote {write_json(out, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
