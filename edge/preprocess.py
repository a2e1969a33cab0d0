"""Input normalisation and int8 (de)quantization, from the bundle's parameters.

The float model sees ``(pixel - mean) / std`` per RGB channel; an int8 model sees that value
quantized with its input scale and zero point. Training uses :func:`normalize` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# MobileNetV2 and ResNet50 from scratch both use the [-1, 1] range.
DEFAULT_MEAN = (127.5, 127.5, 127.5)
DEFAULT_STD = (127.5, 127.5, 127.5)


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``(x - mean) / std`` on RGB pixels in 0-255."""

    mean: tuple[float, float, float] = DEFAULT_MEAN
    std: tuple[float, float, float] = DEFAULT_STD

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std), "color": "RGB", "pixel_range": [0, 255]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalization:
        mean, std = tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"])
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"normalization needs three means and three positive stds, got {data}")
        return cls(mean=mean, std=std)  # type: ignore[arg-type]


def normalize(pixels: np.ndarray, norm: Normalization = Normalization()) -> np.ndarray:
    """uint8 RGB (..., 3) -> float32 model input."""
    mean = np.asarray(norm.mean, dtype=np.float32)
    inv_std = 1.0 / np.asarray(norm.std, dtype=np.float32)
    return (pixels.astype(np.float32) - mean) * inv_std


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization of one tensor: ``real = scale * (q - zero_point)``."""

    scale: float
    zero_point: int
    dtype: str = "int8"

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "zero_point": self.zero_point, "dtype": self.dtype}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> QuantParams | None:
        if not data or not data.get("scale"):
            return None
        return cls(scale=float(data["scale"]), zero_point=int(data["zero_point"]), dtype=str(data.get("dtype", "int8")))

    @property
    def limits(self) -> tuple[int, int]:
        info = np.iinfo(np.dtype(self.dtype))
        return int(info.min), int(info.max)


def quantize(values: np.ndarray, q: QuantParams) -> np.ndarray:
    lo, hi = q.limits
    return np.clip(np.round(values / q.scale) + q.zero_point, lo, hi).astype(q.dtype)


def dequantize(values: np.ndarray, q: QuantParams) -> np.ndarray:
    return (values.astype(np.float32) - q.zero_point) * np.float32(q.scale)


def flip_averaged(run, batch: np.ndarray) -> np.ndarray:
    """Mean of ``run``'s outputs for an NHWC ``batch`` and its left-right mirror, in float32.

    A bundle with ``inference.flip_average`` decides on this mean (its threshold was chosen on it),
    so training, export validation and the benchmarks all average through this one function.
    """
    mirrored = np.ascontiguousarray(batch[:, :, ::-1])
    return ((np.asarray(run(batch)) + np.asarray(run(mirrored))) / 2.0).astype(np.float32)
