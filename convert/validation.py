"""Run every converted model next to the Keras model on held-out crops and judge it.

In the spirit of optimum's ``validate_model_outputs``: a converted model is trusted only after its
outputs were compared with the float model's on real inputs. fp32/fp16 variants must match closely
(max abs difference); quantized ones must keep the decisions (class agreement for occurrence
tasks) or, for intensity tasks, the ranking (ICC(3,1) against the float model) above a floor and
each AU's mean absolute difference within a bound (ICC ignores a constant offset). A variant that
gives any NaN or infinite output fails, whatever its other figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
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


def input_rows_read(model: Any, size: int, outputs: int, probes: int = 4, seed: int = 0) -> list[int]:
    """For each output, how many of the crop's top rows it depends on (``size``: every row).

    Measured on the model itself, not taken from its recipe: random inputs are redrawn from row y down,
    and y is searched for the highest row whose redrawing leaves the output exactly as it was. A
    row-limited head (``head_rows`` in a recipe: AU4 from the brows and eyes) thereby states in
    bundle.json what nothing below that row, a mask included, can change.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(probes, size, size, 3)).astype(np.float32)
    noise = rng.normal(size=x.shape).astype(np.float32)
    base = np.asarray(model(x, training=False))

    @cache
    def moved(y: int) -> np.ndarray:  # one model run per row, shared by every output's search
        redrawn = x.copy()
        redrawn[:, y:] = noise[:, y:]
        return (np.asarray(model(redrawn, training=False)) != base).any(axis=0)

    rows = []
    for k in range(outputs):
        lo, hi = 0, size  # redrawing from row ``size`` changes nothing: find the smallest such row
        while lo < hi:
            mid = (lo + hi) // 2
            if moved(mid)[k]:
                lo = mid + 1
            else:
                hi = mid
        rows.append(lo)
    return rows


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


def _au_figures(k: int, pred: np.ndarray, ref: np.ndarray, diff: np.ndarray, truth: np.ndarray | None,
                task: TaskView) -> dict[str, Any]:
    """One output's figures; outputs past the label columns (occlusion flags) have no ``truth``."""
    entry: dict[str, Any] = {"max_abs_diff": _clean(float(diff[:, k].max()))}
    keep = None if truth is None else np.isfinite(truth)
    if task.kind == "occurrence":
        t = task.thresholds[k]
        p_bin, r_bin = pred[:, k] >= t, ref[:, k] >= t
        entry["agreement"] = _clean(float(np.mean(p_bin == r_bin)))
        # Decisions this close to the threshold flip easily; the gate counts the others (Tolerances says why).
        near = np.abs(ref[:, k] - t) < NEAR_THRESHOLD
        entry["float_near_threshold"] = _clean(float(np.mean(near)))
        entry["agreement_clear"] = _clean(float(np.mean(p_bin[~near] == r_bin[~near]))) if (~near).any() else 1.0
        if truth is not None and keep.any():
            entry["f1"] = _clean(_f1(truth[keep] >= 0.5, p_bin[keep]))
            entry["f1_float"] = _clean(_f1(truth[keep] >= 0.5, r_bin[keep]))
        return entry
    lo, hi = task.value_range
    p_c, r_c = np.clip(pred[:, k], lo, hi), np.clip(ref[:, k], lo, hi)
    entry["icc_vs_float"] = _clean(_icc31(r_c, p_c))
    # On the values a device reports (clipped to the range): catches the offset ICC cannot see.
    entry["mean_abs_diff"] = _clean(float(np.mean(np.abs(p_c.astype(np.float64) - r_c))))
    if truth is not None and keep.any():
        entry["icc_vs_labels"] = _clean(_icc31(truth[keep], p_c[keep]))
        entry["icc_float_vs_labels"] = _clean(_icc31(truth[keep], r_c[keep]))
    return entry


def _worst(values: list[float | None]) -> float | None:
    """The largest value, or None (unknown, so failing) when any is missing or not finite."""
    return None if any(v is None for v in values) else _clean(max(values))


