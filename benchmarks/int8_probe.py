"""``python benchmarks/int8_probe.py --bundle B``: why is int8 not faster than fp32 here?

The issue expects the int8 AU model to be much faster than fp32 with LiteRT. This probe separates
the usual suspects on the machine at hand, timing the bundle's TFLite variants interleaved (CPU
time, one thread):

* XNNPACK delegation: each variant with the default delegate (XNNPACK) and without it
  (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``): if int8 gains from XNNPACK, its ops are delegated;
* batch dimension: the shape signature is listed; models exported since issue 37 take an open
  batch ``[-1, H, W, 3]``, which ``benchmarks/batch_pair.py --keras`` measured to leave the batch-1
  time as it was (XNNPACK takes the graph in two parts around the Reshape's size ops);
* op set: the ops of each model (quantize/dequantize pairs in an int8 model would be a red flag);
* the CPU: x86 int8 kernels gain most with VNNI (``avx512_vnni`` / ``avx_vnni``) or on ARM with
  the dot-product extension; with AVX2 alone XNNPACK's int8 convolutions are not faster than fp32;
* which layers: ``--float-convs 0,1,4`` re-converts the bundle's Keras model (needs the ``[train]``
  extra) into int8 models that keep their first N convolutions in float (``convert/export.py
  --int8-float-convs N``; 0 is fully integer) and times them beside the bundle's own. A 3-channel
  stem is where int8 loses most: its kernels pack input channels in groups of 4-8. These models
  are calibrated on random inputs: timing only, their outputs mean nothing.
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
from auedge.benchmarks.store import (
    BenchmarkError,
    ResultFiles,
    cpu_flags,
    format_table,
    load_average,
    write_json,
)


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


def reconverted_tflite(bundle: Any, keras: str | None, folder: Path, flag: str,
                       variants: dict[str, tuple[str, int]], batch: int | None = None) -> dict[str, Path]:
    """TFLite files of the bundle's Keras model converted again, for timing only: ``variants`` maps a
    label to (precision, convolutions kept in float); int8 is calibrated on random inputs, so these
    models' outputs mean nothing. ``batch``: a fixed batch instead of the exporter's open one.
    ``flag`` names the option that asked, for the error when the Keras model is not found."""
    from auedge.benchmarks.accuracy import keras_path
    from auedge.convert.errors import ExportError
    from auedge.convert.to_tflite import convert_tflite, export_saved_model

    path = keras_path(keras, bundle, bundle.manifest.get("training") or {})
    if path is None or not path.is_file():
        raise BenchmarkError(f"{flag} needs the bundle's Keras model: pass --keras runs/NAME/model.keras")
    import keras as keras_lib

    size = bundle.input_size[0]
    saved = export_saved_model(keras_lib.models.load_model(path, compile=False), size, folder / "saved_model",
                               batch=batch)
    calib = np.random.default_rng(0).uniform(-1.0, 1.0, (16, size, size, 3)).astype(np.float32)
    files = {}
    for number, (label, (precision, float_convs)) in enumerate(variants.items()):
        try:
            content = convert_tflite(saved, precision, calib, float_convs)
        except ExportError as exc:
            raise BenchmarkError(str(exc)) from exc
        files[label] = folder / f"model_{number}.tflite"
        files[label].write_bytes(content)
    return files


def float_conv_models(bundle: Any, counts: list[int], keras: str | None, folder: Path) -> dict[str, Path]:
    """int8 TFLite files of the bundle's Keras model keeping its first N convolutions in float."""
    return reconverted_tflite(bundle, keras, folder, "--float-convs",
                              {f"int8 float_convs={count}": ("int8", count) for count in counts})


def parse_whole_numbers(flag: str, text: str, minimum: int) -> list[int]:
    """A comma list of whole numbers >= ``minimum`` (empty text: none), else one clear BenchmarkError."""
    parts = [v.strip() for v in str(text).split(",") if v.strip()]
    try:
        values = [int(v) for v in parts]
    except ValueError:
        values = None
    if values is None or any(v < minimum for v in values):
        raise BenchmarkError(f"{flag} takes a comma list of whole numbers >= {minimum}, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    import tempfile

    from auedge.benchmarks.latency import time_interleaved
    from auedge.edge.bundle import BundleError, load_bundle

    parser = argparse.ArgumentParser(prog="auedge-bench-int8-probe", description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--runs", default="200", help="interleaved timed runs per row (default 200)")
    parser.add_argument("--out-dir", help="where the JSON goes (default benchmarks/results)")
    parser.add_argument("--float-convs", default="",
                        help="comma list of N: also time int8 models with their first N convolutions in float")
    parser.add_argument("--keras", help="the bundle's Keras model for --float-convs (default runs/<training.run>/model.keras)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="auedge-int8-probe-") as scratch:
        try:
            counts = parse_whole_numbers("--float-convs", args.float_convs, minimum=0)
            runs = parse_whole_numbers("--runs", args.runs, minimum=1)
            if len(runs) != 1:
                raise BenchmarkError(f"--runs takes one whole number >= 1, got {args.runs!r}")
            bundle = load_bundle(args.bundle)
            paths = {m.name: m.path for m in bundle.models if m.format == "tflite"}
            if not paths:
                raise BenchmarkError(f"bundle {bundle.root} has no TFLite model")
            paths.update(float_conv_models(bundle, counts, args.keras, Path(scratch)) if counts else {})
            calls, facts = {}, {}
            for name, path in paths.items():
                for delegate in (True, False):
                    key = f"{name} {'xnnpack' if delegate else 'no-delegate'}"
                    calls[key], facts[name] = interpreter_call(path, delegate)
        except (BundleError, BenchmarkError, ImportError) as exc:  # BundleError first: it is a ValueError
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except (ValueError, RuntimeError) as exc:  # the interpreter refusing a model file
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        load_before = load_average()
        timed = time_interleaved(calls, runs[0], 10)
    cpu = {k: float(np.median(v["cpu"])) for k, v in timed.items()}
    rows = []
    for name in paths:
        on, off = cpu[f"{name} xnnpack"], cpu[f"{name} no-delegate"]
        ref = cpu.get("fp32 xnnpack")
        rows.append([name, facts[name]["input_dtype"], str(facts[name]["input_shape_signature"]), on, off,
                     off / on if on else None, on / ref if ref else None,
                     ", ".join(f"{k} {v}" for k, v in sorted(facts[name]["ops"].items()))])
    headers = ["variant", "input", "shape signature", "CPU ms XNNPACK", "CPU ms no delegate", "XNNPACK speed-up",
               "x fp32 (XNNPACK)", "ops"]
    files = ResultFiles("int8probe", bundle.root.name, args.out_dir, bundle_root=bundle.root)
    data = files.header(cpu_flags=cpu_flags(), runs=runs[0], cpu_median_ms=cpu, facts=facts,
                        table={"headers": headers, "rows": rows}, load_average_before=load_before,
                        load_average_after=load_average())
    path = write_json(files.json_path, data)
    print(format_table(headers, rows))
    print(f"\nCPU flags that matter for int8: {', '.join(data['cpu_flags']) or 'none'}; load {load_before}; written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
