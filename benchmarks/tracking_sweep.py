"""``python benchmarks/tracking_sweep.py --bundle B``: how the tracker's settings trade detector runs for accuracy.

Runs the Estimator (no daemon, no timing) over the motion video of :mod:`auedge.benchmarks.motion`
with each ``change_threshold`` x ``redetect_every`` setting, and compares every setting with
detecting on every frame: the share of frames the detector ran on, faces reported late or still
reported after they left, how far the carried eye keypoints lie from fresh ones (eye distances),
and the AU values' mean absolute difference. Also the detector share on the still video (one face,
camera noise), the case the defaults are chosen for. This is how ``TrackingOptions``' defaults
were picked: the cheapest setting whose motion-video figures match the issue's limits.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from auedge.benchmarks.store import BenchmarkError, ResultFiles, format_table, load_average, write_json

THRESHOLDS = (3.0, 6.0, 12.0, 24.0)
INTERVALS = (5, 15, 30)
STILL_FRAMES = 300


def faces_per_frame(estimator, frames) -> list[list[dict[str, Any]]]:
    """Every frame through one estimator, as the records' face dicts (box, AUs, eye keypoints)."""
    out = []
    for image in frames:
        result = estimator.estimate(image)
        out.append([{"box": list(f.box), "aus": f.aus, "keypoints": [list(p) for p in f.keypoints[:2]]} for f in result.faces])
    return out


def sweep(bundle: str, model: str, backend: str, data_dir: str | None, folder: Path) -> dict[str, Any]:
    from auedge.benchmarks import motion
    from auedge.benchmarks.pipeline import decode_all, load_faces, make_still_video
    from auedge.edge.estimator import Estimator
    from auedge.edge.tracking import TrackingOptions

    images, what = load_faces(2, data_dir)
    truth = motion.make_motion_video(folder / "motion.avi", {"A": images[0], "B": images[1]})["frames"]
    moving = decode_all(str(folder / "motion.avi"))
    make_still_video(folder / "still.avi", STILL_FRAMES, data_dir)
    still = decode_all(str(folder / "still.avi"))

    def estimator(tracking: TrackingOptions | None) -> Estimator:
        return Estimator.from_bundle(bundle, model=model, backend=backend, tracking=tracking)

    every = faces_per_frame(estimator(None), moving)
    rows = [{"setting": "every frame", "detector_share": 1.0, **motion.score_run(every, truth)}]
    for threshold in THRESHOLDS:
        for interval in INTERVALS:
            options = TrackingOptions(redetect_every=interval, change_threshold=threshold)
            est = estimator(options)
            tracked = faces_per_frame(est, moving)
            runs = est.tracker.detections
            est_still = estimator(options)
            faces_per_frame(est_still, still)
            rows.append({"setting": f"threshold {threshold:g}, every {interval}", "change_threshold": threshold,
                         "redetect_every": interval, "detector_share": runs / len(moving),
                         "still_detector_share": est_still.tracker.detections / len(still),
                         **motion.score_run(tracked, truth), **motion.au_agreement(every, tracked, truth)})
    return {"faces": what, "rows": rows}


def render(rows: list[dict[str, Any]]) -> str:
    headers = ["setting", "detector share (motion)", "detector share (still)", "worst frames late", "missed",
               "worst frames stale", "eye shift p95 (eye dist.)", "eye shift max", "AU mean |diff|", "AU max |diff|"]
    return format_table(headers, [[r["setting"], r["detector_share"], r.get("still_detector_share"), r["worst_frames_late"],
                                   r["missed_appearances"], r["worst_frames_still_reported"], r.get("eye_shift_p95"),
                                   r.get("eye_shift_max"), r.get("mean_abs_diff"), r.get("max_abs_diff")] for r in rows])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", required=True, help="bundle folder written by convert/export.py")
    p.add_argument("--model", default=None, help="model name inside the bundle (default: the bundle's)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--data-dir", default=None, help="MTFL folder (default ../shared/data/mtfl if present)")
    p.add_argument("--out-dir", help="where the JSON goes (default benchmarks/results)")
    args = p.parse_args(argv)
    from auedge.benchmarks.frames import default_mtfl_dir

    try:
        if not (Path(args.bundle) / "bundle.json").is_file():
            raise BenchmarkError(f"no bundle.json in {args.bundle!r}: pass --bundle bundles/NAME (python convert/export.py)")
        files = ResultFiles("tracking_sweep", Path(args.bundle).resolve().name, args.out_dir,
                            bundle_root=Path(args.bundle).resolve())
        with tempfile.TemporaryDirectory(prefix="auedge-sweep-") as tmp:
            result = sweep(args.bundle, args.model, args.backend, args.data_dir or default_mtfl_dir(), Path(tmp))
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_json(files.json_path, files.header(**result, load_average_after=load_average()))
    print(render(result["rows"]))
    print(f"\nfaces: {result['faces']}; written {files.json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
