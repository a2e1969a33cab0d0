"""``python benchmarks/latency.py --bundle B``: latency, size and memory of every variant on every backend.

What is measured, and why this way:

* the AU model alone: each variant x each installed interpreter that can run it x threads, timing
  ``Backend.run`` on a real aligned face crop, ``--runs`` calls after ``--warmup`` calls; median,
  p90, p99 and the ratio to fp32 on the same backend and threads in the same run (machine load
  drifts, so only figures from one run are compared);
* peak resident memory of a fresh child process that loads only that variant (and its baseline,
  the same child before loading): the parent has everything loaded and would say nothing;
* the face detector alone and the whole per-frame pipeline (``Estimator.estimate``: detect, crop,
  AU model) on a 640x480 frame with one real face, with per-stage medians; OpenCV's thread pool
  (its resize and warp) is sized to each thread count as the daemon sizes it
  (``size_opencv_threads``), so "1 thread" means one thread for OpenCV too, and the JSON records
  ``cv2.getNumThreads()`` per group;
* the resident memory of a process running the edge Estimator with the default (int8) model,
  and whether TensorFlow was imported there (it must not be).

The machine's load average is recorded next to the numbers: on a shared machine, quote medians.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np
from auedge.benchmarks.stats import ratio, summarize_latency
from auedge.benchmarks.store import (
    BenchmarkError,
    ResultFiles,
    format_table,
    load_average,
    load_bundle_with_detector,
    options_from_args,
    write_json,
)

Log = Callable[[str], None]
BENCH_BACKENDS = ("litert", "tflite-runtime", "onnxruntime")  # tf.lite only when asked by name
EDGE_RSS_TARGET_MB = 150.0
FP32_REFERENCE = {"tflite": "fp32", "onnx": "onnx-fp32"}


@dataclass
class LatencyOptions:
    bundle: str
    runs: int = 200
    warmup: int = 20
    threads: tuple[int, ...] = (1, 2)
    backends: str = "all"
    variants: str = "all"
    memory: bool = True
    pipeline: bool = True
    data_dir: str | None = None
    out_dir: str | None = None
    memory_runs: int = 20

    def check(self) -> LatencyOptions:
        if self.runs < 1 or self.warmup < 0:
            raise BenchmarkError(f"--runs must be >= 1 and --warmup >= 0, got {self.runs} and {self.warmup}")
        if not self.threads or min(self.threads) < 1:
            raise BenchmarkError(f"--threads must list positive thread counts, got {self.threads}")
        return self


@dataclass
class LatencyResult:
    json_path: Path
    data: dict[str, Any]
    tables: list[str] = field(default_factory=list)


def default_threads() -> tuple[int, ...]:
    """1 and 2, and 4 where the machine has 4 cores."""
    cores = os.cpu_count() or 1
    return (1, 2, 4) if cores >= 4 else (1, 2)


def time_calls(call: Callable[[], Any], runs: int, warmup: int) -> np.ndarray:
    """Milliseconds per call over ``runs`` calls after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    samples = np.empty(runs, dtype=np.float64)
    for i in range(runs):
        start = time.perf_counter_ns()
        call()
        samples[i] = (time.perf_counter_ns() - start) / 1e6
    return samples


def pick_backends(text: str) -> list[str]:
    from auedge.edge.backends import ALIASES, BACKENDS, available_backends

    installed = available_backends()
    if text.strip().lower() == "all":
        return [b for b in BENCH_BACKENDS if b in installed]
    wanted = [ALIASES.get(p.strip().lower(), p.strip().lower()) for p in text.split(",") if p.strip()]
    unknown = [w for w in wanted if w not in BACKENDS]
    if unknown:
        raise BenchmarkError(f"unknown backend {unknown[0]!r} in --backends; choose all or some of {', '.join(BACKENDS)}")
    missing = [w for w in wanted if w not in installed]
    if missing:
        raise BenchmarkError(f"backend {missing[0]} is not installed here; installed: {', '.join(installed) or 'none'}")
    return wanted


