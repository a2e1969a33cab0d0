"""Run every converted model next to the Keras model on held-out crops and judge it.

In the spirit of optimum's ``validate_model_outputs``: a converted model is trusted only after its
outputs were compared with the float model's on real inputs. fp32/fp16 variants must match closely
(max abs difference); quantized ones must keep the decisions (class agreement for occurrence
tasks) or the ranking (ICC(3,1) against the float model for intensity tasks) above a floor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from auedge.convert.to_onnx import open_session
from auedge.convert.to_tflite import open_interpreter
from auedge.convert.variants import CHECK_EXACT, Tolerances, Variant
from auedge.edge.preprocess import dequantize, flip_averaged, quantize

try:  # the training stage's metrics are the project's single definition when present
    from auedge.train.metrics import f1_score, icc31
except ImportError:  # pragma: no cover - only while auedge.train.metrics did not exist yet
    f1_score = icc31 = None  # type: ignore[assignment]

Runner = Callable[[np.ndarray], np.ndarray]
NEAR_THRESHOLD = 0.05  # probability distance from the threshold reported as "near"


def _icc31(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """ICC(3,1), Shrout & Fleiss: two-way mixed, consistency, single rater (truth, prediction)."""
    if icc31 is not None:
        return float(icc31(y_true, y_pred))
    x = np.stack([np.ravel(y_true), np.ravel(y_pred)], axis=1).astype(np.float64)
    n, k = x.shape
    if n < 2:
        return float("nan")
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ems = (np.sum((x - grand) ** 2) - ss_rows - ss_cols) / ((n - 1) * (k - 1))
    bms = ss_rows / (n - 1)
    denom = bms + (k - 1) * ems
    return float((bms - ems) / denom) if denom > 0 else float("nan")


def _f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if f1_score is not None:
        return float(f1_score(y_true, y_pred))
    t, p = np.ravel(y_true) > 0.5, np.ravel(y_pred) > 0.5
    tp, fp, fn = np.sum(t & p), np.sum(~t & p), np.sum(t & ~p)
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0


def tflite_runner(path: Path, num_threads: int = 1) -> Runner:
    """Batch-1 TFLite inference with XNNPACK (as on the device); int8 I/O (de)quantized here."""
    from auedge.convert.to_tflite import _quant

    interpreter = open_interpreter(path, num_threads=num_threads)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    in_q, out_q = _quant(inp), _quant(out)

    def run(inputs: np.ndarray) -> np.ndarray:
        rows = []
        for i in range(inputs.shape[0]):
            x = inputs[i : i + 1]
            interpreter.set_tensor(inp["index"], quantize(x, in_q) if in_q else x.astype(inp["dtype"]))
            interpreter.invoke()
            y = interpreter.get_tensor(out["index"])
            rows.append(dequantize(y, out_q) if out_q else y.astype(np.float32))
        return np.concatenate(rows, axis=0)

    return run


def onnx_runner(path: Path, num_threads: int = 1) -> Runner:
    session = open_session(path, num_threads)
    name = session.get_inputs()[0].name

    def run(inputs: np.ndarray) -> np.ndarray:
        return np.concatenate([session.run(None, {name: inputs[i : i + 1]})[0] for i in range(inputs.shape[0])], axis=0)

    return run


def keras_outputs(model: Any, inputs: np.ndarray, batch: int = 64, flip_average: bool = False) -> np.ndarray:
    """The float reference, in inference mode (averaged with the mirrored inputs when asked)."""
    def run(x: np.ndarray) -> np.ndarray:
        rows = [np.asarray(model(x[i : i + batch], training=False)) for i in range(0, x.shape[0], batch)]
        return np.concatenate(rows, axis=0).astype(np.float32)

    return flip_averaged(run, inputs) if flip_average else run(inputs)


@dataclass(frozen=True)
class TaskView:
    """What the judge needs to know about the task."""

    kind: str  # occurrence | intensity
    aus: tuple[str, ...]
    thresholds: tuple[float, ...]  # occurrence decisions, one per AU
    value_range: tuple[float, float]  # intensity outputs are clipped to this on the device


@dataclass
class Judgement:
    figures: dict[str, Any]
    passed: bool
    failure: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _clean(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(f"{float(value):.6g}")


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _nanmin(values: list[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(min(finite)) if finite else float("nan")


def figures_for(pred: np.ndarray, ref: np.ndarray, labels: np.ndarray | None, task: TaskView) -> dict[str, Any]:
    """Differences, plus agreement/F1 (occurrence) or ICC (intensity), overall and per AU."""
    diff = np.abs(pred.astype(np.float64) - ref.astype(np.float64))
    per_au: dict[str, dict[str, Any]] = {}
    for k, au in enumerate(task.aus):
        entry: dict[str, Any] = {"max_abs_diff": _clean(float(diff[:, k].max()))}
        # Outputs past the label columns (occlusion flags) have no labels here: compared with float only.
        truth = None if labels is None or k >= labels.shape[1] else labels[:, k]
        keep = None if truth is None else np.isfinite(truth)
        if task.kind == "occurrence":
            t = task.thresholds[k]
            p_bin, r_bin = pred[:, k] >= t, ref[:, k] >= t
            entry["agreement"] = _clean(float(np.mean(p_bin == r_bin)))
            # Context for the agreement figure: decisions this close to the threshold flip easily.
            entry["float_near_threshold"] = _clean(float(np.mean(np.abs(ref[:, k] - t) < NEAR_THRESHOLD)))
            if truth is not None and keep.any():
                entry["f1"] = _clean(_f1(truth[keep] >= 0.5, p_bin[keep]))
                entry["f1_float"] = _clean(_f1(truth[keep] >= 0.5, r_bin[keep]))
        else:
            lo, hi = task.value_range
            p_c, r_c = np.clip(pred[:, k], lo, hi), np.clip(ref[:, k], lo, hi)
            entry["icc_vs_float"] = _clean(_icc31(r_c, p_c))
            if truth is not None and keep.any():
                entry["icc_vs_labels"] = _clean(_icc31(truth[keep], p_c[keep]))
                entry["icc_float_vs_labels"] = _clean(_icc31(truth[keep], r_c[keep]))
        per_au[au] = entry
    figures: dict[str, Any] = {
        "n": int(pred.shape[0]),
        "max_abs_diff": _clean(float(diff.max())),
        "mean_abs_diff": _clean(float(diff.mean())),
    }
    # The headline figure is the worst AU (a floor must hold for every output), scores are means.
    if task.kind == "occurrence":
        figures["agreement"] = _clean(_nanmin([e["agreement"] for e in per_au.values()]))
        if labels is not None:
            figures["f1"] = _clean(_nanmean([e.get("f1") for e in per_au.values()]))
            figures["f1_float"] = _clean(_nanmean([e.get("f1_float") for e in per_au.values()]))
    else:
        figures["icc_vs_float"] = _clean(_nanmin([e["icc_vs_float"] for e in per_au.values()]))
        if labels is not None:
            figures["icc_vs_labels"] = _clean(_nanmean([e.get("icc_vs_labels") for e in per_au.values()]))
            figures["icc_float_vs_labels"] = _clean(_nanmean([e.get("icc_float_vs_labels") for e in per_au.values()]))
    figures["per_au"] = per_au
    return figures


def judge(variant: Variant, figures: dict[str, Any], task: TaskView, tol: Tolerances) -> Judgement:
    """Pass/fail against the variant's tolerance; ``failure`` is the one line shown to the user."""
    if variant.check == CHECK_EXACT:
        limit = tol.max_abs_for(variant)
        value = figures["max_abs_diff"]
        passed = value is not None and value <= limit
        figures["tolerance"] = {"metric": "max_abs_diff", "limit": limit}
        failure = None if passed else f"{variant.name}: max abs diff {value:.3g} exceeds {limit:g}"
        return Judgement(figures, passed, failure)
    metric = "agreement" if task.kind == "occurrence" else "icc_vs_float"
    value = figures.get(metric)
    passed = value is not None and value >= tol.int8_floor
    figures["tolerance"] = {"metric": metric, "limit": tol.int8_floor}
    shown = "nan" if value is None else f"{value:.4f}"
    failure = None if passed else f"{variant.name}: {metric.replace('_', ' ')} {shown} is below the floor {tol.int8_floor:g}"
    return Judgement(figures, passed, failure)
