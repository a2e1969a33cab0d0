"""Faces in, Action Units out: detector -> eye-aligned crop -> AU model, all from one bundle.

Everything heavy is created once in :meth:`Estimator.create_from_options` (bundle verified by
sha256, one detector interpreter, one AU interpreter, preallocated input buffers), so a frame costs
only the detector run, one warp per face and one AU model run per face.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from auedge.edge.align import align_face, align_points, transform_points
from auedge.edge.backends import Backend, BackendError, choose_backend, create_backend, resolve_quant
from auedge.edge.bundle import (
    DEFAULT_THRESHOLD,
    OCCLUDED_SUFFIX,
    Bundle,
    BundleError,
    ModelEntry,
    load_bundle,
)
from auedge.edge.face_detector import (
    KIND_ALIASES,
    Detection,
    FaceDetector,
    FaceDetectorOptions,
    check_region,
    region_pixels,
)
from auedge.edge.flip_pairing import choose_pairing
from auedge.edge.model_choice import FASTEST, ModelChoice, ModelChoiceOptions, choose_fastest
from auedge.edge.preprocess import QuantParams, dequantize, normalize, quantize
from auedge.edge.results import EstimateResult, FaceResult
from auedge.edge.tracking import FaceTracker, Track, TrackingOptions

__all__ = ["DEFAULT_THRESHOLD", "Estimator", "EstimatorOptions", "check_model", "size_opencv_threads"]
log = logging.getLogger("auedge.edge.estimator")


@dataclass(frozen=True)
class EstimatorOptions:
    """What to load and how to run it.

    ``model`` names one of the bundle's models (``None``: the bundle's default, int8 when present;
    ``"fastest"``: time each model here at start-up and keep the quickest, see model_choice).
    ``backend`` applies to the AU model; the detector (a TFLite file) uses the same backend when it
    can run TFLite, else ``auto``. Detector settings left as ``None`` come from the bundle.
    ``min_face_px``: faces whose box is narrower are not reported (too small for a reliable crop).
    ``flip_average``: also run the mirrored crop and average (2x the AU model time). ``None`` follows
    the bundle's ``inference.flip_average``: the decision threshold was chosen on validation with
    that setting, so the device should do what training did.
    ``detect_region``: (x, y, w, h) fractions of the frame where faces are searched (``None``: all of
    it). A camera beside a bed sees the head small; searching only around the pillow lets the
    detector see it larger, while the crop is still cut from the full-resolution frame.
    ``paired_flip``: with flip averaging, run the crop and its mirror as one batch of two (True),
    as two runs (False), or time both at start-up and keep the quicker (None; see flip_pairing).
    """

    bundle_path: str | Path
    model: str | None = None
    backend: str = "auto"
    num_threads: int = 1
    score_threshold: float | None = None
    nms_iou: float | None = None
    max_faces: int = 10
    detector_path: str | Path | None = None
    detector_kind: str | None = None
    flip_average: bool | None = None
    min_face_px: float = 0.0
    check_hash: bool = True
    detect_region: tuple[float, float, float, float] | None = None
    tracking: TrackingOptions | None = None
    paired_flip: bool | None = None

    def __post_init__(self) -> None:
        if self.detect_region is not None:
            object.__setattr__(self, "detect_region", check_region(self.detect_region))
        if self.tracking is not None:
            self.tracking.validate()


def size_opencv_threads(threads: int) -> int:
    """Give OpenCV's thread pool as many threads as the interpreter has (and the process has cores).

    OpenCV starts one worker per core of the machine. Pinned to fewer cores, or sharing them with
    the interpreter's threads, its per-frame resize and warp (a fraction of a millisecond each)
    then mostly wait for each other. The process owner (daemon, CLI) calls this once; it is
    process-wide, which is why the Estimator itself does not.
    """
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    count = max(1, min(int(threads), cores))
    cv2.setNumThreads(count)
    return count


def _output_size(backend: Backend, input_shape: tuple[int, int, int, int]) -> int:
    """Values the AU model gives per crop: from its output shape, or from one run when it is dynamic."""
    shape = backend.output_details[0].shape
    per_crop = shape[1:] if len(shape) > 1 else shape
    if all(d >= 0 for d in per_crop):
        return int(np.prod(per_crop))
    return int(np.asarray(backend.run(np.zeros(input_shape, dtype=backend.input.dtype))[0]).size)


def check_model(bundle: Bundle, model: ModelEntry, backend: Backend) -> tuple[QuantParams | None, QuantParams | None]:
    """Refuse at load, not at the first face, a model that does not fit its bundle.json.

    Checks the input shape (NHWC crop), that every output index exists in the model's output,
    and that the bundle's quantization agrees with the tensors (dtype included). Returns the
    input and output quantization to use. ``bundle-info`` runs the same checks.
    """
    info = backend.input
    height, width = bundle.input_size
    if len(info.shape) != 4 or tuple(info.shape[1:]) != (height, width, 3):
        raise BundleError(
            f"AU model {model.path} takes input {list(info.shape)}, but bundle.json promises NHWC "
            f"[1, {height}, {width}, 3]; re-export the bundle"
        )
    if not backend.output_details:
        raise BundleError(f"AU model {model.path} has no outputs")
    try:
        input_quant = resolve_quant(info, model.input_quant, "input", model.path)
        output_quant = resolve_quant(backend.output_details[0], model.output_quant, "output", model.path)
    except BackendError as exc:
        raise BundleError(str(exc)) from exc
    if input_quant is None and info.dtype != np.float32:
        raise BundleError(f"AU model {model.path} takes {info.dtype} input; au-edge feeds float32 or int8/uint8")
    size = _output_size(backend, (1, height, width, 3))
    highest = max(bundle.outputs, key=lambda o: o.index)
    if highest.index >= size:
        raise BundleError(
            f"AU model {model.path} gives {size} value(s) per face, but bundle.json maps {highest.au} to "
            f"output index {highest.index}; fix outputs[].index or re-export the bundle"
        )
    return input_quant, output_quant


def _first(*values: float | None) -> float:
    return next(float(v) for v in values if v is not None)


def _now_ms() -> float:
    return time.perf_counter() * 1000.0


class Estimator:
    """Runs a bundle's AU model on the faces of RGB uint8 images.

    Not thread-safe: input buffers are reused from call to call. Use one estimator per thread.
    """

    def __init__(
        self, options: EstimatorOptions, bundle: Bundle, model: ModelEntry, backend: Backend,
        detector: FaceDetector | None,
    ) -> None:
        self.options = options
        self.model_choice: ModelChoice | None = None  # set when the model was chosen by timing
        self.bundle = bundle
        self.model = model
        self.backend = backend
        self.detector = detector
        self._input_quant, self._output_quant = check_model(bundle, model, backend)
        if model.degraded:  # bundled with --allow-degraded: it failed the exporter's check
            fix = ("re-export the bundle" if model.name == bundle.default_model
                   else f"run the bundle's default model {bundle.default_model} instead")
            log.warning("AU model %s of bundle %s is marked degraded in bundle.json: it failed the export check "
                        "against the float model, so its outputs may differ from the trained model's; %s",
                        model.name, bundle.root, fix)
        self._indices = np.array([o.index for o in bundle.outputs])
        self._lows = np.array([o.range[0] for o in bundle.outputs], dtype=np.float32)
        self._highs = np.array([o.range[1] for o in bundle.outputs], dtype=np.float32)
        info = backend.input
        self._lut = self._input_lut(info.dtype)
        height, width = bundle.input_size
        self._crop_buffer = np.zeros((height, width, 3), dtype=info.dtype)
        flip = options.flip_average
        self.flip_average = bundle.flip_average if flip is None else flip
        # The crop and its mirror in one run of a batch-2 model when that is quicker here (the batch
        # stays 1 without flip averaging); flip_pairing says why it is measured, not assumed.
        self.paired, self.pair_timing = (choose_pairing(backend, options.paired_flip) if self.flip_average
                                         else (False, None))
        if self.pair_timing is not None:
            log.info("flip averaging as %s: the crop and its mirror took %.3f ms as one batch of two, %.3f ms as "
                     "two runs", "one batch of two" if self.paired else "two runs", self.pair_timing.pair_ms,
                     self.pair_timing.two_runs_ms)
        self._pair_buffer = np.zeros((2, height, width, 3), dtype=info.dtype) if self.paired else None
        self._mirror_buffer = np.zeros_like(self._crop_buffer) if self.flip_average and not self.paired else None
        tracking = options.tracking
        self.tracker = FaceTracker(tracking) if tracking is not None and tracking.enabled else None

    @classmethod
    def create_from_options(cls, options: EstimatorOptions) -> Estimator:
        """Load and verify the bundle, then create both interpreters once."""
        bundle = load_bundle(options.bundle_path, check_hash=options.check_hash)
        choice = None
        if options.model == FASTEST:
            choice = choose_fastest(bundle, ModelChoiceOptions(backend=options.backend, num_threads=options.num_threads))
            model, backend = choice.model, choice.backend
        else:
            model = bundle.model(options.model)
            backend = create_backend(model.path, options.backend, options.num_threads)
        detector = cls._create_detector(options, bundle)
        estimator = cls(options, bundle, model, backend, detector)
        estimator.model_choice = choice
        return estimator

    @classmethod
    def from_bundle(cls, path: str | Path, **kwargs: object) -> Estimator:
        return cls.create_from_options(EstimatorOptions(bundle_path=path, **kwargs))  # type: ignore[arg-type]

    @staticmethod
    def _create_detector(options: EstimatorOptions, bundle: Bundle) -> FaceDetector | None:
        entry = bundle.face_detector
        path = options.detector_path or (entry.path if entry else None)
        if path is None:
            return None  # estimate() will say so; aligned crops and known landmarks still work
        kind = options.detector_kind or (entry.kind if entry else "short_range")
        if kind not in KIND_ALIASES:
            raise BundleError(f"{bundle.root}: face detector kind {kind!r} is unknown (short_range or full_range)")
        try:  # the detector is TFLite: share the AU model's backend when that backend runs TFLite
            detector_backend = choose_backend(path, options.backend)
        except BackendError:
            detector_backend = "auto"
        detector_options = FaceDetectorOptions(
            model_path=path,
            kind=kind,
            score_threshold=_first(options.score_threshold, entry.score_threshold if entry else None, 0.5),
            nms_iou=_first(options.nms_iou, entry.nms_iou if entry else None, 0.3),
            max_faces=options.max_faces,
            backend=detector_backend,
            num_threads=options.num_threads,
        )
        return FaceDetector.create_from_options(detector_options)

    @property
    def au_names(self) -> list[str]:
        return self.bundle.au_names

    # --- the AU model on one aligned crop -------------------------------------------------------

    def _input_lut(self, dtype: np.dtype) -> np.ndarray:
        """Per-channel table uint8 pixel -> model input value (normalised, then quantized if int).

        A pixel has only 256 values, so normalize() and quantize() are applied once to each and
        cv2.LUT does the rest: one pass, exactly the values the reference functions give.
        """
        levels = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
        table = normalize(levels, self.bundle.normalization)
        if self._input_quant is not None:
            table = quantize(table, self._input_quant)
        return np.ascontiguousarray(table.reshape(256, 1, 3).astype(dtype, copy=False))

    def _run_crop(self, crop: np.ndarray) -> np.ndarray:
        """Raw (dequantized) model outputs for one aligned uint8 crop.

        The model gets the array cv2.LUT returns: that is the reused buffer when table and buffer
        agree, but a new array when they do not, and feeding the untouched buffer would then give
        every face the same values.
        """
        return self._run_pixels(cv2.LUT(crop, self._lut, dst=self._crop_buffer))

    def _run_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Raw (dequantized) model outputs for one crop already through the input table."""
        output = self.backend.run(pixels[None])[0]
        if self._output_quant is not None:
            output = dequantize(output, self._output_quant)
        return np.asarray(output, dtype=np.float32).reshape(-1)

    def _run_mirrored(self, crop: np.ndarray) -> np.ndarray:
        """:func:`flip_averaged` of one crop as two runs; the table lookup is done once and the mirror
        taken after it (a per-pixel table commutes with mirroring): one cv2.LUT of 0.10 ms and a flip
        of 0.02 ms instead of two lookups (one AVX2 core, 160 px)."""
        pixels = cv2.LUT(crop, self._lut, dst=self._crop_buffer)
        first = self._run_pixels(pixels)
        mirrored = self._run_pixels(cv2.flip(pixels, 1, dst=self._mirror_buffer))
        return ((first + mirrored) / 2.0).astype(np.float32)

    def _run_pair(self, crop: np.ndarray) -> np.ndarray:
        """:func:`flip_averaged` of one crop in one batch-2 run: the mirror is taken after the table
        lookup (a per-pixel table commutes with mirroring), then both rows are dequantized and averaged."""
        pair = self._pair_buffer
        pixels = cv2.LUT(crop, self._lut, dst=pair[0])
        if pixels is not pair[0] and not np.shares_memory(pixels, pair):
            pair[0] = pixels
        mirrored = cv2.flip(pair[0], 1, dst=pair[1])
        if not np.shares_memory(mirrored, pair):
            pair[1] = mirrored
        output = self.backend.run(pair)[0]
        if self._output_quant is not None:
            output = dequantize(output, self._output_quant)
        output = np.asarray(output, dtype=np.float32).reshape(2, -1)
        return ((output[0] + output[1]) / 2.0).astype(np.float32)

    def _au_values(self, crop: np.ndarray) -> np.ndarray:
        """AU values in bundle output order, clipped to each output's range."""
        if self.paired:
            raw = self._run_pair(crop)
        elif self.flip_average:  # the mirror mean of flip_averaged, which training and export validation use
            raw = self._run_mirrored(crop)
        else:
            raw = self._run_crop(crop)
        if raw.size <= self._indices.max():
            raise BundleError(
                f"AU model {self.model.path} gives {raw.size} values, bundle.json maps output index "
                f"{int(self._indices.max())}; re-export the bundle"
            )
        return np.clip(raw[self._indices], self._lows, self._highs)

    def _face_result(
        self, values: np.ndarray, box: tuple[float, float, float, float], score: float,
        keypoints: np.ndarray, timings: dict[str, float],
    ) -> FaceResult:
        aus, present, covered = {}, {}, {}
        for spec, value in zip(self.bundle.outputs, values):
            threshold = spec.decision_threshold
            decided = None if threshold is None else bool(value >= threshold)
            if spec.au.endswith(OCCLUDED_SUFFIX):
                # An occlusion flag output ("AU12_occluded"): says whether AU12's region is covered.
                covered[spec.au[: -len(OCCLUDED_SUFFIX)]] = bool(decided)
                continue
            aus[spec.au] = float(value)
            if decided is not None:
                present[spec.au] = decided
        observable = {au: not covered.get(au, False) for au in aus}
        return FaceResult(
            box=box,
            score=float(score),
            keypoints=[(float(x), float(y)) for x, y in np.asarray(keypoints).reshape(-1, 2)],
            aus=aus,
            present=present,
            observable=observable,
            timings_ms=timings,
        )

    # --- public entry points ----------------------------------------------------------------------

    def estimate_aligned(self, crops: np.ndarray) -> np.ndarray:
        """AU values ``(N, len(au_names))`` for already aligned uint8 crops ``(N, H, W, 3)``.

        Used by accuracy benchmarks and golden tests, which align with dataset landmarks.
        """
        batch = np.asarray(crops)
        if batch.ndim == 3:
            batch = batch[None]
        height, width = self.bundle.input_size
        if batch.ndim != 4 or batch.shape[1:] != (height, width, 3) or batch.dtype != np.uint8:
            raise ValueError(f"expected uint8 crops (N, {height}, {width}, 3), got {batch.dtype} {batch.shape}")
        return np.stack([self._au_values(crop) for crop in batch]) if len(batch) else np.zeros(
            (0, len(self.bundle.outputs)), dtype=np.float32
        )

    def estimate_with_landmarks(
        self,
        image_rgb: np.ndarray,
        left_eye: np.ndarray,
        right_eye: np.ndarray,
        nose: np.ndarray | None = None,
        mouth: np.ndarray | None = None,
    ) -> FaceResult:
        """One face whose eyes are known (image-left eye first): no detector involved. A bundle
        whose crop method is ``landmarks`` also needs the nose tip and the mouth centre.

        The box is the crop square's bounding box in image pixels; keypoints are the points given.
        """
        if (nose is None) != (mouth is None):
            raise ValueError("estimate_with_landmarks: give both the nose tip and the mouth centre, or neither")
        start = _now_ms()
        extra = {"nose": nose, "mouth": mouth} if nose is not None else {}
        crop, matrix = align_face(image_rgb, left_eye, right_eye, self.bundle.crop, **extra)
        aligned = _now_ms()
        values = self._au_values(crop)
        done = _now_ms()
        size = self.bundle.crop.size
        inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
        corners = transform_points(np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64), inverse)
        (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
        return self._face_result(
            values, (float(x0), float(y0), float(x1 - x0), float(y1 - y0)), 1.0,
            np.array([left_eye, right_eye, *extra.values()], dtype=np.float64),
            {"align": aligned - start, "au_model": done - aligned},
        )

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        if self.detector is None:
            raise BundleError(
                f"bundle {self.bundle.root} has no face_detector entry; pass EstimatorOptions(detector_path=...)"
            )
        return self.detector.detect(image_rgb, self.options.detect_region)

    def _usable(self, detections: list[Detection]) -> list[Detection]:
        return [d for d in detections if d.box[2] >= self.options.min_face_px]

    def _faces_to_run(self, image_rgb: np.ndarray, timings: dict[str, float]) -> tuple[list, bool]:
        """This frame's faces (detections, or tracks carried from the last detection) and whether
        the detector ran; adds the ``track`` (change check) and ``detect`` times it spent."""
        tracker = self.tracker
        if tracker is None:
            t0 = _now_ms()
            detections = self._usable(self.detect(image_rgb))
            timings["detect"] = _now_ms() - t0
            return detections, True
        t0 = _now_ms()
        region = self.options.detect_region
        if region is not None:
            x0, y0, x1, y1 = region_pixels(region, image_rgb.shape[1], image_rgb.shape[0])
            detect = tracker.needs_detection(image_rgb[y0:y1, x0:x1])
        else:
            detect = tracker.needs_detection(image_rgb)
        t1 = _now_ms()
        timings["track"] = t1 - t0
        if not detect:
            return tracker.tracks, False
        tracks = tracker.update(self._usable(self.detect(image_rgb)))
        timings["detect"] = _now_ms() - t1
        return tracks, True

    def reset_tracking(self, restart_ids: bool = False) -> None:
        """Forget tracked faces: the next frame is detected afresh (a reopened camera, a new clip);
        ``restart_ids`` numbers the faces from 1 again (a new clip)."""
        if self.tracker is not None:
            self.tracker.reset(restart_ids)

    def estimate(self, image_rgb: np.ndarray) -> EstimateResult:
        """All faces of an RGB uint8 image (H, W, 3); ``image_size`` is (width, height).

        With tracking, successive calls are one video: faces carry ``track_id`` and
        ``EstimateResult.detected`` says whether the detector ran on this frame.
        """
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image_rgb.dtype} {image_rgb.shape}")
        start = _now_ms()
        timings: dict[str, float] = {}
        found, detected = self._faces_to_run(image_rgb, timings)
        faces, align_ms, model_ms = [], 0.0, 0.0
        for det in found:
            t0 = _now_ms()
            try:
                crop, _ = align_points(image_rgb, det.keypoints, self.bundle.crop)
            except ValueError:
                continue  # degenerate keypoints (eyes on top of each other): no usable crop
            t1 = _now_ms()
            values = self._au_values(crop)
            t2 = _now_ms()
            align_ms += t1 - t0
            model_ms += t2 - t1
            face = self._face_result(values, det.box, det.score, det.keypoints, {"align": t1 - t0, "au_model": t2 - t1})
            face.track_id = det.track_id if isinstance(det, Track) else None
            faces.append(face)
        end = _now_ms()
        height, width = image_rgb.shape[:2]
        return EstimateResult(
            faces=faces,
            image_size=(int(width), int(height)),
            timings_ms={**timings, "align": align_ms, "au_model": model_ms, "total": end - start},
            detected=detected,
        )

    def close(self) -> None:
        """Release both interpreters; the estimator cannot be used afterwards."""
        self.backend.close()
        if self.detector is not None:
            self.detector.backend.close()
