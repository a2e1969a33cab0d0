"""Decode image files to RGB uint8 arrays, with one clear error for anything unreadable.

OpenCV decodes (fast, honours EXIF orientation); Pillow is the fallback for formats an OpenCV
build lacks. ``np.fromfile`` + ``imdecode`` instead of ``imread`` so non-ASCII paths work too.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class ImageReadError(ValueError):
    """An image file that cannot be decoded; the message names the file."""


def _decode_with_pillow(path: Path) -> np.ndarray | None:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def decode_image_bytes(data: bytes, what: str = "image") -> np.ndarray:
    """Encoded bytes (JPEG, PNG, ...) -> RGB uint8 (H, W, 3)."""
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR) if data else None
    if bgr is None or bgr.size == 0:
        raise ImageReadError(f"{what} could not be decoded (corrupt or not an image)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3); grey and RGBA files are converted."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"cannot read image {path}: {exc.strerror or exc}") from exc
    if not data:
        raise ImageReadError(f"image {path} is empty")
    try:
        return decode_image_bytes(data, what=f"image {path}")
    except ImageReadError:
        rgb = _decode_with_pillow(path)
        if rgb is None or rgb.ndim != 3 or rgb.size == 0:
            raise ImageReadError(f"image {path} could not be decoded (corrupt, truncated or not an image)") from None
        return np.ascontiguousarray(rgb)