def figures_for(pred: np.ndarray, ref: np.ndarray, labels: np.ndarray | None, task: TaskView) -> dict[str, Any]:
    """Differences, plus agreement/F1 (occurrence) or ICC and mean abs diff (intensity), overall and
    per AU; ``non_finite`` counts NaN/inf values in the prediction (any one fails the variant)."""
    diff = np.abs(pred.astype(np.float64) - ref.astype(np.float64))
    per_au: dict[str, dict[str, Any]] = {}
    for k, au in enumerate(task.aus):
        truth = None if labels is None or k >= labels.shape[1] else labels[:, k]
        per_au[au] = _au_figures(k, pred, ref, diff, truth, task)
    figures: dict[str, Any] = {
        "n": int(pred.shape[0]),
        "non_finite": int(np.sum(~np.isfinite(pred))),
        "max_abs_diff": _clean(float(diff.max())),
        "mean_abs_diff": _clean(float(diff.mean())),
    }
    # The headline figure is the worst AU (a floor must hold for every output), scores are means.
    if task.kind == "occurrence":
        figures["agreement"] = _clean(_nanmin([e["agreement"] for e in per_au.values()]))
        figures["agreement_clear"] = _clean(_nanmin([e["agreement_clear"] for e in per_au.values()]))
        if labels is not None:
            figures["f1"] = _clean(_nanmean([e.get("f1") for e in per_au.values()]))
            figures["f1_float"] = _clean(_nanmean([e.get("f1_float") for e in per_au.values()]))
    else:
        figures["icc_vs_float"] = _clean(_nanmin([e["icc_vs_float"] for e in per_au.values()]))
        figures["mean_abs_diff_worst_au"] = _worst([e["mean_abs_diff"] for e in per_au.values()])
        if labels is not None:
            figures["icc_vs_labels"] = _clean(_nanmean([e.get("icc_vs_labels") for e in per_au.values()]))
            figures["icc_float_vs_labels"] = _clean(_nanmean([e.get("icc_float_vs_labels") for e in per_au.values()]))
    figures["per_au"] = per_au
    return figures


def _shown(value: float | None, spec: str) -> str:
    """A figure for the failure line; None (NaN or inf, which JSON cannot hold) reads ``nan``."""
    return "nan" if value is None else format(value, spec)


def _exact_failures(variant: Variant, figures: dict[str, Any], tol: Tolerances) -> list[str]:
    limit = tol.max_abs_for(variant)
    value = figures["max_abs_diff"]
    figures["tolerance"] = {"metric": "max_abs_diff", "limit": limit}
    return [] if value is not None and value <= limit else [f"max abs diff {_shown(value, '.3g')} exceeds {limit:g}"]


def _agreement_failures(figures: dict[str, Any], task: TaskView, tol: Tolerances) -> list[str]:
    metric = "agreement_clear" if task.kind == "occurrence" else "icc_vs_float"
    value = figures.get(metric)
    figures["tolerance"] = {"metric": metric, "limit": tol.int8_floor}
    shown = (f"agreement {_shown(value, '.4f')} on faces at least {NEAR_THRESHOLD:g} from the threshold"
             if task.kind == "occurrence" else f"icc vs float {_shown(value, '.4f')}")
    failures = [] if value is not None and value >= tol.int8_floor else [
        f"{shown} is below the floor {tol.int8_floor:g}"]
    if task.kind == "occurrence":
        figures["tolerance"]["f1_drop"] = {"limit": tol.int8_f1_drop}
        for au, entry in figures.get("per_au", {}).items():
            f1, f1_float = entry.get("f1"), entry.get("f1_float")
            if f1_float is not None and (f1 is None or f1_float - f1 > tol.int8_f1_drop):
                failures.append(f"{au} F1 {_shown(f1, '.4f')} is more than {tol.int8_f1_drop:g} below the float "
                                f"model's {f1_float:.4f}")
    if task.kind == "intensity":
        limit = tol.mad_limit(task.value_range)
        mad = figures.get("mean_abs_diff_worst_au")
        figures["tolerance"]["mean_abs_diff"] = {"metric": "mean_abs_diff_worst_au", "limit": _clean(limit),
                                                 "fraction_of_range": tol.int8_mad_fraction}
        if mad is None or mad > limit:
            failures.append(f"mean abs diff {_shown(mad, '.3g')} exceeds {limit:g} "
                            f"({tol.int8_mad_fraction:g} of the output range)")
    return failures


def judge(variant: Variant, figures: dict[str, Any], task: TaskView, tol: Tolerances) -> Judgement:
    """Pass/fail against the variant's tolerance; ``failure`` is the one line shown to the user."""
    if variant.check == CHECK_EXACT:
        failures = _exact_failures(variant, figures, tol)
    else:
        failures = _agreement_failures(figures, task, tol)
    bad = int(figures.get("non_finite") or 0)
    if bad:  # a NaN can hide from thresholded figures (NaN >= t is False), so it fails on its own
        failures.insert(0, f"{bad} output value(s) are NaN or infinite")
    failure = f"{variant.name}: " + "; ".join(failures) if failures else None
    return Judgement(figures, not failures, failure)