def pick_models(bundle: Any, text: str) -> list[Any]:
    if text.strip().lower() == "all":
        return list(bundle.models)
    names = [p.strip() for p in text.split(",") if p.strip()]
    known = {m.name for m in bundle.models}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BenchmarkError(f"bundle {bundle.root} has no variant {unknown[0]!r}; it has {', '.join(sorted(known))}")
    return [m for m in bundle.models if m.name in names]


def can_run(backend: str, model_format: str) -> bool:
    from auedge.edge.backends import BACKENDS

    return model_format in BACKENDS[backend][3]


def model_input(backend: Any, entry: Any, crop: np.ndarray, bundle: Any) -> np.ndarray:
    """The crop as this model's input tensor (normalised, quantized for an integer input)."""
    from auedge.edge.backends import resolve_quant
    from auedge.edge.preprocess import normalize, quantize

    info = backend.input
    values = normalize(crop, bundle.normalization)[None]
    quant = resolve_quant(info, entry.input_quant, "input", entry.path)
    array = quantize(values, quant) if quant is not None else values
    return np.ascontiguousarray(array.astype(info.dtype))


def detector_settings(bundle: Any) -> dict[str, Any]:
    """The bundle's detector file, kind and thresholds as FaceDetectorOptions fields."""
    from auedge.edge.face_detector import KIND_ALIASES

    det = bundle.face_detector
    return {"model_path": det.path, "kind": det.kind if det.kind in KIND_ALIASES else "short_range",
            "score_threshold": det.score_threshold, "nms_iou": det.nms_iou}


def face_crop(bundle: Any, frame: np.ndarray) -> np.ndarray:
    """The aligned crop of the frame's face, found by the bundle's own detector."""
    from auedge.edge.align import align_points
    from auedge.edge.face_detector import FaceDetector, FaceDetectorOptions

    detector = FaceDetector.create_from_options(FaceDetectorOptions(**detector_settings(bundle)))
    faces = detector.detect(frame)
    detector.backend.close()
    if not faces:
        return np.full((*bundle.input_size, 3), 128, dtype=np.uint8)
    crop, _ = align_points(frame, faces[0].keypoints, bundle.crop)
    return crop


def time_interleaved(calls: dict[str, Callable[[], Any]], runs: int, warmup: int) -> dict[str, dict[str, np.ndarray]]:
    """Wall and process-CPU milliseconds per call for several callables timed in alternation.

    On a shared machine the load drifts over seconds; timing variants one after the other would
    fold that drift into their ratio. Alternating (and rotating who goes first) exposes every
    variant to the same load, so ratios like int8/fp32 stay honest even when absolute figures do not.
    CPU time (all threads of this process) is recorded too: it does not count time spent waiting
    for a core that another process holds, so on a loaded machine it is closer to what an idle
    device would show for one thread (for n threads it is the sum over threads).
    """
    names = list(calls)
    if not names:
        return {}
    for name in names:
        for _ in range(warmup):
            calls[name]()
    wall = {name: np.empty(runs, dtype=np.float64) for name in names}
    cpu = {name: np.empty(runs, dtype=np.float64) for name in names}
    for r in range(runs):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            cpu_start, start = time.process_time_ns(), time.perf_counter_ns()
            calls[name]()
            wall[name][r] = (time.perf_counter_ns() - start) / 1e6
            cpu[name][r] = (time.process_time_ns() - cpu_start) / 1e6
    return {name: {"wall": wall[name], "cpu": cpu[name]} for name in names}


