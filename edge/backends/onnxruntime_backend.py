"""ONNX Runtime: for .onnx models; single-stream settings so latency is steady on a small CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from auedge.edge.backends.base import Backend, BackendError, TensorInfo

# ONNX Runtime's type strings -> numpy dtypes (the ones an AU model can use).
ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
}


def _tensor_info(arg: object) -> TensorInfo:
    kind = arg.type
    if kind not in ORT_TYPES:
        raise BackendError(f"tensor {arg.name} has type {kind}, which au-edge does not feed")
    shape = tuple(d if isinstance(d, int) else -1 for d in arg.shape)
    # ONNX inputs carry no scale/zero point: an integer input takes them from bundle.json.
    return TensorInfo(name=str(arg.name), shape=shape, dtype=np.dtype(ORT_TYPES[kind]))


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, model_path: str | Path, num_threads: int = 1) -> None:
        super().__init__(model_path, num_threads)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendError(
                f"onnxruntime is not installed ({exc}); run: pip install onnxruntime, "
                "or use the bundle's TFLite model (pip install au-edge[edge])"
            ) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.num_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own classes derived from Exception only.
            raise BackendError(
                f"model file {self.model_path} cannot be loaded by onnxruntime ({str(exc).strip()}); "
                "it is truncated, corrupt or not an ONNX model: copy the bundle again"
            ) from exc
        self._inputs = [_tensor_info(a) for a in self._session.get_inputs()]
        self._outputs = [_tensor_info(a) for a in self._session.get_outputs()]
        self._input_name = self._inputs[0].name
        self._output_names = [o.name for o in self._outputs]

    @property
    def input_details(self) -> list[TensorInfo]:
        return self._inputs

    @property
    def output_details(self) -> list[TensorInfo]:
        return self._outputs

    def run(self, array: np.ndarray) -> list[np.ndarray]:
        self.check_input(array)
        return list(self._session.run(self._output_names, {self._input_name: array}))

    def close(self) -> None:
        self._session = None
