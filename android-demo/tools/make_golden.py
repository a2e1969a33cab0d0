"""Golden vectors for the Android core: what the Python edge runtime computes, stage by stage.

The Java core (android-demo/core) must reproduce edge/face_detector.py, edge/align.py and
edge/preprocess.py on the phone. Java cannot run TFLite here, so this script runs the real bundle
with the project's own runtime on real MTFL faces and writes every intermediate result the Java
tests compare against: the letterbox geometry and canvas, the detector's raw outputs, the decoded
boxes and keypoints, the aligned crop, the model input (as a sha256 of its exact bytes), the raw
model output and the AU values with each AU's presence and observability, for the fp32 and the
int8 model. When the bundle has occlusion flags ("AU12_occluded"), a few more faces wear a synthetic
occluder (auedge.train.occluders: numpy and OpenCV, no TensorFlow) chosen so that every flag says
"covered" on both models, so the phone's "not observable" path is compared too. Plus YUV frames with
their RGB, and AU smoothing sequences.

    python android-demo/tools/make_golden.py --bundle edge/models/default
    python android-demo/tools/make_golden.py --recrop   # after a change of edge/align.py's pixels

Frames and crops are stored as PNG (lossless, read by javax.imageio in the tests), float arrays as
little-endian .bin, YUV frames gzipped; index.json ties them together. The output folder is written
to a temporary name and renamed into place.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "android-demo" / "core" / "src" / "test" / "resources" / "golden"
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "mtfl"
# Faces whose letterbox canvas is stored in full (the others keep geometry and channel means).
CANVAS_FACES = 8
# Nearest-neighbour enlargements of small real faces: the only way to reach the crop's integer box
# reduction (eye distance > 133 px) without committing megapixel frames.
UPSCALES = (9, 10)
MODELS = ("fp32", "int8")
LANDMARK_COLUMNS = ("leye_x", "leye_y", "reye_x", "reye_y", "nose_x", "nose_y", "lmouth_x", "lmouth_y",
                    "rmouth_x", "rmouth_y")
# Frames tried per occlusion flag before giving up (each with its own occluder draw).
OCCLUDER_TRIES = 16


@dataclass(frozen=True)
class FaceRow:
    path: str
    source: str
    pose: int
    width: int
    height: int
    landmarks: tuple[float, ...]  # MTFL's five points: left eye, right eye, nose, mouth corners (x, y)


def read_rows(data_dir: Path) -> list[FaceRow]:
    with open(data_dir / "labels.csv", newline="", encoding="utf-8") as handle:
        return [
            FaceRow(r["path"], r["source"], int(r["pose"]), int(r["width"]), int(r["height"]),
                    tuple(float(r[c]) for c in LANDMARK_COLUMNS))
            for r in csv.DictReader(handle)
            if r["mode"] == "RGB"
        ]


def pick_candidates(rows: list[FaceRow], seed: int) -> tuple[list[tuple[FaceRow, int]], list[int]]:
    """Small frames first (AFLW 150 px, LFW 250 px, small web photos), frontal and non-frontal
    mixed, in a fixed pseudo-random order; each paired with its enlargement factor (1 = none)."""
    rng = random.Random(seed)

    def shuffled(items: list[FaceRow]) -> list[FaceRow]:
        items = sorted(items, key=lambda r: r.path)
        rng.shuffle(items)
        return items

    aflw = [r for r in rows if r.source == "AFLW" and r.width == 150 and r.height == 150]
    lfw = [r for r in rows if r.source == "lfw_5590"]
    net = [r for r in rows if r.source == "net_7876" and max(r.width, r.height) <= 260]

    def frontal(items: list[FaceRow]) -> list[FaceRow]:
        return [r for r in items if r.pose == 3]

    def profile(items: list[FaceRow]) -> list[FaceRow]:
        return [r for r in items if r.pose != 3]

    order: list[tuple[FaceRow, int]] = []
    # Interleave so the first successes cover every source and pose.
    queues = [shuffled(frontal(aflw)), shuffled(profile(aflw)), shuffled(frontal(lfw)), shuffled(profile(lfw)),
              shuffled(frontal(net)), shuffled(profile(net))]
    quotas = [7, 5, 4, 2, 2, 2]
    for queue, quota in zip(queues, quotas):
        order.extend((r, 1) for r in queue[: quota * 4])  # spares for faces the detector misses
    enlarged = [(r, k) for r, k in zip(shuffled(frontal(aflw))[-len(UPSCALES) * 4 :], list(UPSCALES) * 4)]
    return order + enlarged, quotas


def write_png(path: Path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise RuntimeError(f"cannot encode {path}")
    path.write_bytes(data.tobytes())


def write_f32(path: Path, values: np.ndarray) -> None:
    path.write_bytes(np.ascontiguousarray(values, dtype="<f4").tobytes())


def sha256(array: np.ndarray) -> str:
    data = np.ascontiguousarray(array)
    if data.dtype == np.float32:
        data = data.astype("<f4")
    return hashlib.sha256(data.tobytes()).hexdigest()


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement; the Java test repeats it exactly from the stored frame."""
    return image if factor == 1 else np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