def bench_models(bundle: Any, models: list[Any], backends: list[str], options: LatencyOptions, crop: np.ndarray,
                 log: Log) -> list[dict[str, Any]]:
    """Every variant a backend can run, per thread count, timed interleaved (see time_interleaved)."""
    from auedge.edge.backends import BackendError, create_backend

    rows = []
    for backend_name in backends:
        for threads in options.threads:
            group, loaded = [], {}
            for entry in models:
                if not can_run(backend_name, entry.format):
                    continue
                row = {"variant": entry.name, "format": entry.format, "precision": entry.precision,
                       "size_bytes": entry.path.stat().st_size, "backend": backend_name, "threads": threads,
                       "degraded": entry.degraded}
                try:
                    backend = create_backend(entry.path, backend_name, threads)
                    loaded[entry.name] = (backend, partial(backend.run, model_input(backend, entry, crop, bundle)))
                except BackendError as exc:
                    row["error"] = str(exc)
                group.append(row)
            samples = time_interleaved({name: call for name, (_, call) in loaded.items()}, options.runs, options.warmup)
            for row in group:
                if row["variant"] in samples:
                    row.update(summarize_latency(samples[row["variant"]]["wall"]).to_dict())
                    row["cpu_median_ms"] = float(np.median(samples[row["variant"]]["cpu"]))
                    loaded[row["variant"]][0].close()
                log(f"model {row['variant']:10s} {backend_name:14s} {threads}t: "
                    + (f"median {row['median_ms']:.3f} ms, p90 {row['p90_ms']:.3f}" if "median_ms" in row
                       else f"error {row.get('error')}"))
            rows += group
    for row in rows:  # ratio to fp32 on the same backend and threads, timed in the same rounds
        ref_name = FP32_REFERENCE[row["format"]]
        ref = next((r for r in rows if r["variant"] == ref_name and r["backend"] == row["backend"]
                    and r["threads"] == row["threads"] and "median_ms" in r), None)
        row["ratio_to_fp32"] = ratio(row.get("median_ms"), ref["median_ms"] if ref else None)
    order = {m.name: i for i, m in enumerate(models)}
    return sorted(rows, key=lambda r: (order[r["variant"]], r["backend"], r["threads"]))


def size_opencv_pool(threads: int) -> int:
    """Give OpenCV as many threads as the interpreter gets, as the daemon and ``au-edge infer`` do
    (``size_opencv_threads``); returns ``cv2.getNumThreads()`` afterwards, for the JSON."""
    import cv2
    from auedge.edge.estimator import size_opencv_threads

    size_opencv_threads(threads)
    return int(cv2.getNumThreads())


def bench_detector(bundle: Any, frame: np.ndarray, backends: list[str], options: LatencyOptions,
                   log: Log) -> list[dict[str, Any]]:
    from auedge.edge.face_detector import FaceDetector, FaceDetectorOptions

    rows = []
    for backend_name in [b for b in backends if can_run(b, "tflite")]:
        for threads in options.threads:
            opencv_threads = size_opencv_pool(threads)
            detector = FaceDetector.create_from_options(FaceDetectorOptions(
                **detector_settings(bundle), backend=backend_name, num_threads=threads))
            faces = len(detector.detect(frame))
            timed = time_interleaved({"detect": partial(detector.detect, frame),
                                      "network": partial(detector.backend.run, detector._input)},
                                     options.runs, options.warmup)
            detect, network = timed["detect"]["wall"], timed["network"]["wall"]
            detector.backend.close()
            row = {"backend": backend_name, "threads": threads, "opencv_threads": opencv_threads, "faces": faces,
                   "frame": list(frame.shape[1::-1]),
                   "detect": summarize_latency(detect).to_dict(), "network_only": summarize_latency(network).to_dict(),
                   "detect_cpu_median_ms": float(np.median(timed["detect"]["cpu"])),
                   "network_cpu_median_ms": float(np.median(timed["network"]["cpu"]))}
            rows.append(row)
            log(f"detector {backend_name:14s} {threads}t: detect median {row['detect']['median_ms']:.3f} ms "
                f"(network {row['network_only']['median_ms']:.3f} ms), {faces} face(s)")
    return rows


