"""Golden vectors for the Android core: what the Python edge runtime computes, stage by stage.

The Java core (android-demo/core) must reproduce edge/face_detector.py, edge/align.py and
edge/preprocess.py on the phone. Java cannot run TFLite here, so this script runs the real bundle
with the project's own runtime on generated faces and writes every intermediate result the Java
tests compare against: the letterbox geometry and canvas, the detector's raw outputs, the decoded
boxes and keypoints, the aligned crop, the model input (as a sha256 of its exact bytes), the raw
model output and the AU values with each AU's presence and observability, for the fp32 and the
int8 model. When the bundle has occlusion flags ("AU12_occluded"), a few more faces wear a synthetic
occluder (auedge.train.occluders) chosen so that every flag says "covered" on both models, so the
phone's "not observable" path is compared too. Plus YUV frames with their RGB, and AU smoothing
sequences.

The faces come from the project's procedural renderer (auedge.train.data.synthetic; numpy and OpenCV,
no TensorFlow), not from a dataset: the golden folder holds no licensed photo and anyone can make it
again from the repository alone. Each face is rendered from a seeded recipe (index.json "synthetic":
identity, AUs, size, squeeze, rotation, place) into close-ups, smaller faces anywhere in larger
frames, portrait and landscape frames, faces narrowed like turned heads, and enlarged close-ups that
reach the crop's integer box reduction; a render is kept only when the bundle's own detector finds it.

    python android-demo/tools/make_golden.py --bundle edge/models/default
    python android-demo/tools/make_golden.py --recrop   # after a change of edge/align.py's pixels

Frames and crops are stored as PNG (lossless, read by javax.imageio in the tests), float arrays as
little-endian .bin, YUV frames gzipped; index.json ties them together. The output folder is written
to a temporary name and renamed into place.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "android-demo" / "core" / "src" / "test" / "resources" / "golden"
# Faces whose letterbox canvas is stored in full (the others keep geometry and channel means).
CANVAS_FACES = 8
MODELS = ("fp32", "int8")


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
    """One even-sized frame in both BT.601 ranges."""
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


# --- synthetic frames -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameKind:
    """One kind of golden frame: its size, how big the rendered face is in it and how it is posed.

    ``squeezes`` holds one horizontal squeeze per face of the kind (its length is the number of
    faces): 1 is the renderer's own face (yaw within +-0.25 of its face units: frontal, pose 3);
    TURNED and PROFILE narrow the rendered face to the width a head turned by about 40 and 60 degrees
    shows (cos), a 2-D stand-in for a turn, since the renderer draws no profiles.
    """

    name: str
    width: int
    height: int
    face_px: tuple[int, int]  # side of the rendered face square, smallest and largest
    max_angle: float  # extra in-plane rotation, degrees either way
    squeezes: tuple[float, ...]
    upscale: int = 1


TURNED = 0.75
PROFILE = 0.5
FRAME_KINDS = (
    # Close-ups that fill the frame, as a face detector's crop of a photo; the first CANVAS_FACES
    # faces (all of these) keep their letterbox canvas.
    FrameKind("close", 150, 150, (150, 150), 25.0, (1, 1, 1, 1, 1, TURNED, TURNED, PROFILE)),
    # A smaller face anywhere in a larger square frame.
    FrameKind("scene", 240, 240, (96, 150), 30.0, (1, 1, 1, 1, 1, 1, TURNED, PROFILE)),
    # Portrait and landscape frames: the letterbox pads x, then y.
    FrameKind("portrait", 160, 216, (110, 150), 20.0, (1, 1, TURNED, PROFILE)),
    FrameKind("landscape", 200, 150, (100, 140), 20.0, (1, 1, TURNED, TURNED)),
    # Nearest-neighbour enlargements of close-ups: an eye distance above 133 px, where the crop's
    # integer box reduction starts (x9: factor 2), and above 400 px (x12: factor 3), without
    # committing megapixel frames.
    FrameKind("enlarged", 150, 150, (150, 150), 10.0, (1,), upscale=9),
    FrameKind("enlarged", 150, 150, (150, 150), 10.0, (1,), upscale=12),
)
# Close-ups for the occluded faces.
OCCLUDED = FrameKind("occluded", 150, 150, (150, 150), 15.0, (1,))
# Renders tried per golden face before giving up (each a new identity, pose and AU draw).
FACE_TRIES = 16
# A detection is the rendered face when both its eyes lie within this share of the eye distance of
# the rendered eyes.
EYE_MATCH = 0.35


@dataclass(frozen=True)
class FaceRecipe:
    """Everything that makes one golden frame from the synthetic renderer (index.json's "synthetic"):
    identity ``identity_for(seed, identity)``, the render's generator ``default_rng([seed, 1,
    render])``, the backdrop's ``default_rng([seed, 3, render])``; the rendered square (``face_px``)
    is squeezed horizontally, turned by ``angle`` degrees about its centre and laid with feathered
    edges on the backdrop, centred at (``x``, ``y``)."""

    seed: int
    kind: str
    identity: int
    render: int
    au12: float
    au4: float
    width: int
    height: int
    face_px: int
    squeeze: float
    angle: float
    x: float
    y: float
    occluder: str = "none"  # drawn at the rendered landmarks with default_rng([seed, 4, render])

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def draw_recipe(seed: int, kind: FrameKind, slot: int, squeeze: float, attempt: int) -> FaceRecipe:
    """The ``attempt``-th candidate for golden face ``slot``: a new identity, AUs, size, angle and place."""
    render = slot * FACE_TRIES + attempt
    rng = np.random.default_rng([seed, 2, render])
    face_px = int(rng.integers(kind.face_px[0], kind.face_px[1] + 1))
    au12, au4 = (round(float(v), 2) for v in rng.uniform(0.0, 5.0, 2))
    angle = round(float(rng.uniform(-kind.max_angle, kind.max_angle)), 1)
    face_w = round(face_px * squeeze)
    x = float(kind.width / 2 if face_w >= kind.width else rng.integers(face_w // 2, kind.width - face_w // 2 + 1))
    y = float(kind.height / 2 if face_px >= kind.height else rng.integers(face_px // 2, kind.height - face_px // 2 + 1))
    return FaceRecipe(seed, kind.name, render, render, au12, au4, kind.width, kind.height, face_px, squeeze, angle, x, y)


def backdrop(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A smooth two-colour field: something for the letterbox to scale that is not a face."""
    a, b = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    low = rng.uniform(0, 1, (3, 3, 1))
    field = (a + (b - a) * low).astype(np.float32)
    return np.clip(np.rint(cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)), 0, 255).astype(np.uint8)


