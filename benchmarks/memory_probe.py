"""Child process for memory figures: load one thing, run it, report peak resident memory as JSON.

Why a fresh process: resident memory is only meaningful for a process that holds nothing else.
The parent benchmark has imported every interpreter and loaded every variant; a child that imports
only numpy, auedge.edge and one interpreter shows what a device process would cost. Peak RSS is
the process's high-water mark (VmHWM; ``ru_maxrss`` is also recorded, but Linux keeps it across
execve, so in a child of a large parent it starts at the parent's size), read once after the
imports (the baseline: same child, no model loaded) and once after loading and running.

The baseline is read after importing numpy, auedge.edge (with OpenCV) and the interpreter(s) the
model and the face detector will run on (for LiteRT its native ``ai_edge_litert.interpreter``,
not only the package), so ``peak - baseline`` is what loading and running cost, not what
importing the interpreter costs; ``baseline_imports`` in the output lists which of those modules
were in ``sys.modules`` when it was read. (Results written before 2026-12-06 read the
estimator's baseline before any interpreter was imported, and the model probes' after importing
only the interpreter's top-level package.)

    python -m auedge.benchmarks.memory_probe model --path model_int8.tflite --backend litert
    python -m auedge.benchmarks.memory_probe estimator --bundle B --model int8 --frame frame.npy

Run by hand, it writes ``benchmarks/results/memory-<bundle>-<date>.json`` (``--out-dir`` elsewhere);
``latency.py`` runs it with ``--no-save`` and keeps its last stdout line (JSON) in its own result.
This module imports nothing but the standard library, numpy and auedge.edge (never TensorFlow)
before the figures are read.
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


BASELINE_PACKAGES = ("numpy", "cv2", "auedge.edge", "ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime",
                     "tflite_runtime.interpreter", "onnxruntime", "tensorflow")
# The module holding each package's native interpreter: ``import ai_edge_litert`` alone loads a few
# Python files; its ``interpreter`` module loads the native library the backend then uses.
INTERPRETER_MODULES = {"ai_edge_litert": "ai_edge_litert.interpreter", "tflite_runtime": "tflite_runtime.interpreter"}


def import_interpreter(package: str) -> None:
    """Import the interpreter a backend of ``package`` loads, so that a baseline read next includes it."""
    importlib.import_module(INTERPRETER_MODULES.get(package, package))


def imported(packages: tuple[str, ...] = BASELINE_PACKAGES) -> list[str]:
    """Which of ``packages`` are in ``sys.modules`` now (what a baseline read now includes)."""
    return [name for name in packages if name in sys.modules]


def probe_model(path: str, backend: str, threads: int, runs: int) -> dict[str, Any]:
    import numpy as np
    from auedge.edge.backends import BACKENDS, choose_backend, create_backend

    name = choose_backend(path, backend)
    import_interpreter(BACKENDS[name][2])  # the interpreter, so the baseline includes it
    baseline, baseline_imports = peak_rss_mb(), imported()
    model = create_backend(path, name, threads)
    array = model.input.random_array(np.random.default_rng(0))
    for _ in range(runs):
        model.run(array)
    return {"backend": name, "baseline_mb": baseline, "baseline_imports": baseline_imports, "peak_mb": peak_rss_mb(),
            "current_mb": current_rss_mb()}


def estimator_packages(bundle: str, model: str | None, backend: str) -> list[str]:
    """The interpreter packages ``Estimator.create_from_options`` will import for this bundle: the AU
    model's (every model's for ``fastest``) and the face detector's (the same backend when it runs
    TFLite, else ``auto``, as the Estimator chooses)."""
    from auedge.edge.backends import BACKENDS, BackendError, choose_backend
    from auedge.edge.bundle import load_bundle
    from auedge.edge.model_choice import FASTEST

    manifest = load_bundle(bundle, check_hash=False)
    entries = list(manifest.models) if model == FASTEST else [manifest.model(model)]
    names = [choose_backend(entry.path, backend) for entry in entries]
    if manifest.face_detector is not None:
        try:
            names.append(choose_backend(manifest.face_detector.path, backend))
        except BackendError:
            names.append(choose_backend(manifest.face_detector.path, "auto"))
    return list(dict.fromkeys(BACKENDS[name][2] for name in names))


def probe_estimator(bundle: str, model: str | None, backend: str, threads: int, frame: str, runs: int) -> dict[str, Any]:
    import numpy as np
    from auedge.edge.estimator import Estimator, EstimatorOptions

    image = np.load(frame)
    for package in estimator_packages(bundle, model, backend):  # as probe_model: the baseline includes them
        import_interpreter(package)
    baseline, baseline_imports = peak_rss_mb(), imported()
    estimator = Estimator.create_from_options(
        EstimatorOptions(bundle_path=bundle, model=model, backend=backend, num_threads=threads)
    )
    faces = [len(estimator.estimate(image).faces) for _ in range(runs)]
    return {
        "model": estimator.model.name,
        "backend": estimator.backend.name,
        "baseline_mb": baseline,
        "baseline_imports": baseline_imports,
        "peak_mb": peak_rss_mb(),
        "current_mb": current_rss_mb(),
        "faces_per_frame": max(faces) if faces else 0,
        "frames": runs,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "modules_loaded": len(sys.modules),
    }


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number >= 1, got {text!r}")
    return value


def save_result(args: argparse.Namespace, result: dict[str, Any]) -> Path:
    """The probe's figures as ``memory-<bundle>-<date>.json`` (imported only after the figures are read)."""
    from auedge.benchmarks.store import ResultFiles, write_json

    root = Path(args.bundle) if args.what == "estimator" else Path(args.path).resolve().parent
    root = root.resolve()
    files = ResultFiles("memory", root.name, args.out_dir,
                        bundle_root=root if (root / "bundle.json").is_file() else None)
    settings = {k: v for k, v in vars(args).items() if k not in ("no_save", "out_dir")}
    return write_json(files.json_path, files.header(probe=args.what, settings=settings, **result))