def _estimate_once(estimator: Any, frame: np.ndarray, stages: dict[str, list[float]], faces: list[int]) -> None:
    """One pipeline call, keeping its per-stage timings and face count."""
    result = estimator.estimate(frame)
    faces.append(len(result.faces))
    for key, value in result.timings_ms.items():
        stages.setdefault(key, []).append(value)


def bench_pipeline(bundle: Any, models: list[Any], frame: np.ndarray, options: LatencyOptions,
                   log: Log) -> list[dict[str, Any]]:
    """Estimator.estimate on the frame (detect + crop + AU model) per variant, variants interleaved."""
    from auedge.edge.estimator import Estimator, EstimatorOptions

    rows = []
    for threads in options.threads:
        opencv_threads = size_opencv_pool(threads)
        estimators, stages, faces, calls = {}, {}, {}, {}
        for entry in models:
            estimators[entry.name] = Estimator.create_from_options(EstimatorOptions(
                bundle_path=bundle.root, model=entry.name, num_threads=threads, check_hash=False))
            stages[entry.name], faces[entry.name] = {}, []
            calls[entry.name] = partial(_estimate_once, estimators[entry.name], frame, stages[entry.name],
                                        faces[entry.name])
        for name, call in calls.items():  # warm up here, so that only timed calls feed the stage medians
            for _ in range(options.warmup):
                call()
            stages[name].clear()
            faces[name].clear()
        timed = time_interleaved(calls, options.runs, 0)
        for entry in models:
            estimator = estimators[entry.name]
            row = {"variant": entry.name, "backend": estimator.backend.name,
                   "detector_backend": estimator.detector.backend.name if estimator.detector else None,
                   "threads": threads, "opencv_threads": opencv_threads,
                   "faces_per_frame": int(np.median(faces[entry.name])) if faces[entry.name] else 0,
                   "wall": summarize_latency(timed[entry.name]["wall"]).to_dict(),
                   "cpu_median_ms": float(np.median(timed[entry.name]["cpu"])),
                   "stage_median_ms": {k: float(np.median(v)) for k, v in stages[entry.name].items()}}
            estimator.close()
            rows.append(row)
            st = row["stage_median_ms"]
            log(f"pipeline {entry.name:10s} {row['backend']:14s} {threads}t: total median {row['wall']['median_ms']:.3f} ms "
                f"(detect {st.get('detect', 0):.3f}, align {st.get('align', 0):.3f}, au_model {st.get('au_model', 0):.3f}; "
                f"CPU {row['cpu_median_ms']:.3f}), {row['faces_per_frame']} face(s)")
    order = {m.name: i for i, m in enumerate(models)}
    return sorted(rows, key=lambda r: (order[r["variant"]], r["threads"]))


