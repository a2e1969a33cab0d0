"""`python benchmarks/detection.py`: how often BlazeFace finds the labelled face, bare and occluded.

The AU model only ever sees faces the detector found, so a detector that loses masked faces would
hide the very patients this project is for. For every image of a labelled face set (MTFL testing by
default; the embedded synthetic set without data) this runs the short- and full-range BlazeFace
through the edge runtime and counts a face as *found* when, for one detection, the mean of its two
eye keypoints' distances to the labelled eyes is under half a labelled eye distance
(``auedge.edge.face_detector.matching_detection``: one eye may be further off if the other is
closer; the crop is built from those keypoints, so a box around the wrong spot does not count).
Conditions:

* occluders pasted on the face with the training occluder code (``--occlude none,mask-full,...``);
* scenes: ``native`` (the photo as it is) and ``far-Npx`` (the photo shrunk onto a 640x480 canvas
  so the eyes are N px apart). With a 60-degree lens at 640 px, a 63 mm eye distance is about 35 px
  at 1 m, 18 px at 2 m and 12 px at 3 m: a camera beside a bed, the case the full-range model is for.
  ``far-Npx-region``: the same frame with the search limited to its central third
  (``EstimatorOptions.detect_region``, the daemon's ``detect_region``), as for a camera aimed at a
  pillow.

Prints a table (found rate, per-pose rates, median eye error, CPU ms per detection) and writes JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np
from auedge.benchmarks.store import BenchmarkError, ResultFiles, format_table, options_from_args, write_json
from auedge.edge.face_detector import MATCH_EYE_ERROR
from auedge.edge.face_detector import eye_error as keypoints_eye_error

DETECTOR_KINDS = ("short-range", "full-range")
SCENES = ("native", "far")
FAR_EYE_PX = (35.0, 18.0, 12.0)  # 1, 2 and 3 m from a 60-degree 640x480 camera
FAR_FRAME = (640, 480)
FOUND_EYE_ERROR = MATCH_EYE_ERROR  # mean eye-keypoint error, in labelled eye distances


@dataclass(frozen=True)
class Scene:
    """How a labelled photo is shown to the detector."""

    name: str
    eye_px: float | None = None  # None: the photo as it is
    region: tuple[float, float, float, float] | None = None


def make_scenes(names: tuple[str, ...], eye_px: tuple[float, ...], region_zoom: float) -> list[Scene]:
    scenes = [Scene("native")] if "native" in names else []
    if "far" in names:
        for px in eye_px:
            scenes.append(Scene(f"far-{px:g}px", px))
            if region_zoom > 1:
                side = 1.0 / region_zoom
                region = ((1 - side) / 2, (1 - side) / 2, side, side)
                scenes.append(Scene(f"far-{px:g}px-region", px, region))
    return scenes


@dataclass
class DetectionOptions:
    data_dir: str | None = None
    synthetic: bool = False
    split: str = "test"
    detectors: tuple[str, ...] = DETECTOR_KINDS
    occluders: tuple[str, ...] = ("none", "mask-full")
    scenes: tuple[str, ...] = SCENES
    far_eye_px: tuple[float, ...] = FAR_EYE_PX
    region_zoom: float = 3.0
    limit: int | None = None
    seed: int = 0
    out_dir: str | None = None


@dataclass
class Face:
    """One labelled face: RGB pixels, (5, 2) landmarks (MTFL order: eyes first), pose group, and its
    AU labels (lower-case names, NaN when unknown).

    A face read from a manifest keeps only its ``path`` (``image`` None) and is decoded when used, so
    a thousand 640x490 CK+ frames do not sit in memory at once; its ``landmarks`` are None when the
    dataset has none (``benchmarks/end_to_end.py`` then takes them from the detector on the bare image)."""

    image: np.ndarray | None
    landmarks: np.ndarray | None
    pose: str
    name: str
    aus: dict[str, float] = field(default_factory=dict)
    path: str | None = None

    def pixels(self) -> np.ndarray:
        """The RGB image: held, or decoded from ``path``."""
        if self.image is not None:
            return self.image
        from auedge.train.data.images import decode_image
        from auedge.train.data.manifest import DataError

        try:
            return decode_image(str(self.path))
        except DataError as exc:
            raise BenchmarkError(str(exc)) from None


def load_fer_faces(folder: Path, split: str, emotion_aus: dict[str, Any] | None, limit: int | None,
                   log: Callable[[str], None], seed: int = 0) -> tuple[list[Face], str]:
    """FER2013 frames as a device would be shown them, with the geometry the model trained on.

    A FER frame is a 48 px grey face with no landmarks. Each is upscaled and padded exactly as for
    training (``fer2013.detector_canvas``), and its "labelled" landmarks are the ones training cut
    the crop from: BlazeFace's on that canvas where it finds a plausible face, else the fixed
    template. A device-path detection then counts as this face by the usual eye rule; a face whose
    training crop came from the template is usually missed here too (counted absent). Labels come
    from the bundle's emotion table (``training.emotion_aus``), the one the model learned.
    """
    from auedge.train.data import fer2013
    from auedge.train.data.loader import open_training_detector
    from auedge.train.data.manifest import DataError

    split_name = {"test": "test", "val": "val", "validation": "val", "train": "train"}.get(split, split)
    try:
        rows = [r for r in fer2013.build_manifest(folder, emotion_aus) if r.split == split_name]
        detector = open_training_detector()
    except DataError as exc:
        raise BenchmarkError(str(exc)) from None
    if limit and limit < len(rows):  # a seeded sample: FER's rows are sorted by emotion
        rows = [rows[i] for i in np.sort(np.random.default_rng(seed).permutation(len(rows))[:limit])]
    faces, from_template = [], 0
    try:
        for i, row in enumerate(rows):
            frame = fer2013.read_frame(row.path)
            points = fer2013.frame_keypoints(detector, frame)
            if points is None:
                points, from_template = fer2013.template_for(frame), from_template + 1
            canvas, scale, offset = fer2013.detector_canvas(frame)
            landmarks = fer2013.landmarks_from_keypoints(points) * scale + offset
            faces.append(Face(canvas, landmarks.astype(np.float32), "fer", Path(row.path).name, dict(row.aus)))
            if (i + 1) % 1000 == 0:
                log(f"prepared {i + 1}/{len(rows)} FER frames")
    finally:
        detector.backend.close()
    note = (f"FER2013 {split_name} ({folder}); frames upscaled 2x and padded as in training; "
            f"{from_template}/{len(faces)} from the template")
    return faces, note


def load_manifest_faces(rows: list[Any], split: str, limit: int | None, seed: int,
                        source: str) -> tuple[list[Face], str]:
    """Faces of manifest rows (``auedge.train.data.manifest.ManifestRow``) of one split (``all``: every
    row), decoded when used; ``limit`` takes a seeded sample (rows come sorted by subject)."""
    chosen = [r for r in rows if split == "all" or r.split == split]
    if not chosen:
        splits = sorted({r.split for r in rows})
        raise BenchmarkError(f"{source} has no rows in split {split!r} (it has {', '.join(splits) or 'none'}); "
                             "pass --split with one of those, or --split all")
    if limit and limit < len(chosen):
        chosen = [chosen[i] for i in np.sort(np.random.default_rng(seed).permutation(len(chosen))[:limit])]
    faces = [Face(None, None if r.landmarks is None else np.asarray(r.landmarks, np.float32),
                  r.meta.get("pose") or "-", Path(r.path).name, dict(r.aus), r.path)
             for r in chosen]
    return faces, f"{source}, split {split}"


def far_scene(image: np.ndarray, landmarks: np.ndarray, eye_px: float,
              frame: tuple[int, int] = FAR_FRAME) -> tuple[np.ndarray, np.ndarray]:
    """The image shrunk so its eyes are ``eye_px`` apart, pasted at the centre of a grey frame
    (the grey of the latency benchmark's frame; unlike ``frames.place_on_canvas`` the landmarks come along)."""
    import cv2
    from auedge.benchmarks.frames import CANVAS_GREY

    eye_distance = float(np.hypot(*(landmarks[1] - landmarks[0])))
    scale = min(1.0, eye_px / max(eye_distance, 1e-6))
    width, height = frame
    new_w = min(width, max(1, round(image.shape[1] * scale)))
    new_h = min(height, max(1, round(image.shape[0] * scale)))
    small = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), CANVAS_GREY, dtype=np.uint8)
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = small
    points = landmarks * np.array([new_w / image.shape[1], new_h / image.shape[0]], np.float32) + (x0, y0)
    return canvas, points.astype(np.float32)


