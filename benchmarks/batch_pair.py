"""``python benchmarks/batch_pair.py --bundle B``: flip averaging as one batch of two, or two runs?

With flip averaging on, the runtime needs the AU model on a crop and on its mirror. A model whose
batch is open (exported since issue 37) can take both at once (``Estimator.paired``). This times,
per TFLite variant of the bundle, interleaved on one thread:

* ``1 crop``: one batch-1 run (flip averaging off);
* ``2 runs``: the crop and its mirror as two batch-1 runs (the fallback for a fixed-batch model);
* ``1 pair``: one batch-2 run (what the runtime does when the model takes it);
* with ``--keras``: the same Keras model re-exported with a fixed batch of 1 (needs the ``[train]``
  extra; int8 calibrated on random inputs, so timing only), to show whether the open batch slows
  the batch-1 path.

Medians of CPU time per call; ratios are within this one run. The JSON names the CPU and its flags.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np
from auedge.benchmarks.store import (
    BenchmarkError,
    ResultFiles,
    cpu_flags,
    cpu_model,
    format_table,
    load_average,
    write_json,
)


def model_calls(path: Path, label: str) -> dict[str, Callable[[], Any]]:
    """The timed calls of one model file: one crop, two runs, and one pair when it takes a batch of 2."""
    from auedge.edge.backends import create_backend

    single = create_backend(path, "litert", 1)
    info = single.input
    crop = np.zeros((1, *info.shape[1:]), dtype=info.dtype)
    calls: dict[str, Callable[[], Any]] = {
        f"{label} 1 crop": lambda: single.run(crop),
        f"{label} 2 runs": lambda: (single.run(crop), single.run(crop)),
    }
    paired = create_backend(path, "litert", 1)
    if paired.set_batch(2):
        pair = np.zeros((2, *info.shape[1:]), dtype=info.dtype)
        calls[f"{label} 1 pair"] = lambda: paired.run(pair)
    return calls


def fixed_batch_models(bundle: Any, keras: str | None, folder: Path) -> dict[str, Path]:
    """The bundle's Keras model exported again with a fixed batch of 1, fp32 and int8 (timing only)."""
    from auedge.benchmarks.int8_probe import reconverted_tflite
    from auedge.convert.to_tflite import DEFAULT_FLOAT_CONVS

    return reconverted_tflite(bundle, keras, folder, "--keras",
                              {f"{p} fixed batch 1": (p, DEFAULT_FLOAT_CONVS) for p in ("fp32", "int8")}, batch=1)


def summary_rows(models: list[str], cpu: dict[str, float]) -> list[list[Any]]:
    rows = []
    for label in models:
        one, two, pair = (cpu.get(f"{label} {what}") for what in ("1 crop", "2 runs", "1 pair"))
        rows.append([label, one, two, pair, (two / pair) if pair else None])
    return rows


def main(argv: list[str] | None = None) -> int:
    import tempfile

    from auedge.benchmarks.latency import time_interleaved
    from auedge.edge.bundle import BundleError, load_bundle

    parser = argparse.ArgumentParser(prog="auedge-bench-batch-pair", description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--runs", type=int, default=300, help="interleaved timed runs per call (default 300)")
    parser.add_argument("--keras", nargs="?", const="", default=None,
                        help="also time the Keras model re-exported with a fixed batch of 1 "
                             "(default path: runs/<training.run>/model.keras)")
    parser.add_argument("--out-dir", help="where the JSON goes (default benchmarks/results)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="auedge-batch-pair-") as scratch:
        try:
            if args.runs < 1:
                raise BenchmarkError(f"--runs must be at least 1, got {args.runs}")
            bundle = load_bundle(args.bundle)
            paths = {f"{m.name} (bundle)": m.path for m in bundle.models if m.format == "tflite"}
            if not paths:
                raise BenchmarkError(f"bundle {bundle.root} has no TFLite model")
            if args.keras is not None:
                paths.update(fixed_batch_models(bundle, args.keras or None, Path(scratch)))
            calls: dict[str, Callable[[], Any]] = {}
            for label, path in paths.items():
                calls.update(model_calls(path, label))
        except (BundleError, BenchmarkError, ImportError) as exc:  # BundleError first: it is a ValueError
            print(f"error: {exc}", file=sys.stderr)
            return 2
        load_before = load_average()
        timed = time_interleaved(calls, args.runs, 20)
    cpu = {k: float(np.median(v["cpu"])) for k, v in timed.items()}
    headers = ["model", "1 crop ms", "2 runs ms", "1 pair ms", "2 runs / 1 pair"]
    rows = summary_rows(list(paths), cpu)
    files = ResultFiles("batchpair", bundle.root.name, args.out_dir, bundle_root=bundle.root)
    data = files.header(cpu=cpu_model(), cpu_flags=cpu_flags(), runs=args.runs, cpu_median_ms=cpu,
                        table={"headers": headers, "rows": rows}, load_average_before=load_before,
                        load_average_after=load_average())
    path = write_json(files.json_path, data)
    print(format_table(headers, rows))
    print(f"\n{data['cpu']}; flags that matter: {', '.join(data['cpu_flags']) or 'none'}; "
          f"load {load_before}; written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
