"""Input normalisation and int8 (de)quantization, from the bundle's parameters.

The float model sees ``(pixel - mean) / std`` per RGB channel; an int8 model sees that value
quantized with its input scale and zero point. Training uses :func:`normalize` too.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

# MobileNetV2 and ResNet50 from scratch both use the [-1, 1] range.
DEFAULT_MEAN = (127.5, 127.5, 127.5)
DEFAULT_STD = (127.5, 127.5, 127.5)


# What the runtime feeds a model: the crop as RGB pixels in 0-255. A bundle promising anything else
# would be run on the wrong colours or scale without a sign, so Normalization refuses it.
COLOR = "RGB"
PIXEL_RANGE = (0, 255)


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``(x - mean) / std`` on RGB pixels in 0-255.

    ``color`` and ``pixel_range`` record that input convention in the bundle; only RGB 0-255 is
    implemented, so any other value is an error rather than a silently ignored setting.
    """

    mean: tuple[float, float, float] = DEFAULT_MEAN
    std: tuple[float, float, float] = DEFAULT_STD
    color: str = COLOR
    pixel_range: tuple[int, int] = PIXEL_RANGE

    def __post_init__(self) -> None:
        if self.color != COLOR:
            raise ValueError(f"normalization color {self.color!r} is not supported: au-edge feeds {COLOR} pixels")
        if tuple(self.pixel_range) != PIXEL_RANGE:
            raise ValueError(f"normalization pixel_range {list(self.pixel_range)!r} is not supported: "
                             f"au-edge feeds pixels in {list(PIXEL_RANGE)}")

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std), "color": self.color, "pixel_range": list(self.pixel_range)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalization:
        """Read a ``normalization`` entry; ValueError names the bad key (the bundle adds the file)."""
        if not isinstance(data, dict):
            raise TypeError(f"normalization must be an object with mean and std, got {data!r}")
        mean, std = _three_numbers(data, "mean"), _three_numbers(data, "std")
        if min(std) <= 0:
            raise ValueError(f"normalization std must be three positive numbers, got {list(std)}")
        pixel_range = data.get("pixel_range", list(PIXEL_RANGE))
        if not isinstance(pixel_range, list | tuple) or not all(is_number(v) for v in pixel_range):
            raise ValueError(f"normalization pixel_range must be [0, 255], got {pixel_range!r}")
        return cls(mean=mean, std=std, color=data.get("color", COLOR), pixel_range=tuple(pixel_range))  # type: ignore[arg-type]


def is_number(value: Any) -> bool:
    """A finite int or float (numpy scalars too), never a bool or a numeric string."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _three_numbers(data: dict[str, Any], key: str) -> tuple[float, float, float]:
    values = data.get(key)
    if not isinstance(values, list | tuple) or len(values) != 3 or not all(is_number(v) for v in values):
        raise ValueError(f"normalization {key} must be three numbers (one per RGB channel), got {values!r}")
    return tuple(float(v) for v in values)  # type: ignore[return-value]


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

    def __post_init__(self) -> None:
        try:
            integer = np.issubdtype(np.dtype(self.dtype), np.integer)
        except TypeError:
            integer = False
        if not integer:
            raise ValueError(f"quantization dtype {self.dtype!r} is not an integer type (int8, uint8, ...)")
        if not (is_number(self.scale) and self.scale > 0):
            raise ValueError(f"quantization scale must be a positive number, got {self.scale!r}")
        lo, hi = self.limits
        integral = isinstance(self.zero_point, numbers.Integral) and not isinstance(self.zero_point, bool)
        if not integral or not lo <= self.zero_point <= hi:
            raise ValueError(f"quantization zero_point must be an integer in [{lo}, {hi}] for {self.dtype}, "
                             f"got {self.zero_point!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> QuantParams | None:
        """None for a float tensor (null, or no/zero scale); ValueError names a malformed key."""
        if data is None:
            return None
        if not isinstance(data, dict):
            raise TypeError(f"quantization must be null or an object with scale, zero_point, dtype; got {data!r}")
        if not data.get("scale"):
            return None
        if "zero_point" not in data:
            raise ValueError(f"zero_point is missing (an entry needs scale, zero_point and dtype), got {data}")
        return cls(scale=data["scale"], zero_point=data["zero_point"], dtype=str(data.get("dtype", "int8")))

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