# --- YUV ------------------------------------------------------------------------------------------


def rgb_to_nv21(rgb: np.ndarray, full_range: bool) -> np.ndarray:
    """BT.601 RGB -> NV21 (Y plane, then V/U interleaved at half resolution, 2x2 chroma mean).

    Full range is JFIF (Y, U, V in 0-255, what Android's camera YUV_420_888 and YuvImage use);
    limited range is Y 16-235, U/V 16-240.
    """
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b
    v = 0.5 * r - 0.418688 * g - 0.081312 * b
    if not full_range:
        y = 16.0 + y * 219.0 / 255.0
        u, v = u * 224.0 / 255.0, v * 224.0 / 255.0
    h, w = y.shape

    def half(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)) + 128.0

    y8 = np.clip(np.round(y), 0, 255).astype(np.uint8)
    vu = np.stack([half(v), half(u)], axis=-1)
    vu8 = np.clip(np.round(vu), 0, 255).astype(np.uint8)
    return np.concatenate([y8.ravel(), vu8.ravel()])


def nv21_to_rgb(nv21: np.ndarray, width: int, height: int, full_range: bool) -> np.ndarray:
    """The reference inverse (float, rounded): what the Java converter must give within 2 levels."""
    y = nv21[: width * height].reshape(height, width).astype(np.float64)
    vu = nv21[width * height :].reshape(height // 2, width // 2, 2).astype(np.float64) - 128.0
    v = np.repeat(np.repeat(vu[..., 0], 2, axis=0), 2, axis=1)
    u = np.repeat(np.repeat(vu[..., 1], 2, axis=0), 2, axis=1)
    if not full_range:
        y = (y - 16.0) * 255.0 / 219.0
        u, v = u * 255.0 / 224.0, v * 255.0 / 224.0
    rgb = np.stack([y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u], axis=-1)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def write_yuv(out: Path, image: np.ndarray, name: str) -> list[dict[str, Any]]:
    """One even-sized real frame in both BT.601 ranges."""
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    frame = np.ascontiguousarray(image[:h, :w])
    entries = []
    for full in (True, False):
        tag = f"{name}_{'full' if full else 'limited'}"
        nv21 = rgb_to_nv21(frame, full)
        rgb = nv21_to_rgb(nv21, w, h, full)
        (out / f"{tag}.nv21.gz").write_bytes(gzip.compress(nv21.tobytes(), mtime=0))
        (out / f"{tag}.rgb.gz").write_bytes(gzip.compress(rgb.tobytes(), mtime=0))
        entries.append({
            "name": tag, "width": w, "height": h, "range": "full" if full else "limited", "standard": "BT.601",
            "nv21": f"{tag}.nv21.gz", "rgb": f"{tag}.rgb.gz",
            "max_diff_from_source": int(np.abs(rgb.astype(int) - frame).max()),
        })
    return entries


# --- smoothing ------------------------------------------------------------------------------------


def smoothing_cases() -> list[dict[str, Any]]:
    """Scalar filter sequences and one two-face tracking scenario, from edge/smoothing.py."""
    from auedge.edge.results import FaceResult
    from auedge.edge.smoothing import FaceSmoother, SmoothingOptions, make_filter

    rng = np.random.default_rng(3)
    ts = np.cumsum(np.r_[0.0, rng.uniform(0.02, 0.08, 59)])
    ts[20] = ts[19]  # a repeated timestamp exercises the dt <= 0 path
    xs = np.clip(0.2 + 0.6 * (np.arange(60) >= 30) + rng.normal(0, 0.05, 60), 0, 1)
    cases: list[dict[str, Any]] = []
    for opts in (SmoothingOptions(method="one_euro"), SmoothingOptions(method="one_euro", min_cutoff=0.3, beta=0.7),
                 SmoothingOptions(method="ema", alpha=0.3), SmoothingOptions(method="none")):
        flt = make_filter(opts)
        ys = [float(flt(float(x), float(t))) for x, t in zip(xs, ts)]
        cases.append({"kind": "filter", "options": vars(opts).copy(), "ts": ts.tolist(), "x": xs.tolist(), "y": ys})

    opts = SmoothingOptions(method="one_euro", max_missed_frames=1)
    smoother = FaceSmoother(opts)
    frames = []
    for i in range(12):
        faces = []
        if i != 5:  # face A missed once: survives (max_missed_frames=1)
            faces.append(FaceResult(box=(100 + 2 * i, 80.0, 60.0, 60.0), score=0.9, keypoints=[], aus={"AU12": float(xs[i]), "AU4": float(xs[59 - i])}, present={}, timings_ms={}))
        if i < 4 or i >= 8:  # face B gone for four frames: a new track when it returns
            faces.append(FaceResult(box=(300.0, 90 - i, 50.0, 50.0), score=0.8, keypoints=[], aus={"AU12": float(xs[30 + i]), "AU4": 0.1}, present={}, timings_ms={}))
        out = smoother.update(faces, float(ts[i]))
        frames.append({
            "ts": float(ts[i]),
            "faces": [{"box": list(f.box), "aus": f.aus} for f in faces],
            "expected": [{"track_id": s.track_id, "aus": s.aus} for s in out],
        })
    cases.append({"kind": "tracker", "options": vars(opts).copy(), "frames": frames})
    return cases


# --- faces ----------------------------------------------------------------------------------------


def face_case(image: np.ndarray, detector: Any, estimators: dict[str, Any], crop_params: Any) -> dict[str, Any] | None:
    """Everything the device computes for one frame, from the Python runtime; None if no face."""
    from auedge.edge.align import align_points, reduction_factor

    _, _, pad_x, pad_y = detector._letterbox(image)
    canvas = detector._canvas.copy()
    tensor = detector._input.copy()
    outputs = detector.backend.run(tensor)
    raw = outputs[detector._regressor_index].reshape(-1, 16).astype(np.float32)
    logits = outputs[detector._score_index].reshape(-1).astype(np.float32)
    selected = np.flatnonzero(logits >= detector._logit_threshold)
    detections = detector.detect(image)
    if not detections:
        return None
    best = detections[0]
    crop, matrix = align_points(image, best.keypoints, crop_params)
    size = detector.spec.input_size
    fit = size / max(image.shape[:2])
    new_w, new_h = max(1, round(image.shape[1] * fit)), max(1, round(image.shape[0] * fit))
    case: dict[str, Any] = {
        "letterbox": {
            "new_w": int(new_w), "new_h": int(new_h), "pad_x": int(pad_x), "pad_y": int(pad_y),
            "channel_mean": [float(v) for v in canvas.reshape(-1, 3).mean(axis=0)],
            "tensor_sha256": sha256(tensor),
        },
        "detector": {"selected": selected.tolist()},
        "detections": [
            {"box": list(d.box), "score": d.score, "keypoints": d.keypoints.astype(np.float32).ravel().tolist()}
            for d in detections
        ],
        "crop": {
            "left_eye": best.image_left_eye.astype(np.float32).tolist(),
            "right_eye": best.image_right_eye.astype(np.float32).tolist(),
            "matrix": matrix.ravel().tolist(),
            "reduction": reduction_factor(matrix),
        },
        "models": {},
    }
    for name, est in estimators.items():
        case["models"][name] = model_case(crop, est)
    case["_arrays"] = {"canvas": canvas, "logits": logits, "raw": raw[selected], "crop": crop}
    return case


def model_case(crop: np.ndarray, est: Any) -> dict[str, Any]:
    """One AU model on one crop: its input (sha256 and sum), raw output and AU values; with the
    bundle's flip averaging, the mirrored crop's input and output too (the phone runs both)."""
    model_input = cv2.LUT(crop, est._lut)
    raw_out = np.asarray(est.backend.run(model_input[None])[0]).reshape(-1)
    values = est._au_values(crop)
    decided = est._face_result(values, (0.0, 0.0, 0.0, 0.0), 0.0, np.zeros((0, 2)), {})
    case = {
        "input_dtype": str(model_input.dtype),
        "input_sha256": sha256(model_input),
        "input_sum": float(model_input.astype(np.float64).sum()),
        "raw_output": as_json_numbers(raw_out),
        "values": [float(v) for v in values],
        # What the runtime decides from the values: an AU's presence, and whether its occlusion flag
        # ("<AU>_occluded" above its threshold) makes it not observable.
        "present": decided.present,
        "observable": decided.observable,
    }
    if est.flip_average:
        mirrored = cv2.LUT(np.ascontiguousarray(crop[:, ::-1]), est._lut)
        case["mirrored_input_sha256"] = sha256(mirrored)
        case["raw_output_mirrored"] = as_json_numbers(np.asarray(est.backend.run(mirrored[None])[0]).reshape(-1))
    return case


def model_inputs(crop: np.ndarray, normalization: Any, quant: Any) -> tuple[np.ndarray, np.ndarray]:
    """The model input tensor of a crop and of its mirror, without the model (edge/preprocess.py)."""
    from auedge.edge.preprocess import normalize, quantize

    def tensor(pixels: np.ndarray) -> np.ndarray:
        values = normalize(pixels, normalization)
        return quantize(values, quant) if quant is not None else values.astype("<f4")

    return tensor(crop), tensor(np.ascontiguousarray(crop[:, ::-1]))


def as_json_numbers(raw: np.ndarray) -> list[float] | list[int]:
    return [float(v) if raw.dtype.kind == "f" else int(v) for v in raw]


def model_summary(est: Any) -> dict[str, Any]:
    """Quantization parameters, and for a quantized output every level's dequantized value: a model
    that barely varies across faces still proves the whole output arithmetic."""
    from auedge.edge.preprocess import dequantize

    summary: dict[str, Any] = {
        "input_quant": None if est._input_quant is None else est._input_quant.to_dict(),
        "output_quant": None if est._output_quant is None else est._output_quant.to_dict(),
    }
    if est._output_quant is not None:
        lo, hi = est._output_quant.limits
        levels = np.arange(lo, hi + 1)
        summary["output_levels"] = [lo, hi]
        summary["dequantized_levels"] = [float(v) for v in dequantize(levels.astype(est._output_quant.dtype), est._output_quant)]
    return summary


LANDMARK_FILE = "landmarks.json"


def landmark_crop_cases(golden: Path) -> dict[str, Any]:
    """Crop method "landmarks" on every committed face: the crop and matrix that edge/align.py cuts
    from the committed frame and the face's first detection (keypoints 0-3), with the golden
    bundle's crop size and margins. Written beside index.json as ``landmarks.json``: the matrix of
    every face, and a PNG for the turned and the enlarged faces (plus the first), where this method
    differs from the eye crop, so the phone's least-squares fit is checked against Python's on real
    keypoints without doubling the golden set."""
    from auedge.edge.align import CropParams, align_points

    index = json.loads((golden / "index.json").read_text(encoding="utf-8"))
    eye_crop = json.loads((golden / "bundle.json").read_text(encoding="utf-8"))["crop"]
    params = CropParams.from_dict({**eye_crop, "method": "landmarks"})
    faces = []
    for face in index["faces"]:
        frame = cv2.cvtColor(cv2.imread(str(golden / face["frame"]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        frame = enlarge(frame, face["upscale"])
        keypoints = np.asarray(face["detections"][0]["keypoints"], dtype=np.float32).reshape(-1, 2)
        crop, matrix = align_points(frame, keypoints, params)
        name = None
        if face["pose"] != 3 or face["upscale"] > 1 or not faces:
            name = f"{face['id']}_crop_landmarks.png"
            write_png(golden / name, crop)
        faces.append({"id": face["id"], "points": keypoints[:4].astype(float).ravel().tolist(),
                      "matrix": matrix.ravel().tolist(), "file": name})
    cases = {"crop": params.to_dict(), "faces": faces}
    (golden / LANDMARK_FILE).write_text(json.dumps(cases, indent=1) + "\n", encoding="utf-8")
    return cases


RECROP_NOTE = ("raw_output, raw_output_mirrored, values, present and observable were computed by the golden "
               "bundle's models on the crops cut before this re-crop; its model files were not found here "
               "(index.json bundle.path, or --bundle, with the same sha256), so make_golden.py --recrop re-ran the "
               "detector, re-cut the crops and re-hashed the model inputs only")


def recrop_cases(golden: Path, bundle_dir: Path | None) -> int:
    """Run today's detector path again on every committed frame (letterbox canvas and tensor, raw
    outputs, keypoints on their grid) with the golden bundle's detector file (the package's default
    bundle ships the same one: its sha256 is checked), re-cut each crop with today's edge/align.py,
    and rewrite what follows from the crop: its PNG, the model inputs' sha256 and sums (mirror too)
    and landmarks.json. The AU outputs need the golden bundle's models (not in the golden folder):
    from ``bundle_dir``, else from index.json's ``bundle.path`` when that folder holds the same models
    (their sha256 is checked), they are recomputed; without, they stay and index.json says so
    (``model_outputs_note``). Returns how many crops changed."""
    from auedge.edge.align import CropParams
    from auedge.edge.preprocess import Normalization, QuantParams

    index = json.loads((golden / "index.json").read_text(encoding="utf-8"))
    manifest = json.loads((golden / "bundle.json").read_text(encoding="utf-8"))
    params = CropParams.from_dict(manifest["crop"])
    detector = golden_detector(manifest)
    if bundle_dir is not None:
        estimators = golden_estimators(bundle_dir, manifest)
    else:
        recorded = index["bundle"].get("path")
        found = REPO / recorded if recorded else None
        same = found is not None and (found / "bundle.json").is_file() and same_models(found, manifest)
        estimators = golden_estimators(found, manifest) if same else {}
    normalization = Normalization.from_dict(manifest["input"]["normalization"])
    changed = 0
    try:
        for face in index["faces"]:
            frame = cv2.cvtColor(cv2.imread(str(golden / face["frame"]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            case = face_case(enlarge(frame, face["upscale"]), detector, {}, params)
            if case is None:
                raise SystemExit(f"error: the detector no longer finds a face in {face['frame']}; remake the goldens")
            arrays = case.pop("_arrays")
            canvas_file = face["letterbox"]["canvas"]
            if canvas_file:
                write_png(golden / canvas_file, arrays["canvas"])
            write_f32(golden / face["detector"]["logits"], arrays["logits"])
            write_f32(golden / face["detector"]["raw_selected"], arrays["raw"])
            face["letterbox"] = {**case["letterbox"], "canvas": canvas_file}
            face["detector"]["selected"] = case["detector"]["selected"]
            face["detections"] = case["detections"]
            crop = arrays["crop"]
            old = cv2.imread(str(golden / face["crop"]["file"]), cv2.IMREAD_COLOR)
            changed += int(old is None or not np.array_equal(cv2.cvtColor(old, cv2.COLOR_BGR2RGB), crop))
            write_png(golden / face["crop"]["file"], crop)
            face["crop"] = {**case["crop"], "file": face["crop"]["file"]}
            for name, model in face["models"].items():
                if name in estimators:
                    model.update(model_case(crop, estimators[name]))
                    continue
                quant = index["models"][name]["input_quant"]
                tensor, mirrored = model_inputs(crop, normalization, QuantParams.from_dict(quant) if quant else None)
                model.update(input_sha256=sha256(tensor), input_sum=float(tensor.astype(np.float64).sum()))
                if "mirrored_input_sha256" in model:
                    model["mirrored_input_sha256"] = sha256(mirrored)
    finally:
        detector.backend.close()
        for est in estimators.values():
            est.close()
    if estimators:
        index.pop("model_outputs_note", None)
    else:
        index["model_outputs_note"] = RECROP_NOTE
    (golden / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    landmark_crop_cases(golden)
    return changed


def golden_detector(manifest: dict[str, Any]) -> Any:
    """The golden bundle's face detector, from the package's default bundle (the same file)."""
    from auedge.edge.bundle import sha256_file
    from auedge.edge.face_detector import FaceDetector, FaceDetectorOptions

    entry = manifest["face_detector"]
    path = REPO / "edge" / "models" / "default" / entry["file"]
    if not path.is_file() or sha256_file(path) != entry["sha256"]:
        raise SystemExit(f"error: {path} is not the golden bundle's detector (sha256 {entry['sha256'][:12]}...)")
    return FaceDetector.create_from_options(FaceDetectorOptions(
        model_path=path, kind=entry["kind"], score_threshold=entry["score_threshold"], nms_iou=entry["nms_iou"],
        backend="litert"))


def same_models(bundle_dir: Path, manifest: dict[str, Any]) -> bool:
    """Whether ``bundle_dir``'s fp32 and int8 entries name the golden bundle's model files (sha256)."""
    have = {m["name"]: m["sha256"] for m in json.loads((bundle_dir / "bundle.json").read_text(encoding="utf-8"))["models"]}
    want = {m["name"]: m["sha256"] for m in manifest["models"]}
    return all(have.get(name) is not None and have.get(name) == want.get(name) for name in MODELS)


def golden_estimators(bundle_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The fp32 and int8 estimators of ``bundle_dir``, refused unless its models are the golden ones
    (load_bundle checks the files against those sha256)."""
    if not same_models(bundle_dir, manifest):
        raise SystemExit(f"error: {bundle_dir} models {' and '.join(MODELS)} are not the golden bundle's (sha256 "
                         "differs); re-crop without --bundle, or remake the goldens from it without --recrop")
    return open_estimators(bundle_dir)


def open_estimators(bundle_dir: Path) -> dict[str, Any]:
    """The bundle's fp32 and int8 estimators on LiteRT; the mirrored crop always as a second run
    (paired_flip=False), so what is recorded does not depend on which way was quicker at start-up."""
    from auedge.edge.estimator import Estimator, EstimatorOptions

    return {name: Estimator.create_from_options(EstimatorOptions(bundle_path=bundle_dir, model=name, backend="litert",
                                                                 paired_flip=False))
            for name in MODELS}


def store_face(tmp: Path, number: int, row: FaceRow, frame: np.ndarray, factor: int,
               case: dict[str, Any]) -> dict[str, Any]:
    """Write one face's files (frame, crop, detector outputs, canvas for the first and the enlarged
    faces) into ``tmp`` and return its index.json entry."""
    fid = f"f{number:02d}"
    arrays = case.pop("_arrays")
    write_png(tmp / f"{fid}_frame.png", frame)
    write_png(tmp / f"{fid}_crop.png", arrays["crop"])
    write_f32(tmp / f"{fid}_logits.bin", arrays["logits"])
    write_f32(tmp / f"{fid}_raw.bin", arrays["raw"])
    canvas_file = None
    if number < CANVAS_FACES or factor > 1:
        canvas_file = f"{fid}_canvas.png"
        write_png(tmp / canvas_file, arrays["canvas"])
    case["letterbox"]["canvas"] = canvas_file
    case["detector"].update({"logits": f"{fid}_logits.bin", "raw_selected": f"{fid}_raw.bin"})
    case["crop"]["file"] = f"{fid}_crop.png"
    return {
        "id": fid, "source": row.path, "pose": row.pose, "frame": f"{fid}_frame.png", "upscale": factor,
        "width": frame.shape[1] * factor, "height": frame.shape[0] * factor, **case,
    }


def occlusion_flags(bundle: Any) -> list[str]:
    """The AUs that have an occlusion flag output ("AU12" for "AU12_occluded"), in bundle order."""
    from auedge.edge.bundle import OCCLUDED_SUFFIX

    names = {o.au for o in bundle.outputs}
    return [au for au in bundle.au_names if au + OCCLUDED_SUFFIX in names]


def occlusion_candidates(rows: list[FaceRow], seed: int, used: set[str]) -> list[FaceRow]:
    """Frontal AFLW faces (small frames) not already in the golden set, in a fixed pseudo-random order."""
    frontal = sorted((r for r in rows if r.source == "AFLW" and r.width == 150 and r.height == 150 and r.pose == 3
                      and r.path not in used), key=lambda r: r.path)
    random.Random(seed + 1).shuffle(frontal)
    return frontal[:OCCLUDER_TRIES]


def occluded_face(tmp: Path, number: int, au: str, candidates: list[FaceRow], data: Path, detector: Any,
                  estimators: dict[str, Any], crop_params: Any) -> dict[str, Any]:
    """A real face wearing a synthetic occluder over the region ``au`` is read from (a mask for a mouth
    AU, big glasses for a brow or eye AU; drawn with the training code's occluders at the MTFL
    landmarks), the first candidate where both models' flag says covered: the golden case of an AU
    the phone must show as not observable. Exits with an error when no candidate gets there."""
    from auedge.edge.images_io import read_image_rgb
    from auedge.train.occluders import AU_REGIONS, apply_occluder

    region = AU_REGIONS.get(au.lower())
    kind = {"mouth": "mask-full", "brows": "glasses-big", "eyes": "glasses-big"}.get(region or "")
    if kind is None:
        raise SystemExit(f"error: no occluder covers the face region of {au} ({region}); extend make_golden.py")
    for seed, row in enumerate(candidates):
        frame = apply_occluder(read_image_rgb(data / row.path), np.reshape(row.landmarks, (5, 2)), kind,
                               np.random.default_rng(seed))
        case = face_case(frame, detector, estimators, crop_params)
        if case is not None and all(not m["observable"][au] for m in case["models"].values()):
            entry = store_face(tmp, number, row, frame, 1, case)
            entry["occluder"] = {"kind": kind, "rng_seed": seed, "covers": au}
            return entry
    raise SystemExit(f"error: none of {len(candidates)} faces with a {kind} made both models flag {au} as covered; "
                     "the bundle's occlusion flag may not work, or raise OCCLUDER_TRIES")


def bundle_section(bundle: Any, made_at: dict[str, Any] | None) -> dict[str, Any]:
    """index.json's account of the bundle: its name, where it was (relative to the repository when
    inside it, so --recrop finds the same models again), and the commit the goldens were made at."""
    return {"name": bundle.manifest.get("name"), "file": "bundle.json", "path": bundle_path(bundle),
            "models_committed": False, "flip_average": bundle.flip_average, "made_at": made_at}


def bundle_path(bundle: Any) -> str:
    root = Path(bundle.root).resolve()
    return str(root.relative_to(REPO)) if root.is_relative_to(REPO) else str(root)


# What decides the golden values: this script, the runtime and the shipped bundle, the occluders.
GENERATOR_INPUTS = ("android-demo/tools/make_golden.py", "edge", "train/occluders.py")


def git_state(bundle_path: str) -> dict[str, Any] | None:
    """The repository's commit, and whether the files that decide the goldens (GENERATOR_INPUTS and
    the bundle when it is inside the repository) differ from it."""
    inputs = [*GENERATOR_INPUTS, *([bundle_path] if not Path(bundle_path).is_absolute() else [])]
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", *inputs],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": head, "dirty": bool(changed)}


def replace_folder(new: Path, out: Path) -> None:
    """Put the finished folder ``new`` where ``out`` is (renames only: never a half-written set)."""
    if out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        new.rename(out)
        shutil.rmtree(old)
    else:
        new.rename(out)


def newest_bundle(bundles: Path) -> Path:
    found = sorted((p.parent for p in bundles.glob("*/bundle.json")), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"error: no bundle under {bundles}; export one: python convert/export.py --run runs/NAME")
    return found[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, help="bundle folder with fp32 and int8 TFLite models (default: newest)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MTFL folder (labels.csv)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--landmarks-only", action="store_true",
                        help="only (re)write landmarks.json and its crops from the committed faces in --out")
    parser.add_argument("--recrop", action="store_true",
                        help="run today's detector path and crop again on the committed frames and rewrite what "
                             "follows (model outputs too when --bundle holds the golden models)")
    args = parser.parse_args(argv)
    if args.recrop:
        if not (args.out / "index.json").is_file():
            print(f"error: {args.out}/index.json not found; run make_golden.py without --recrop first", file=sys.stderr)
            return 2
        tmp = Path(tempfile.mkdtemp(prefix=".golden-", dir=args.out.parent))
        try:
            shutil.copytree(args.out, tmp, dirs_exist_ok=True)
            changed = recrop_cases(tmp, args.bundle)
            replace_folder(tmp, args.out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        print(f"re-cropped: {changed} crops changed in {args.out}; landmark crops rewritten")
        return 0
    if args.landmarks_only:
        if not (args.out / "index.json").is_file():
            print(f"error: {args.out}/index.json not found; run make_golden.py without --landmarks-only first",
                  file=sys.stderr)
            return 2
        cases = landmark_crop_cases(args.out)
        print(f"landmark crops: {len(cases['faces'])} faces in {args.out / LANDMARK_FILE}")
        return 0

    from auedge.edge.bundle import BundleError, load_bundle
    from auedge.edge.face_detector import FaceDetector, FaceDetectorOptions
    from auedge.edge.images_io import ImageReadError, read_image_rgb

    bundle_dir = args.bundle or newest_bundle(REPO / "bundles")
    if not (args.data / "labels.csv").is_file():
        print(f"error: {args.data}/labels.csv not found; pass --data to the MTFL folder", file=sys.stderr)
        return 2
    try:
        bundle = load_bundle(bundle_dir)
        for name in MODELS:
            entry = bundle.model(name)
            if entry.format != "tflite":
                raise BundleError(f"bundle {bundle_dir} model {name} is {entry.format}, not tflite")
        if bundle.face_detector is None:
            raise BundleError(f"bundle {bundle_dir} has no face_detector; re-export it")
        estimators = open_estimators(bundle_dir)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    det_entry = bundle.face_detector
    detector = FaceDetector.create_from_options(FaceDetectorOptions(
        model_path=det_entry.path, kind=det_entry.kind, score_threshold=det_entry.score_threshold,
        nms_iou=det_entry.nms_iou, backend="litert"))

    made_at = git_state(bundle_path(bundle))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".golden-", dir=args.out.parent))
    try:
        candidates, quotas = pick_candidates(read_rows(args.data), args.seed)
        faces: list[dict[str, Any]] = []
        taken: dict[tuple[str, int, int], int] = {}
        for row, factor in candidates:
            group = (row.source, row.pose == 3, factor)
            limit = 1 if factor > 1 else dict(zip(
                [("AFLW", True), ("AFLW", False), ("lfw_5590", True), ("lfw_5590", False), ("net_7876", True),
                 ("net_7876", False)], quotas))[group[:2]]
            if taken.get(group, 0) >= limit:
                continue
            try:
                frame = read_image_rgb(args.data / row.path)
            except ImageReadError:
                continue
            case = face_case(enlarge(frame, factor), detector, estimators, bundle.crop)
            if case is None:
                continue
            taken[group] = taken.get(group, 0) + 1
            faces.append(store_face(tmp, len(faces), row, frame, factor, case))
        used = {f["source"] for f in faces}
        for au in occlusion_flags(bundle):
            faces.append(occluded_face(tmp, len(faces), au, occlusion_candidates(read_rows(args.data), args.seed, used),
                                       args.data, detector, estimators, bundle.crop))
            used.add(faces[-1]["source"])
        shutil.copyfile(bundle.root / "bundle.json", tmp / "bundle.json")
        # A colour LFW face (some AFLW frames are grey), cut to a non-square 200x150 frame.
        yuv_face = next(f for f in faces if f["source"].startswith("lfw"))
        yuv_source = read_image_rgb(args.data / yuv_face["source"])[50:200, 25:225]
        index = {
            "generator": "android-demo/tools/make_golden.py",
            "bundle": bundle_section(bundle, made_at),
            "detector": {"kind": det_entry.kind, "input_size": detector.spec.input_size,
                         "score_threshold": det_entry.score_threshold, "nms_iou": det_entry.nms_iou,
                         "max_faces": detector.options.max_faces, "num_anchors": len(detector.anchors)},
            "models": {name: model_summary(est) for name, est in estimators.items()},
            "faces": faces,
            "yuv": write_yuv(tmp, yuv_source, "yuv_" + yuv_face["id"]),
            "smoothing": smoothing_cases(),
        }
        (tmp / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
        landmark_crop_cases(tmp)
        replace_folder(tmp, args.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        detector.backend.close()
        for est in estimators.values():
            est.close()
    size = sum(p.stat().st_size for p in args.out.iterdir())
    n_non_frontal = sum(1 for f in faces if f["pose"] != 3)
    print(f"golden vectors: {len(faces)} faces ({n_non_frontal} non-frontal, "
          f"{sum(1 for f in faces if f['upscale'] > 1)} enlarged, {sum(1 for f in faces if 'occluder' in f)} occluded) "
          f"x {len(MODELS)} models, {size / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
