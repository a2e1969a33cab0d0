"""Child process for memory figures: load one thing, run it, report peak resident memory as JSON.

Why a fresh process: resident memory is only meaningful for a process that holds nothing else.
The parent benchmark has imported every interpreter and loaded every variant; a child that imports
only numpy, auedge.edge and one interpreter shows what a device process would cost. Peak RSS is
the process's high-water mark (VmHWM; ``ru_maxrss`` is also recorded, but Linux keeps it across
execve, so in a child of a large parent it starts at the parent's size), read once after the
imports (the baseline: same child, no model) and once after loading and running.

    python -m auedge.benchmarks.memory_probe model --path model_int8.tflite --backend litert
    python -m auedge.benchmarks.memory_probe estimator --bundle B --model int8 --frame frame.npy

This module imports nothing but the standard library, numpy and auedge.edge (never TensorFlow).
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def ru_maxrss_mb() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MiB (KiB on Linux). Linux carries it across execve,
    so a child spawned (vfork) from a large parent starts with the parent's size: kept for the record."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process image in MiB: VmHWM (reset by execve, unlike ru_maxrss),
    falling back to ru_maxrss where /proc is absent."""
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else ru_maxrss_mb()


def current_rss_mb() -> float | None:
    """VmRSS: resident now, not the peak."""
    return _status_mb("VmRSS")


def probe_model(path: str, backend: str, threads: int, runs: int) -> dict[str, Any]:
    import numpy as np
    from auedge.edge.backends import BACKENDS, choose_backend, create_backend

    name = choose_backend(path, backend)
    importlib.import_module(BACKENDS[name][2])  # the interpreter package, so the baseline includes it
    baseline = peak_rss_mb()
    model = create_backend(path, name, threads)
    array = model.input.random_array(np.random.default_rng(0))
    for _ in range(runs):
        model.run(array)
    return {"backend": name, "baseline_mb": baseline, "peak_mb": peak_rss_mb(), "current_mb": current_rss_mb()}


def probe_estimator(bundle: str, model: str | None, backend: str, threads: int, frame: str, runs: int) -> dict[str, Any]:
    import numpy as np
    from auedge.edge.estimator import Estimator, EstimatorOptions

    image = np.load(frame)
    baseline = peak_rss_mb()
    estimator = Estimator.create_from_options(
        EstimatorOptions(bundle_path=bundle, model=model, backend=backend, num_threads=threads)
    )
    faces = [len(estimator.estimate(image).faces) for _ in range(runs)]
    return {
        "model": estimator.model.name,
        "backend": estimator.backend.name,
        "baseline_mb": baseline,
        "peak_mb": peak_rss_mb(),
        "current_mb": current_rss_mb(),
        "faces_per_frame": max(faces) if faces else 0,
        "frames": runs,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "modules_loaded": len(sys.modules),
    }


def main(argv: list[str] | None = None) -> int:
    started_mb = peak_rss_mb()  # the bare interpreter plus argparse/json: what any Python process costs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model")
    m.add_argument("--path", required=True)
    m.add_argument("--backend", default="auto")
    m.add_argument("--threads", type=int, default=1)
    m.add_argument("--runs", type=int, default=20)
    e = sub.add_parser("estimator")
    e.add_argument("--bundle", required=True)
    e.add_argument("--model")
    e.add_argument("--backend", default="auto")
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--frame", required=True, help=".npy RGB uint8 frame")
    e.add_argument("--runs", type=int, default=50)
    args = parser.parse_args(argv)
    try:
        if args.what == "model":
            result = probe_model(args.path, args.backend, args.threads, args.runs)
        else:
            result = probe_estimator(args.bundle, args.model, args.backend, args.threads, args.frame, args.runs)
    except (RuntimeError, ValueError, OSError) as exc:  # BackendError, BundleError...: the parent records it
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    result["python_start_mb"] = started_mb
    result["ru_maxrss_mb"] = ru_maxrss_mb()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
