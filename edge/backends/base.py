"""The one interface every interpreter backend implements (Frigate detector-plugin style).

A backend wraps one model file in one interpreter, created once. Callers hand it an array with the
model's own input shape and dtype and get the raw outputs back; quantization, normalisation and
decoding stay with the caller, so swapping LiteRT for ONNX Runtime changes nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from auedge.edge.preprocess import QuantParams

INSTALL_HINT = "pip install au-edge[edge]"


class BackendError(RuntimeError):
    """A model that cannot be run here; the message names the file or package and the fix."""


@dataclass(frozen=True)
class TensorInfo:
    """Shape, dtype and affine quantization of one model input or output.

    ``shape`` uses -1 for a dynamic dimension; ``quant`` is None for float tensors and for
    integer tensors whose format does not carry quantization (plain ONNX inputs).
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    quant: QuantParams | None = None

    @property
    def is_integer(self) -> bool:
        return np.issubdtype(self.dtype, np.integer)

    def random_array(self, rng: np.random.Generator) -> np.ndarray:
        """A random input of this tensor's shape (dynamic dimensions as 1) and dtype, over its whole
        integer range or [-1, 1] for floats: what timing and memory probes feed a model."""
        shape = tuple(1 if d < 0 else d for d in self.shape)
        if self.is_integer:
            limits = np.iinfo(self.dtype)
            return rng.integers(limits.min, limits.max, size=shape, endpoint=True).astype(self.dtype)
        return rng.uniform(-1.0, 1.0, size=shape).astype(self.dtype)


def check_model_file(model_path: str | Path) -> Path:
    """Refuse a missing or empty model before an interpreter sees it (some abort on such files)."""
    path = Path(model_path)
    if not path.is_file():
        raise BackendError(f"model file {path} not found; check the path or copy the bundle again")
    if path.stat().st_size == 0:
        raise BackendError(f"model file {path} is empty (truncated copy?); copy the bundle again")
    return path


def quant_from_details(scale: float, zero_point: int, dtype: np.dtype) -> QuantParams | None:
    """QuantParams for an integer tensor with a real scale, else None."""
    if not np.issubdtype(dtype, np.integer) or not scale:
        return None
    return QuantParams(scale=float(scale), zero_point=int(zero_point), dtype=np.dtype(dtype).name)


def resolve_quant(info: TensorInfo, expected: QuantParams | None, what: str, model_path: Path) -> QuantParams | None:
    """The quantization to use for one tensor: the model's own, cross-checked against the bundle's.

    The model file is the authority (it is what the interpreter computes with); the bundle's
    figure is used only when the format does not carry one (ONNX), and its dtype must still be the
    tensor's (ONNX inputs may be int8 or uint8; the bundle's dtype defaults to int8). A disagreement means the
    bundle.json and the model file come from different exports, which would silently shift every
    output, so it is an error.
    """
    if not info.is_integer:
        return None
    if info.quant is not None and expected is not None:
        same_scale = np.isclose(info.quant.scale, expected.scale, rtol=1e-4, atol=0.0)
        if not same_scale or info.quant.zero_point != expected.zero_point:
            raise BackendError(
                f"{what} quantization of {model_path} is scale={info.quant.scale:.6g} "
                f"zero_point={info.quant.zero_point}, but bundle.json says scale={expected.scale:.6g} "
                f"zero_point={expected.zero_point}; the bundle is inconsistent, re-export it"
            )
    if expected is not None and np.dtype(expected.dtype) != info.dtype:
        # Values quantized for int8 and written into a uint8 tensor (or the reverse) are all wrong.
        raise BackendError(
            f"{what} of {model_path} is {info.dtype}, but bundle.json gives its quantization dtype as "
            f"{expected.dtype}; the bundle is inconsistent, re-export it"
        )
    quant = info.quant or expected
    if quant is None:
        raise BackendError(
            f"{what} of {model_path} is {info.dtype} but neither the model nor bundle.json gives its "
            "quantization (scale, zero point); re-export the bundle"
        )
    return quant


class Backend(ABC):
    """One model in one interpreter. Subclasses load in ``__init__`` and never reload per frame."""

    name: str = "backend"

    def __init__(self, model_path: str | Path, num_threads: int = 1) -> None:
        self.model_path = check_model_file(model_path)
        if num_threads < 1:
            raise BackendError(f"num_threads must be >= 1, got {num_threads}")
        self.num_threads = int(num_threads)

    @property
    @abstractmethod
    def input_details(self) -> list[TensorInfo]:
        """The model's inputs, in order."""

    @property
    @abstractmethod
    def output_details(self) -> list[TensorInfo]:
        """The model's outputs, in the order :meth:`run` returns them."""

    @abstractmethod
    def run(self, array: np.ndarray) -> list[np.ndarray]:
        """Run the first input on ``array`` (model shape and dtype) and return the raw outputs."""

    def set_batch(self, batch: int) -> bool:
        """Make :meth:`run` take ``batch`` inputs at once if the model allows it; False leaves the
        model as it was. Here: only a model whose batch dimension is dynamic or already ``batch``."""
        shape = self.input.shape
        return bool(shape) and shape[0] in (-1, batch)

    def close(self) -> None:
        """Release the interpreter early (a long-running daemon restarting its pipeline)."""

    @property
    def input(self) -> TensorInfo:
        return self.input_details[0]

    def check_input(self, array: np.ndarray) -> None:
        """A clear message instead of an interpreter's terse one when the caller got shapes wrong."""
        info = self.input
        if array.dtype != info.dtype:
            raise BackendError(f"{self.model_path} expects {info.dtype} input, got {array.dtype}")
        if len(array.shape) != len(info.shape) or any(
            want not in (-1, got) for want, got in zip(info.shape, array.shape)
        ):
            raise BackendError(f"{self.model_path} expects input shape {list(info.shape)}, got {list(array.shape)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.model_path)!r}, num_threads={self.num_threads})"