def render_frame(recipe: FaceRecipe) -> tuple[np.ndarray, np.ndarray]:
    """The golden frame of ``recipe`` (uint8 RGB, before any enlargement) and its five rendered
    landmarks in frame pixels (the renderer's order: image-left eye, image-right eye, nose tip,
    image-left and image-right mouth corner), with the recipe's occluder drawn at them."""
    from auedge.train.occluders import apply_occluder

    frame, points = render_bare_frame(recipe)
    if recipe.occluder != "none":
        frame = apply_occluder(frame, points.astype(np.float32), recipe.occluder,
                               np.random.default_rng([recipe.seed, 4, recipe.render]))
    return frame, points


def render_bare_frame(recipe: FaceRecipe) -> tuple[np.ndarray, np.ndarray]:
    """:func:`render_frame` without the occluder."""
    from auedge.train.data.synthetic import identity_for, render_face

    face, points = render_face(identity_for(recipe.seed, recipe.identity),
                               np.random.default_rng([recipe.seed, 1, recipe.render]), recipe.au12, recipe.au4,
                               recipe.face_px)
    points = points.astype(np.float64)
    size = recipe.face_px
    face_w = round(size * recipe.squeeze)
    if face_w != size:
        face = cv2.resize(face, (face_w, size), interpolation=cv2.INTER_AREA)
        points[:, 0] = (points[:, 0] + 0.5) * face_w / size - 0.5
    if recipe.angle:
        turn = cv2.getRotationMatrix2D(((face_w - 1) / 2, (size - 1) / 2), recipe.angle, 1.0)
        face = cv2.warpAffine(face, turn, (face_w, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        points = points @ turn[:, :2].T + turn[:, 2]
    if (face_w, size) == (recipe.width, recipe.height):
        return face, points
    frame = backdrop(np.random.default_rng([recipe.seed, 3, recipe.render]), recipe.width, recipe.height)
    x0, y0 = round(recipe.x - face_w / 2), round(recipe.y - size / 2)
    frame_box = frame[y0:y0 + size, x0:x0 + face_w]
    if frame_box.shape[:2] != (size, face_w):
        raise ValueError(f"face {face_w}x{size} at ({recipe.x}, {recipe.y}) leaves the {recipe.width}x{recipe.height} frame")
    feather = max(3, size // 16)
    ramp_x = np.clip(np.minimum(np.arange(face_w) + 1, face_w - np.arange(face_w)) / feather, 0, 1)
    ramp_y = np.clip(np.minimum(np.arange(size) + 1, size - np.arange(size)) / feather, 0, 1)
    alpha = (ramp_y[:, None] * ramp_x[None, :])[..., None]
    frame_box[:] = np.rint(alpha * face + (1 - alpha) * frame_box).astype(np.uint8)
    return frame, points + (x0, y0)


def nose_offset(points: np.ndarray) -> float:
    """The nose tip's offset from the eye midpoint along the eye line, in eye distances (image-right
    positive): which way a squeezed face counts as turned."""
    eyes = points[1] - points[0]
    span = float(np.hypot(*eyes))
    return float(np.dot(points[2] - (points[0] + points[1]) / 2, eyes) / span**2)


def pose_class(squeeze: float, points: np.ndarray) -> int:
    """An MTFL-style pose class (3 frontal; 2 and 4 turned, 1 and 5 profile, to the image left and
    right) from the squeeze and the side the nose lies on."""
    if squeeze > TURNED:
        return 3
    right = nose_offset(points) > 0
    return (4 if right else 2) if squeeze > PROFILE else (5 if right else 1)


def is_rendered_face(case: dict[str, Any], points: np.ndarray, factor: int) -> bool:
    """Whether the best detection's eyes are the rendered eyes (either order), not a false find."""
    found = np.reshape(case["crop"]["left_eye"] + case["crop"]["right_eye"], (2, 2)) / factor
    eyes = points[:2]
    span = float(np.hypot(*(eyes[1] - eyes[0])))
    miss = min(np.abs(found - eyes).max(), np.abs(found[::-1] - eyes).max())
    return miss <= EYE_MATCH * span


def golden_faces(tmp: Path, seed: int, detector: Any, estimators: dict[str, Any], crop_params: Any) -> list[dict[str, Any]]:
    """Every FRAME_KINDS face: for each, the first render the detector finds (on the rendered face)."""
    faces: list[dict[str, Any]] = []
    for kind in FRAME_KINDS:
        for squeeze in kind.squeezes:
            slot = len(faces)
            for attempt in range(FACE_TRIES):
                recipe = draw_recipe(seed, kind, slot, squeeze, attempt)
                frame, points = render_frame(recipe)
                case = face_case(enlarge(frame, kind.upscale), detector, estimators, crop_params)
                if case is not None and is_rendered_face(case, points, kind.upscale):
                    faces.append(store_face(tmp, slot, recipe, pose_class(squeeze, points), frame, kind.upscale, case))
                    break
            else:
                raise SystemExit(f"error: the detector found none of {FACE_TRIES} synthetic {kind.name} faces "
                                 f"(squeeze {squeeze}) for golden face {slot}; raise FACE_TRIES or change FRAME_KINDS")
    return faces


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
    differs from the eye crop, so the phone's least-squares fit is checked against Python's on the
    detector's keypoints without doubling the golden set."""
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


def store_face(tmp: Path, number: int, recipe: FaceRecipe, pose: int, frame: np.ndarray, factor: int,
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
        "id": fid, "source": "synthetic", "synthetic": recipe.to_dict(), "pose": pose, "frame": f"{fid}_frame.png",
        "upscale": factor,
        "width": frame.shape[1] * factor, "height": frame.shape[0] * factor, **case,
    }


def occlusion_flags(bundle: Any) -> list[str]:
    """The AUs that have an occlusion flag output ("AU12" for "AU12_occluded"), in bundle order."""
    from auedge.edge.bundle import OCCLUDED_SUFFIX

    names = {o.au for o in bundle.outputs}
    return [au for au in bundle.au_names if au + OCCLUDED_SUFFIX in names]


def occluded_face(tmp: Path, number: int, au: str, seed: int, detector: Any, estimators: dict[str, Any],
                  crop_params: Any) -> dict[str, Any]:
    """A synthetic close-up wearing an occluder over the region ``au`` is read from (a mask for a mouth
    AU, big glasses for a brow or eye AU; drawn with the training code's occluders at the rendered
    landmarks), the first render where both models' flag says covered: the golden case of an AU the
    phone must show as not observable. Exits with an error when no render gets there."""
    from auedge.train.occluders import AU_REGIONS

    region = AU_REGIONS.get(au.lower())
    kind = {"mouth": "mask-full", "brows": "glasses-big", "eyes": "glasses-big"}.get(region or "")
    if kind is None:
        raise SystemExit(f"error: no occluder covers the face region of {au} ({region}); extend make_golden.py")
    for attempt in range(FACE_TRIES):
        recipe = replace(draw_recipe(seed, OCCLUDED, number, 1.0, attempt), occluder=kind)
        frame, points = render_frame(recipe)
        case = face_case(frame, detector, estimators, crop_params)
        if (case is not None and is_rendered_face(case, points, 1)
                and all(not m["observable"][au] for m in case["models"].values())):
            entry = store_face(tmp, number, recipe, pose_class(1.0, points), frame, 1, case)
            entry["occluder"] = {"kind": kind, "covers": au}
            return entry
    raise SystemExit(f"error: none of {FACE_TRIES} synthetic faces with a {kind} made both models flag {au} as "
                     "covered; the bundle's occlusion flag may not work, or raise FACE_TRIES")


def bundle_section(bundle: Any, made_at: dict[str, Any] | None) -> dict[str, Any]:
    """index.json's account of the bundle: its name, where it was (relative to the repository when
    inside it, so --recrop finds the same models again), and the commit the goldens were made at."""
    return {"name": bundle.manifest.get("name"), "file": "bundle.json", "path": bundle_path(bundle),
            "models_committed": False, "flip_average": bundle.flip_average, "made_at": made_at}


def bundle_path(bundle: Any) -> str:
    root = Path(bundle.root).resolve()
    return str(root.relative_to(REPO)) if root.is_relative_to(REPO) else str(root)


# What decides the golden values: this script, the runtime and the shipped bundle, the renderer and
# the occluders.
GENERATOR_INPUTS = ("android-demo/tools/make_golden.py", "edge", "train/occluders.py", "train/data/synthetic.py")


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
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=7, help="seed of every synthetic face's recipe")
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

    bundle_dir = args.bundle or newest_bundle(REPO / "bundles")
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
        faces = golden_faces(tmp, args.seed, detector, estimators, bundle.crop)
        for au in occlusion_flags(bundle):
            faces.append(occluded_face(tmp, len(faces), au, args.seed, detector, estimators, bundle.crop))
        shutil.copyfile(bundle.root / "bundle.json", tmp / "bundle.json")
        # A landscape frame (even-sized, 200x150): the camera's YUV in both ranges.
        yuv_face = next(f for f in faces if f["synthetic"]["kind"] == "landscape")
        yuv_source, _ = render_frame(FaceRecipe(**yuv_face["synthetic"]))
        index = {
            "generator": "android-demo/tools/make_golden.py",
            "bundle": bundle_section(bundle, made_at),
            "detector": {"kind": det_entry.kind, "input_size": detector.spec.input_size,
                         "score_threshold": det_entry.score_threshold, "nms_iou": det_entry.nms_iou,
                         "max_faces": detector.options.max_faces, "num_anchors": len(detector.anchors)},
            "models": {name: model_summary(est) for name, est in estimators.items()},
            "synthetic": {"renderer": "auedge.train.data.synthetic", "seed": args.seed},
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
    print(f"golden vectors: {len(faces)} synthetic faces ({n_non_frontal} non-frontal, "
          f"{sum(1 for f in faces if f['upscale'] > 1)} enlarged, {sum(1 for f in faces if 'occluder' in f)} occluded) "
          f"x {len(MODELS)} models, {size / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