def run_probe(args: list[str]) -> dict[str, Any]:
    """Run memory_probe in a fresh interpreter; its last stdout line is JSON."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-m", "auedge.benchmarks.memory_probe", *args],
                          check=False, capture_output=True, text=True, timeout=600, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.strip().startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"probe exited {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def bench_memory(models: list[Any], backends: list[str], options: LatencyOptions, log: Log) -> list[dict[str, Any]]:
    rows = []
    for entry in models:
        for backend_name in backends:
            if not can_run(backend_name, entry.format):
                continue
            result = run_probe(["model", "--path", str(entry.path), "--backend", backend_name, "--threads", "1",
                                "--runs", str(options.memory_runs), "--no-save"])
            rows.append({"variant": entry.name, "backend": backend_name, "threads": 1, **result})
            log(f"memory {entry.name:10s} {backend_name:14s}: "
                + (f"peak {result['peak_mb']:.1f} MB (baseline {result['baseline_mb']:.1f} MB)" if "peak_mb" in result
                   else result.get("error", "?")))
    return rows


def bench_edge_process(bundle: Any, frame_path: Path, options: LatencyOptions, log: Log) -> dict[str, Any]:
    result = run_probe(["estimator", "--bundle", str(bundle.root), "--model", bundle.default_model,
                        "--frame", str(frame_path), "--runs", "50", "--no-save"])
    result["default_model"] = bundle.default_model
    result["target_mb"] = EDGE_RSS_TARGET_MB
    if "peak_mb" in result:
        result["under_target"] = result["peak_mb"] < EDGE_RSS_TARGET_MB
        result["assertions"] = {"tensorflow not in sys.modules": not result["tensorflow_imported"],
                                f"peak RSS < {EDGE_RSS_TARGET_MB:.0f} MB": result["under_target"]}
        log(f"edge Estimator process ({bundle.default_model}): peak RSS {result['peak_mb']:.1f} MB "
            f"(baseline {result['baseline_mb']:.1f} MB), tensorflow imported: {result['tensorflow_imported']}")
    else:
        log(f"edge Estimator process: {result.get('error')}")
    return result


# --- tables and plots -----------------------------------------------------------------------------


def model_table(rows: list[dict[str, Any]], memory: list[dict[str, Any]]) -> str:
    mem = {(m["variant"], m["backend"]): m for m in memory}
    out = []
    for r in rows:
        m = mem.get((r["variant"], r["backend"]), {})
        out.append([r["variant"], r["backend"], r["threads"], r["size_bytes"] / 1024, r.get("median_ms"), r.get("p90_ms"),
                    r.get("p99_ms"), r.get("min_ms"), r.get("cpu_median_ms"), r.get("ratio_to_fp32"), m.get("peak_mb"),
                    m.get("baseline_mb")])
    return format_table(["variant", "backend", "threads", "size KB", "median ms", "p90 ms", "p99 ms", "min ms",
                         "CPU median ms", "x fp32", "peak RSS MB", "baseline MB"], out)


def _opencv_cell(row: dict[str, Any]) -> Any:
    """OpenCV's pool in that group; results from before it was sized per group ran on its default pool."""
    return row.get("opencv_threads", "default")


def detector_table(rows: list[dict[str, Any]]) -> str:
    return format_table(
        ["backend", "threads", "OpenCV threads", "faces", "detect median ms", "p90 ms", "p99 ms", "min ms",
         "CPU median ms", "network median ms"],
        [[r["backend"], r["threads"], _opencv_cell(r), r["faces"], r["detect"]["median_ms"], r["detect"]["p90_ms"],
          r["detect"]["p99_ms"], r["detect"]["min_ms"], r.get("detect_cpu_median_ms"), r["network_only"]["median_ms"]]
         for r in rows])


def pipeline_table(rows: list[dict[str, Any]]) -> str:
    return format_table(
        ["variant", "backend", "threads", "OpenCV threads", "faces", "total median ms", "p90 ms", "min ms",
         "CPU median ms", "detect ms", "align ms", "au_model ms"],
        [[r["variant"], r["backend"], r["threads"], _opencv_cell(r), r["faces_per_frame"], r["wall"]["median_ms"],
          r["wall"]["p90_ms"], r["wall"]["min_ms"], r.get("cpu_median_ms"), r["stage_median_ms"].get("detect"),
          r["stage_median_ms"].get("align"), r["stage_median_ms"].get("au_model")]
         for r in rows])