def eye_error(keypoints: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean distance of the detected eyes to the labelled eyes, in labelled eye distances."""
    return keypoints_eye_error(keypoints, landmarks[0], landmarks[1])


def best_match(detections: list[Any], landmarks: np.ndarray) -> float:
    """The smallest eye error over the detections (inf when there are none)."""
    return min((eye_error(d.keypoints, landmarks) for d in detections), default=float("inf"))


def load_faces(options: DetectionOptions, log: Callable[[str], None]) -> tuple[list[Face], str]:
    """MTFL faces of the asked split when the data is there, else the embedded synthetic test faces."""
    from auedge.benchmarks.frames import default_mtfl_dir
    from auedge.train.data.images import decode_image
    from auedge.train.data.manifest import DataError

    folder = Path(options.data_dir or default_mtfl_dir() or "no-mtfl-data")
    if not options.synthetic and (folder / "labels.csv").is_file():
        from auedge.train.data import mtfl

        rows = [r for r in mtfl.build_manifest(folder) if r.split == options.split and r.landmarks is not None]
        rows = rows[: options.limit] if options.limit else rows
        faces = []
        for i, row in enumerate(rows):
            try:
                image = decode_image(row.path)
            except DataError as exc:
                log(f"skipped: {exc}")
                continue
            faces.append(Face(image, np.asarray(row.landmarks, np.float32), row.meta.get("pose", "?"), Path(row.path).name,
                              dict(row.aus)))
            if (i + 1) % 500 == 0:
                log(f"decoded {i + 1}/{len(rows)}")
        return faces, f"MTFL {options.split} ({folder})"
    if options.data_dir and not options.synthetic:
        raise BenchmarkError(f"{folder}/labels.csv not found; pass --data-dir the MTFL folder, or omit it for synthetic")
    from auedge.train.data import synthetic

    count = options.limit or 300
    made = synthetic.generate(count, seed=11, image_size=320)
    faces = [Face(img, lm.astype(np.float32), "synthetic", f"synthetic_{i}",
                  {"au12": float(made.au12[i]), "au4": float(made.au4[i])})
             for i, (img, lm) in enumerate(zip(made.images, made.landmarks))]
    return faces, f"synthetic test faces (embedded default; {count} at 320 px) - not real photos"


def open_detector(kind: str, options: DetectionOptions) -> Any:
    from auedge.convert.bundle_writer import find_face_detector
    from auedge.convert.errors import ExportError
    from auedge.edge.backends import BackendError
    from auedge.edge.face_detector import FaceDetector, FaceDetectorOptions

    try:
        path = find_face_detector(kind, None)
        return FaceDetector.create_from_options(FaceDetectorOptions(model_path=path, kind=kind, num_threads=1))
    except (ExportError, BackendError) as exc:
        raise BenchmarkError(f"{kind} face detector: {exc}") from None


def run_condition(detector: Any, faces: list[Face], occluder: str, scene: Scene,
                  options: DetectionOptions) -> dict[str, Any]:
    """Detect every face under one occluder and scene; found rate overall and per pose."""
    from auedge.train.occluders import apply_occluder

    errors, poses, cpu_ms = [], [], []
    for i, face in enumerate(faces):
        image, points = face.pixels(), face.landmarks
        if occluder != "none":
            image = apply_occluder(image, points, occluder, np.random.default_rng([options.seed, i]))
        if scene.eye_px is not None:
            image, points = far_scene(image, points, scene.eye_px)
        start = time.process_time()
        detections = detector.detect(image, scene.region)
        cpu_ms.append((time.process_time() - start) * 1e3)
        errors.append(best_match(detections, points))
        poses.append(face.pose)
    errors_arr, poses_arr = np.array(errors), np.array(poses)
    found = errors_arr < FOUND_EYE_ERROR
    per_pose = {
        pose: {"n": int((poses_arr == pose).sum()), "found_rate": float(found[poses_arr == pose].mean())}
        for pose in sorted(set(poses))
    }
    return {
        "n": len(faces),
        "found": int(found.sum()),
        "found_rate": float(found.mean()) if len(faces) else float("nan"),
        "median_eye_error": float(np.median(errors_arr[found])) if found.any() else None,
        "per_pose": per_pose,
        "cpu_ms_median": float(np.median(cpu_ms)) if cpu_ms else None,
    }


def run_detection(options: DetectionOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    faces, source = load_faces(options, log)
    if not faces:
        raise BenchmarkError("no labelled faces to run the detector on")
    log(f"{len(faces)} faces from {source}")
    rows = []
    for kind in options.detectors:
        detector = open_detector(kind, options)
        scenes = make_scenes(options.scenes, options.far_eye_px, options.region_zoom)
        try:
            for scene in scenes:
                for occluder in options.occluders:
                    result = run_condition(detector, faces, occluder, scene, options)
                    rows.append({"detector": kind, "scene": scene.name, "region": scene.region, "occluder": occluder,
                                 **result})
                    log(f"{kind:11s} {scene.name:16s} {occluder:12s} found {result['found']}/{result['n']} "
                        f"({result['found_rate']:.1%}), {result['cpu_ms_median']:.2f} ms CPU per image")
        finally:
            detector.backend.close()
    files = ResultFiles("detection", "blazeface", options.out_dir)
    data = files.header(
        source=source, synthetic=source.startswith("synthetic"), split=options.split,
        found_rule=(f"mean distance of the two detected eye keypoints to the labelled eyes < {FOUND_EYE_ERROR} "
                    "labelled eye distances"),
        far_scene={"frame": list(FAR_FRAME), "eye_px": list(options.far_eye_px), "region_zoom": options.region_zoom},
        rows=rows,
    )
    data["json_path"] = str(write_json(files.json_path, data))
    return data


def detection_table(rows: list[dict[str, Any]]) -> str:
    poses = sorted({p for r in rows for p in r["per_pose"]})
    headers = ["detector", "scene", "occluder", "found", "rate", *[f"pose {p}" for p in poses],
               "eye err (IOD)", "CPU ms"]
    body = []
    for r in rows:
        body.append([
            r["detector"], r["scene"], r["occluder"], f"{r['found']}/{r['n']}", f"{r['found_rate']:.1%}",
            *[f"{r['per_pose'][p]['found_rate']:.1%}" if p in r["per_pose"] else "-" for p in poses],
            f"{r['median_eye_error']:.3f}" if r["median_eye_error"] is not None else "-",
            f"{r['cpu_ms_median']:.2f}",
        ])
    return format_table(headers, body)


def check_occluders(names: tuple[str, ...]) -> None:
    """ValueError naming the first unknown occluder."""
    from auedge.train.occluders import parse_occluder

    for name in names:
        parse_occluder(name)


def csv_list(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="auedge-bench-detection", description=__doc__.splitlines()[0].strip("`"))
    p.add_argument("--data-dir", help="MTFL folder (default $AUEDGE_DATA/mtfl or ../shared/data/mtfl; synthetic if absent)")
    p.add_argument("--synthetic", action="store_true", help="the embedded synthetic faces even when MTFL is there")
    p.add_argument("--split", default="test", choices=["train", "test"], help="MTFL split (test = AFLW)")
    p.add_argument("--detectors", type=csv_list, default=DETECTOR_KINDS, help="short-range,full-range")
    p.add_argument("--occlude", dest="occluders", type=csv_list, default=("none", "mask-full"),
                   help="comma list of occluders pasted on the face (default none,mask-full)")
    p.add_argument("--scenes", type=csv_list, default=SCENES, help="native,far")
    p.add_argument("--far-eye-px", type=lambda t: tuple(float(v) for v in csv_list(t)), default=FAR_EYE_PX,
                   help="eye distances of the far scenes (default 35,18,12 px: 1, 2, 3 m)")
    p.add_argument("--region-zoom", type=float, default=3.0,
                   help="far scenes also searched in the central 1/Z of the frame (default 3; 0 = skip)")
    p.add_argument("--limit", type=int, help="first N faces only")
    p.add_argument("--out-dir", help="where the JSON goes (default benchmarks/results)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_occluders(args.occluders)
        bad = [d for d in args.detectors if d not in DETECTOR_KINDS] + [s for s in args.scenes if s not in SCENES]
        if bad:
            raise BenchmarkError(f"unknown detector or scene {bad}; detectors: {DETECTOR_KINDS}, scenes: {SCENES}")
        options = options_from_args(DetectionOptions, args)
        data = run_detection(options, log=lambda line: print(line, flush=True))
    except (BenchmarkError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(detection_table(data["rows"]))
    print(f"\nwritten {data['json_path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