def main(argv: list[str] | None = None) -> int:
    started_mb = peak_rss_mb()  # the bare interpreter plus argparse/json: what any Python process costs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model")
    m.add_argument("--path", required=True)
    m.add_argument("--backend", default="auto")
    m.add_argument("--threads", type=positive_int, default=1)
    m.add_argument("--runs", type=positive_int, default=20)
    e = sub.add_parser("estimator")
    e.add_argument("--bundle", required=True)
    e.add_argument("--model")
    e.add_argument("--backend", default="auto")
    e.add_argument("--threads", type=positive_int, default=1)
    e.add_argument("--frame", required=True, help=".npy RGB uint8 frame")
    e.add_argument("--runs", type=positive_int, default=50)
    for p in (m, e):
        p.add_argument("--out-dir", help="where the JSON goes (default benchmarks/results)")
        p.add_argument("--no-save", action="store_true", help="print the JSON line only (how latency.py runs it)")
    args = parser.parse_args(argv)
    try:
        if args.what == "model":
            result = probe_model(args.path, args.backend, args.threads, args.runs)
        else:
            result = probe_estimator(args.bundle, args.model, args.backend, args.threads, args.frame, args.runs)
    except (RuntimeError, ValueError, OSError) as exc:  # BackendError, BundleError...
        message = f"{type(exc).__name__}: {exc}"
        if args.no_save:  # the parent records it
            print(json.dumps({"error": message}))
        else:
            print(f"error: {message}", file=sys.stderr)
        return 1
    result["python_start_mb"] = started_mb
    result["ru_maxrss_mb"] = ru_maxrss_mb()
    print(json.dumps(result))
    if not args.no_save:
        print(f"written {save_result(args, result)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
