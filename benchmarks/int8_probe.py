"""``python benchmarks/int8_probe.py --bundle B``: why is int8 not faster than fp32 here?

The issue expects the int8 AU model to be much faster than fp32 with LiteRT. This probe separates
the usual suspects on the machine at hand, timing the bundle's TFLite variants interleaved (CPU
time, one thread):

* XNNPACK delegation: each variant with the default delegate (XNNPACK) and without it
  (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``): if int8 gains from XNNPACK, its ops are delegated;
* batch dimension: the input shape must be a fixed ``[1, H, W, 3]`` (a dynamic batch disables
  parts of XNNPACK);
* op set: the ops of each model (quantize/dequantize pairs in an int8 model would be a red flag);
* the CPU: x86 int8 kernels gain most with VNNI (``avx512_vnni`` / ``avx_vnni``) or on ARM with
  the dot-product extension; with AVX2 alone XNNPACK's int8 convolutions are not faster than fp32.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: keep the package's folder off the import path
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np
from auedge.benchmarks.store import BenchmarkError, ResultFiles, format_table, load_average, write_json

CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "asimddp", "i8mm")


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            present = set(line.split(":", 1)[1].split())
            return [f for f in CPU_FLAGS if f in present]
    return []


def interpreter_call(path: Path, delegate: bool) -> tuple[Any, dict[str, Any]]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kwargs: dict[str, Any] = {"model_path": str(path), "num_threads": 1}
    if not delegate:
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(**kwargs)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    array = np.zeros(detail["shape"], dtype=detail["dtype"])

    def run() -> None:
        interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()

    ops = Counter(op["op_name"] for op in interpreter._get_ops_details())
    facts = {"input_shape_signature": [int(v) for v in detail["shape_signature"]],
             "input_dtype": np.dtype(detail["dtype"]).name, "ops": dict(ops)}
    return run, facts


def main(argv: list[str] | None = None) -> int:
    from auedge.benchmarks.latency import time_interleaved
    from auedge.edge.bundle import BundleError, load_bundle

    parser = argparse.ArgumentParser(prog="auedge-bench-int8-probe", description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out-dir", help="where the JSON goes (default benchmarks/results)")
    args = parser.parse_args(argv)
    try:
        bundle = load_bundle(args.bundle)
        models = [m for m in bundle.models if m.format == "tflite"]
        if not models:
            raise BenchmarkError(f"bundle {bundle.root} has no TFLite model")
        calls, facts = {}, {}
        for entry in models:
            for delegate in (True, False):
                key = f"{entry.name} {'xnnpack' if delegate else 'no-delegate'}"
                calls[key], facts[entry.name] = interpreter_call(entry.path, delegate)
    except (BundleError, BenchmarkError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    load_before = load_average()
    timed = time_interleaved(calls, args.runs, 10)
    cpu = {k: float(np.median(v["cpu"])) for k, v in timed.items()}
    rows = []
    for entry in models:
        on, off = cpu[f"{entry.name} xnnpack"], cpu[f"{entry.name} no-delegate"]
        ref = cpu.get("fp32 xnnpack")
        rows.append([entry.name, facts[entry.name]["input_dtype"], str(facts[entry.name]["input_shape_signature"]), on, off,
                     off / on if on else None, on / ref if ref else None,
                     ", ".join(f"{k} {v}" for k, v in sorted(facts[entry.name]["ops"].items()))])
    headers = ["variant", "input", "shape signature", "CPU ms XNNPACK", "CPU ms no delegate", "XNNPACK speed-up",
               "x fp32 (XNNPACK)", "ops"]
    files = ResultFiles("int8probe", bundle.root.name, args.out_dir)
    data = files.header(cpu_flags=cpu_flags(), runs=args.runs, cpu_median_ms=cpu, facts=facts,
                        table={"headers": headers, "rows": rows}, load_average_before=load_before,
                        load_average_after=load_average())
    path = write_json(files.json_path, data)
    print(format_table(headers, rows))
    print(f"\nCPU flags that matter for int8: {', '.join(data['cpu_flags']) or 'none'}; load {load_before}; written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
