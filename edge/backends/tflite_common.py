"""Shared body of the three TFLite interpreters (LiteRT, tflite-runtime, tf.lite): same Python API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from auedge.edge.backends.base import Backend, BackendError, TensorInfo, quant_from_details


def _tensor_info(detail: dict[str, Any], resized: bool = False) -> TensorInfo:
    """``resized``: the tensor's current shape, not the file's signature (after resize_tensor_input)."""
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail.get("quantization", (0.0, 0))
    shape = tuple(int(v) for v in (detail["shape"] if resized else detail.get("shape_signature", detail["shape"])))
    return TensorInfo(
        name=str(detail["name"]), shape=shape, dtype=dtype, quant=quant_from_details(scale, zero_point, dtype)
    )


class InterpreterBackend(Backend):
    """A TFLite interpreter created once, tensors allocated once; subclasses name the package."""

    package = ""

    def _interpreter_class(self) -> Any:
        raise NotImplementedError

    def __init__(self, model_path: str | Path, num_threads: int = 1) -> None:
        super().__init__(model_path, num_threads)
        interpreter_class = self._interpreter_class()
        try:
            self._interpreter = interpreter_class(model_path=str(self.model_path), num_threads=self.num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BackendError(
                f"model file {self.model_path} cannot be loaded by {self.package} ({exc}); "
                "it is truncated, corrupt or not a TFLite model: copy the bundle again"
            ) from exc
        raw_in = self._interpreter.get_input_details()
        raw_out = self._interpreter.get_output_details()
        self._inputs = [_tensor_info(d) for d in raw_in]
        self._outputs = [_tensor_info(d) for d in raw_out]
        self._input_index = raw_in[0]["index"]
        self._output_indices = [d["index"] for d in raw_out]

    @property
    def input_details(self) -> list[TensorInfo]:
        return self._inputs

    @property
    def output_details(self) -> list[TensorInfo]:
        return self._outputs

    def set_batch(self, batch: int) -> bool:
        """Resize the input to ``batch`` (resize_tensor_input) when every op accepts it. A model
        exported with a fixed batch of 1 usually does not (Keras' Flatten becomes a Reshape to
        [1, N]); then the interpreter is put back to its old shape and False returned.

        One run on zeros settles the outputs' shapes: a model with a dynamic batch (signature -1)
        reports its outputs' new shapes only after an invoke, so reading them straight after
        allocate_tensors would refuse every such model."""
        details = self._interpreter.get_input_details()[0]
        shape = list(details["shape"])
        if shape[0] == batch:
            return True
        try:
            self._interpreter.resize_tensor_input(self._input_index, [batch, *shape[1:]])
            self._interpreter.allocate_tensors()
            self._interpreter.set_tensor(self._input_index, np.zeros([batch, *shape[1:]], details["dtype"]))
            self._interpreter.invoke()
            outputs = self._interpreter.get_output_details()
            if any(self._interpreter.get_tensor(d["index"]).shape[0] != batch for d in outputs):
                raise ValueError("an output did not take the new batch")
        except (ValueError, RuntimeError):
            self._interpreter.resize_tensor_input(self._input_index, shape)
            self._interpreter.allocate_tensors()
            return False
        self._inputs = [_tensor_info(d, resized=True) for d in self._interpreter.get_input_details()]
        self._outputs = [_tensor_info(d, resized=True) for d in outputs]
        return True

    def run(self, array: np.ndarray) -> list[np.ndarray]:
        self.check_input(array)
        self._interpreter.set_tensor(self._input_index, array)
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(i) for i in self._output_indices]

    def close(self) -> None:
        self._interpreter = None
