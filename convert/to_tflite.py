"""Keras model -> TFLite flatbuffers (fp32, fp16, dynamic-range, int8 with a float stem), any batch.

Why through a SavedModel with a ``[None, S, S, 3]`` signature: a Keras 3 model handed to
``from_concrete_functions`` keeps its variables as resources (READ_VARIABLE ops that the
calibrator cannot run). The batch is left open so that a runtime doing flip averaging can feed
the crop and its mirror in one run (``Backend.set_batch``); a fixed batch of 1 makes Keras'
Flatten a Reshape to [1, N], which no interpreter can resize. The model still loads at batch 1
(the shape a device sees unless it resizes); XNNPACK then takes it in two parts, the
SHAPE/STRIDED_SLICE/PACK ops that compute the Reshape's size running between them
(``benchmarks/batch_pair.py --keras`` times both exports at batch 1 and the pair).
Only TFLite builtin ops are allowed (no Flex/Select TF ops), so the LiteRT runtime alone runs it.

The int8 model keeps its first convolution (the stem, which reads the 3-channel image) in float by
default: int8 GEMM kernels pack input channels in groups of 4-8, so a 3-channel input wastes most
of each group. Measured with LiteRT on an AVX2 CPU without VNNI (MobileNetV2 cut, one thread, the
other core busy), the int8 stem took 0.55 ms against 0.14 ms in float, and the whole int8 model
dropped from 2.30 to 1.91 ms with the stem in float (1.62 ms with the first five convolutions in
float, ``--int8-float-convs 5``; fp32 1.47 ms); the ResNet50 cut, whose 7x7 stem reads the image,
went from 8.56 to 4.67 ms (fp32 4.48 ms). The model still takes int8 in and gives int8 out
(a DEQUANTIZE before the stem, a QUANTIZE after the float part), so bundles and runtimes see no
difference. ``--int8-float-convs 0`` writes the fully integer model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from auedge.convert.calibration import representative_batches
from auedge.convert.errors import ExportError
from auedge.edge.preprocess import QuantParams

INPUT_NAME = "input"
# How many leading convolutions the int8 model keeps in float: the stem (see the module doc).
DEFAULT_FLOAT_CONVS = 1


def export_saved_model(model: Any, size: int, folder: Path, batch: int | None = None) -> Path:
    """Write the serving graph with an open batch (inference mode: no dropout); the module doc says why.
    ``batch``: a fixed batch instead, for benchmarks/batch_export.py's comparison."""
    import tensorflow as tf

    spec = tf.TensorSpec([batch, size, size, 3], tf.float32, name=INPUT_NAME)
    model.export(str(folder), format="tf_saved_model", input_signature=[spec], verbose=False)
    return folder


CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def float_prefix_nodes(model: bytes, convolutions: int) -> list[str]:
    """Output tensor names of every op up to and including the ``convolutions``-th convolution,
    in execution order (a ResNet's zero padding before its stem comes along)."""
    interpreter = open_interpreter(model, delegates=False)
    tensors = interpreter.get_tensor_details()
    names: list[str] = []
    seen = 0
    for op in interpreter._get_ops_details():
        names.extend(str(tensors[i]["name"]) for i in op["outputs"])
        seen += op["op_name"] in CONVOLUTIONS
        if seen == convolutions:
            return names
    raise ExportError(f"--int8-float-convs {convolutions}: the model has only {seen} convolutions")


def _quantize_with_float_prefix(converter: Any, convolutions: int) -> bytes:
    """Calibrate, then quantize all but the first ``convolutions`` convolutions, int8 in and out."""
    import tensorflow as tf
    from tensorflow.lite.python import convert as tflite_convert

    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    return bytes(tflite_convert.mlir_quantize(
        calibrated, fully_quantize=True, input_data_type=tf.int8, output_data_type=tf.int8,
        denylisted_nodes=float_prefix_nodes(calibrated, convolutions),
    ))


def convert_tflite(saved_model: Path, precision: str, calib_inputs: np.ndarray | None = None,
                   float_convs: int = DEFAULT_FLOAT_CONVS) -> bytes:
    """One TFLite variant. ``calib_inputs`` (N, S, S, 3) float32 is needed for int8 only;
    ``float_convs``: the int8 model's first convolutions kept in float (see the module doc)."""
    import tensorflow as tf

    if float_convs < 0:
        raise ExportError(f"--int8-float-convs must be 0 or more, got {float_convs}")

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8":
        if calib_inputs is None or len(calib_inputs) == 0:
            raise ExportError("int8 conversion needs calibration crops; pass --calib-data")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([batch] for batch in representative_batches(calib_inputs))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif precision != "fp32":
        raise ExportError(f"unknown TFLite precision {precision!r}")
    try:
        if precision == "int8" and float_convs:
            return _quantize_with_float_prefix(converter, float_convs)
        return bytes(converter.convert())
    except ExportError:
        raise
    except Exception as exc:  # the converter raises ConverterError, RuntimeError, ValueError...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"TFLite {precision} conversion failed: {first}") from exc


def open_interpreter(model: bytes | Path, num_threads: int = 1, delegates: bool = True) -> Any:
    """A LiteRT interpreter (the device's runtime), tf.lite's as a fallback; tensors allocated.

    ``delegates=False`` keeps XNNPACK away so that the op list shows the model's own ops.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        import tensorflow as tf

        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    kwargs: dict[str, Any] = {"num_threads": num_threads}
    if not delegates:
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    if isinstance(model, (bytes, bytearray)):
        kwargs["model_content"] = bytes(model)
    else:
        kwargs["model_path"] = str(model)
    interpreter = Interpreter(**kwargs)
    interpreter.allocate_tensors()
    return interpreter


def _quant(detail: dict[str, Any]) -> QuantParams | None:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    dtype = np.dtype(detail["dtype"])
    if not np.issubdtype(dtype, np.integer) or not scale:
        return None
    return QuantParams(scale=float(scale), zero_point=int(zero_point), dtype=dtype.name)


@dataclass(frozen=True)
class TFLiteFacts:
    """What a converted flatbuffer really is, read back from the interpreter (never assumed)."""

    input_shape: tuple[int, ...]
    input_dtype: str
    output_shape: tuple[int, ...]
    output_dtype: str
    input_quant: QuantParams | None
    output_quant: QuantParams | None
    ops: tuple[str, ...]


def inspect_tflite(content: bytes, what: str) -> TFLiteFacts:
    """Load without delegates and refuse anything but builtin ops (Flex or custom ops need TF)."""
    try:
        interpreter = open_interpreter(content, delegates=False)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{what}: the converted model does not load with builtin ops only ({first})") from exc
    ops = tuple(sorted({str(op["op_name"]) for op in interpreter._get_ops_details()}))
    foreign = [op for op in ops if op.startswith("Flex") or op in ("CUSTOM", "DELEGATE")]
    if foreign:
        raise ExportError(f"{what}: the converted model uses non-builtin ops {foreign}; it would need TensorFlow on the device")
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    return TFLiteFacts(
        input_shape=tuple(int(v) for v in inp["shape_signature"]),
        input_dtype=np.dtype(inp["dtype"]).name,
        output_shape=tuple(int(v) for v in out["shape_signature"]),
        output_dtype=np.dtype(out["dtype"]).name,
        input_quant=_quant(inp),
        output_quant=_quant(out),
        ops=ops,
    )