def plot_models(rows: list[dict[str, Any]], files: ResultFiles, title: str) -> Path | None:
    from auedge.benchmarks.store import pyplot, save_figure

    good = [r for r in rows if "median_ms" in r]
    if not good:
        return None
    plt = pyplot()
    groups = sorted({(r["backend"], r["threads"]) for r in good})
    variants = list(dict.fromkeys(r["variant"] for r in good))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(variants) + 2), 4))
    width = 0.8 / max(1, len(groups))
    for g, (backend, threads) in enumerate(groups):
        xs, med, err = [], [], []
        for v, name in enumerate(variants):
            r = next((r for r in good if r["variant"] == name and r["backend"] == backend and r["threads"] == threads), None)
            if r:
                xs.append(v + g * width)
                med.append(r["median_ms"])
                err.append(r["p90_ms"] - r["median_ms"])
        ax.bar(xs, med, width, yerr=[[0] * len(err), err], capsize=2, label=f"{backend} {threads}t")
    ax.set_xticks([v + width * (len(groups) - 1) / 2 for v in range(len(variants))], variants)
    ax.set_ylabel("ms per face (median, bar to p90)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, files.plot_path("au-model"))


def plot_pipeline(rows: list[dict[str, Any]], files: ResultFiles, title: str) -> Path | None:
    from auedge.benchmarks.store import pyplot, save_figure

    if not rows:
        return None
    plt = pyplot()
    labels = [f"{r['variant']}\n{r['threads']}t" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(rows) + 2), 4))
    bottom = np.zeros(len(rows))
    for stage in ("detect", "align", "au_model"):
        values = np.array([r["stage_median_ms"].get(stage, 0.0) for r in rows])
        ax.bar(labels, values, bottom=bottom, label=stage)
        bottom += values
    ax.set_ylabel("ms per 640x480 frame, one face (stage medians)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, files.plot_path("pipeline"))


def plot_memory(rows: list[dict[str, Any]], edge: dict[str, Any], files: ResultFiles, title: str) -> Path | None:
    from auedge.benchmarks.store import pyplot, save_figure

    good = [r for r in rows if "peak_mb" in r]
    if not good:
        return None
    plt = pyplot()
    labels = [f"{r['variant']}\n{r['backend']}" for r in good]
    peaks = [r["peak_mb"] for r in good]
    bases = [r["baseline_mb"] for r in good]
    if "peak_mb" in edge:
        labels.append(f"edge Estimator\n{edge.get('model')}")
        peaks.append(edge["peak_mb"])
        bases.append(edge["baseline_mb"])
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(labels) + 2), 4))
    ax.bar(labels, peaks, label="peak RSS after load + run")
    ax.bar(labels, bases, label="baseline (same child, no model)")
    ax.axhline(EDGE_RSS_TARGET_MB, color="red", linestyle="--", linewidth=1, label=f"target {EDGE_RSS_TARGET_MB:.0f} MB")
    ax.set_ylabel("MB resident")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    return save_figure(fig, files.plot_path("memory"))


# --- the whole run ---------------------------------------------------------------------------------


