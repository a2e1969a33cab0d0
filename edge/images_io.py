"""Decode image files to RGB uint8 arrays, with one clear error for anything unreadable.

OpenCV decodes (fast, honours EXIF orientation); Pillow is the fallback for formats an OpenCV
build lacks. ``np.fromfile`` + ``imdecode`` instead of ``imread`` so non-ASCII paths work too.

Size limit: a small file can hold a huge image (a 30000x30000 black PNG is 0.9 MB and decoded
took 5.3 GB and 24 s). So the image's size is read from its header first (Pillow's ``open`` is
lazy: it parses the header only) and an image over ``max_pixels`` is refused before any decoding.
A format Pillow cannot parse is left to the decoder (and OpenCV's own limit of 2^30 pixels).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np

# Well above any camera a device carries (a Pi HQ camera is 12 MP, a 64 MP module is the largest)
# and small enough that one decoded image (3 bytes a pixel, twice: BGR then RGB) fits a Pi's memory.
DEFAULT_MAX_PIXELS = 50_000_000


class ImageReadError(ValueError):
    """An image file that cannot be decoded; the message names the file."""


class ImageTooLargeError(ImageReadError):
    """An image whose header gives more pixels than the limit; refused before decoding."""


def header_pixels(data: bytes | np.ndarray) -> tuple[int, str] | None:
    """The pixel count from the encoded image's header, without decoding it, and how to show it
    (``"30000x30000 (900 MP)"``); None when Pillow does not recognise the format (the decoder then
    has its say)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():  # Pillow's own bomb warning would be a second line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
    except Image.DecompressionBombError:  # Pillow stops at twice its MAX_IMAGE_PIXELS, size untold
        bound = 2 * int(Image.MAX_IMAGE_PIXELS or 0)
        return (bound + 1, f"more than {bound / 1e6:.0f} MP") if bound else None
    except Exception:  # noqa: BLE001 - any parse failure means "not known here", never a crash
        return None
    return width * height, f"{width}x{height} ({width * height / 1e6:.3g} MP)"


def check_pixel_limit(data: bytes | np.ndarray, what: str, max_pixels: int, setting: str = "the pixel limit") -> None:
    """Raise :class:`ImageTooLargeError` naming ``what`` when its header gives more than
    ``max_pixels`` pixels (0 = no limit); ``setting`` says where the limit is set."""
    if max_pixels <= 0:
        return
    found = header_pixels(data)
    if found is None or found[0] <= max_pixels:
        return
    raise ImageTooLargeError(f"{what} is {found[1]}, over the limit of {max_pixels / 1e6:g} MP; not decoded: "
                             f"shrink it, or raise {setting}")


def _decode_with_opencv(data: bytes | np.ndarray, what: str) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR) if len(data) else None
    if bgr is None or bgr.size == 0:
        raise ImageReadError(f"{what} could not be decoded (corrupt or not an image)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _decode_with_pillow(path: Path) -> np.ndarray | None:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def decode_image_bytes(data: bytes, what: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Encoded bytes (JPEG, PNG, ...) -> RGB uint8 (H, W, 3); larger than ``max_pixels`` is refused."""
    check_pixel_limit(data, what, max_pixels)
    return _decode_with_opencv(data, what)


def read_image_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, setting: str = "the pixel limit"
                   ) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3); grey and RGBA files are converted.

    An image of more than ``max_pixels`` pixels (0 = no limit) is refused from its header
    (:class:`ImageTooLargeError`, naming ``setting``), before either decoder runs.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"cannot read image {path}: {exc.strerror or exc}") from exc
    if not data:
        raise ImageReadError(f"image {path} is empty")
    check_pixel_limit(data, f"image {path}", max_pixels, setting)
    try:
        return _decode_with_opencv(data, what=f"image {path}")
    except ImageReadError:
        rgb = _decode_with_pillow(path)
        if rgb is None or rgb.ndim != 3 or rgb.size == 0:
            raise ImageReadError(f"image {path} could not be decoded (corrupt, truncated or not an image)") from None
        return np.ascontiguousarray(rgb)
