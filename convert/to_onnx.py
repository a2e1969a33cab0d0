"""Keras model -> ONNX fp32 (tf2onnx, stated opset, any batch) and ONNX int8 (static QDQ).

Why a tf.function with a ``[None, S, S, 3]`` signature: the same open batch as the TFLite
variants (to_tflite says why: the crop and its mirror in one run). QDQ
format (QuantizeLinear/DequantizeLinear pairs around float ops) is the one ONNX Runtime and other
runtimes fuse into int8 kernels; the model keeps float input and output, so it needs no
input/output quantization parameters in the bundle.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from auedge.convert.calibration import representative_batches
from auedge.convert.errors import ExportError

DEFAULT_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "output"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _rename_output(model_proto: Any, new_name: str) -> None:
    """tf2onnx names the output after TF's Identity node; give it a stable name instead."""
    old = model_proto.graph.output[0].name
    for node in model_proto.graph.node:
        node.output[:] = [new_name if o == old else o for o in node.output]
        node.input[:] = [new_name if i == old else i for i in node.input]
    model_proto.graph.output[0].name = new_name


def convert_onnx_fp32(model: Any, size: int, path: Path, opset: int = DEFAULT_OPSET) -> Path:
    import onnx
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec([None, size, size, 3], tf.float32, name=INPUT_NAME)]

    @tf.function(input_signature=spec, autograph=False)
    def serve(x):
        return model(x, training=False)

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=opset)
        _rename_output(proto, OUTPUT_NAME)
        onnx.checker.check_model(proto)
    except Exception as exc:  # tf2onnx raises a wide variety of errors
        raise ExportError(f"ONNX fp32 conversion (tf2onnx, opset {opset}) failed: {_first_line(exc)}") from exc
    onnx.save(proto, str(path))
    return path


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over the calibration crops."""

    def __init__(self, inputs: np.ndarray, name: str) -> None:
        self._batches = representative_batches(inputs)
        self._name = name

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {self._name: batch}


def quantize_onnx_int8(fp32_path: Path, path: Path, calib_inputs: np.ndarray, scratch: Path,
                       per_channel: bool = True, reduce_range: bool = True) -> Path:
    """Static QDQ int8: int8 weights (per channel or per tensor), int8 activations calibrated
    (min-max) on the crops.

    ``reduce_range`` keeps weights to 7 bits. Why: on x86 CPUs without VNNI (AVX2 only, like the
    machine these models were built on) ONNX Runtime's int8 kernels multiply with VPMADDUBSW, whose
    16-bit pair sums saturate for full-range weights. Measured on the MTFL AU12 MobileNetV2: the
    same QDQ model agreed with float on 98.6 % of validation faces when run as simulated quantization
    (graph optimizations off) but on 97.8 % through the int8 kernels; with 7-bit weights, 99.2-99.4 %
    at the same speed (U8U8 reached 99.4 % too but ran 27 % slower). ONNX Runtime's documentation
    names this remedy; on ARM the cost is one bit of weight precision."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calib_inputs is None or len(calib_inputs) == 0:
        raise ExportError("ONNX int8 quantization needs calibration crops; pass --calib-data")
    prepared = scratch / "onnx_preprocessed.onnx"
    source = prepared if prepared.is_file() else fp32_path
    if not prepared.is_file():
        try:
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
            source = prepared
        except Exception:  # noqa: BLE001 - pre-processing only helps (shape inference, folding); quantize without it
            source = fp32_path

    class Reader(_Reader, CalibrationDataReader):
        pass

    try:
        quantize_static(
            str(source),
            str(path),
            Reader(calib_inputs, INPUT_NAME),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
        )
    except Exception as exc:
        raise ExportError(f"ONNX int8 quantization (QDQ) failed: {_first_line(exc)}") from exc
    return path


def quantize_onnx_int8_best(fp32_path: Path, path: Path, calib_inputs: np.ndarray, scratch: Path,
                            error_of: Callable[[Path], float]) -> str:
    """Per-channel weights where it helps: quantize both ways and keep the one whose outputs are
    closer to the float model's on calibration crops (``error_of``). Per-channel usually wins for
    convolutions, but on a huge flatten->dense head (57,600 x K weights) ONNX Runtime's per-channel
    MatMul was measured worse (ICC vs float 0.96 against 0.99 per tensor). Validation crops are
    never used for this choice."""
    errors = {}
    for mode, per_channel in (("per-channel", True), ("per-tensor", False)):
        candidate = scratch / f"onnx_int8_{mode}.onnx"
        quantize_onnx_int8(fp32_path, candidate, calib_inputs, scratch, per_channel=per_channel)
        errors[mode] = (error_of(candidate), candidate)
    mode = min(errors, key=lambda m: errors[m][0])
    shutil.copyfile(errors[mode][1], path)
    return mode


def open_session(path: Path, num_threads: int = 1) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def onnx_input_shape(path: Path) -> tuple[int, ...]:
    session = open_session(path)
    return tuple(d if isinstance(d, int) else -1 for d in session.get_inputs()[0].shape)