def run_latency(options: LatencyOptions, log: Log = print) -> LatencyResult:
    from auedge.edge.backends import available_backends

    options.check()
    bundle = load_bundle_with_detector(options.bundle)
    models = pick_models(bundle, options.variants)
    backends = pick_backends(options.backends)
    if not backends:
        raise BenchmarkError("no interpreter is installed; run: pip install au-edge[edge]")
    files = ResultFiles("latency", bundle.root.name, options.out_dir, bundle_root=bundle.root)
    load_before = load_average()
    log(f"bundle {bundle.root} ({bundle.task_name}), variants {', '.join(m.name for m in models)}; "
        f"backends {', '.join(backends)}; threads {list(options.threads)}; {options.runs} runs; load {load_before}")

    from auedge.benchmarks.frames import default_mtfl_dir, make_frame
    from auedge.edge.face_detector import FaceDetector, FaceDetectorOptions

    counter = FaceDetector.create_from_options(FaceDetectorOptions(**detector_settings(bundle)))
    data_dir = options.data_dir or default_mtfl_dir()
    frame, frame_note = make_frame(lambda image: len(counter.detect(image)), data_dir)
    counter.backend.close()
    crop = face_crop(bundle, frame)
    log(f"frame: {frame_note}")

    import cv2

    model_rows = bench_models(bundle, models, backends, options, crop, log)
    opencv_default = int(cv2.getNumThreads())
    try:  # OpenCV's pool is process-wide: sized per thread group below, then given back
        detector_rows = bench_detector(bundle, frame, backends, options, log)
        pipeline_rows = bench_pipeline(bundle, models, frame, options, log) if options.pipeline else []
    finally:
        cv2.setNumThreads(opencv_default)
    opencv_threads = {str(r["threads"]): r["opencv_threads"] for r in detector_rows + pipeline_rows}
    memory_rows: list[dict[str, Any]] = []
    edge: dict[str, Any] = {}
    if options.memory:
        memory_rows = bench_memory(models, backends, options, log)
        with tempfile.TemporaryDirectory(prefix="auedge-bench-") as tmp:
            frame_path = Path(tmp) / "frame.npy"
            np.save(frame_path, frame)
            edge = bench_edge_process(bundle, frame_path, options, log)

    title = f"{bundle.root.name} - load avg {load_before[0] if load_before else '?'} on {os.cpu_count()} cores"
    plots = [p for p in (plot_models(model_rows, files, title), plot_pipeline(pipeline_rows, files, title),
                         plot_memory(memory_rows, edge, files, title)) if p is not None]
    data = files.header(
        bundle_path=str(bundle.root.resolve()),
        task={"name": bundle.task_name, "kind": bundle.task_kind, "aus": bundle.au_names},
        training=bundle.manifest.get("training"),
        settings={"runs": options.runs, "warmup": options.warmup, "threads": list(options.threads),
                  "backends": backends, "memory_runs": options.memory_runs,
                  "opencv_threads": opencv_threads, "opencv_default_threads": opencv_default,
                  "backends_not_installed": [b for b in BENCH_BACKENDS if b not in available_backends()]},
        load_average_before=load_before,
        load_average_after=load_average(),
        frame=frame_note,
        models=model_rows,
        detector=detector_rows,
        pipeline=pipeline_rows,
        memory=memory_rows,
        edge_process=edge,
        plots=[p.name for p in plots],
    )
    tables = [model_table(model_rows, memory_rows), detector_table(detector_rows)]
    if pipeline_rows:
        tables.append(pipeline_table(pipeline_rows))
    path = write_json(files.json_path, data)
    return LatencyResult(json_path=path, data=data, tables=tables)


def parse_threads(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threads takes a comma list of integers, got {text!r}") from None
    return values


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="auedge-bench-latency", description=__doc__.splitlines()[0].strip("`"))
    p.add_argument("--bundle", required=True, help="bundle folder written by convert/export.py")
    p.add_argument("--runs", type=int, default=200, help="timed calls per configuration (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed calls first (default 20)")
    p.add_argument("--threads", type=parse_threads, default=default_threads(),
                   help="comma list of interpreter thread counts (default 1,2; 1,2,4 on 4+ cores)")
    p.add_argument("--backends", default="all", help="all (installed of litert, tflite-runtime, onnxruntime) or a list")
    p.add_argument("--variants", default="all", help="all or a comma list of the bundle's model names")
    p.add_argument("--no-memory", dest="memory", action="store_false", help="skip the child-process memory probes")
    p.add_argument("--no-pipeline", dest="pipeline", action="store_false", help="skip the whole-pipeline timing")
    p.add_argument("--data-dir", help="MTFL folder for the test frame (default ../shared/data/mtfl if present)")
    p.add_argument("--out-dir", help="where JSON and PNGs go (default benchmarks/results)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = options_from_args(LatencyOptions, args)
    try:
        result = run_latency(options, log=lambda line: print(line, flush=True))
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for table in result.tables:
        print()
        print(table)
    edge = result.data["edge_process"]
    if edge:
        print(f"\nedge Estimator process ({edge.get('default_model')}): peak RSS {edge.get('peak_mb')} MB "
              f"(target < {EDGE_RSS_TARGET_MB:.0f}), tensorflow imported: {edge.get('tensorflow_imported')}")
    print(f"\nload average {result.data['load_average_before']} -> {result.data['load_average_after']}; "
          f"written {result.json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
