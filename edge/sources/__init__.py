"""Frame sources chosen by a URI-like string: ``open_source("video:clip.mp4?loop=1")``.

Forms (see :data:`URI_FORMS`)::

    picamera2[:N][?size=640x480&fps=10]     Raspberry Pi camera via libcamera (python3-picamera2)
    camera:N[?size=640x480&fps=30]          OpenCV VideoCapture device index (USB webcam)
    video:path.mp4[?loop=1&fps=10]          a video file, optionally looped / paced (fps: also the clock
                                            when the container gives no rate)
    images:dir/[?loop=1&fps=5&max_pixels=N] the image files of a folder, sorted by name; an image over
                                            N pixels (default 50 MP, 0 = no limit) is a bad frame, not decoded

Each form maps to one small module; heavy imports (picamera2) happen only when that form is used.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qs

from auedge.edge.sources.base import Frame, FrameSource, Pacer, SourceError

URI_FORMS = (
    "picamera2[:N][?size=WxH&lores=1&fps=F]",
    "camera:N[?size=WxH&fps=F]",
    "video:PATH[?loop=1&fps=F]",
    "images:DIR[?loop=1&fps=F&max_pixels=N]",
)

__all__ = [
    "URI_FORMS",
    "Frame",
    "FrameSource",
    "Pacer",
    "SourceError",
    "make_source",
    "open_source",
    "parse_source_uri",
]


def _bad_uri(uri: str, why: str) -> ValueError:
    forms = ", ".join(URI_FORMS)
    return ValueError(f"bad source {uri!r}: {why}; use one of: {forms}")


def parse_source_uri(uri: str) -> tuple[str, str, dict[str, str]]:
    """Split ``scheme:target?k=v`` into its parts; raise ValueError listing the valid forms."""
    if not isinstance(uri, str) or not uri.strip():
        raise _bad_uri(str(uri), "empty")
    text = uri.strip()
    scheme, _, rest = text.partition(":")
    target, _, query = rest.partition("?")
    if "?" in scheme:  # "picamera2?size=..." without a colon
        scheme, _, query = scheme.partition("?")
    options: dict[str, str] = {}
    for key, values in parse_qs(query, keep_blank_values=True, strict_parsing=False).items():
        options[key] = values[-1]
    if scheme not in {"picamera2", "camera", "video", "images"}:
        raise _bad_uri(uri, f"unknown kind {scheme!r}")
    if scheme in {"video", "images"} and not target:
        raise _bad_uri(uri, f"{scheme}: needs a path")
    if scheme == "camera" and not target.isdigit():
        raise _bad_uri(uri, "camera: needs a device index such as camera:0")
    if scheme == "picamera2" and target and not target.isdigit():
        raise _bad_uri(uri, "picamera2: takes an optional camera number such as picamera2:0")
    known = {"picamera2": {"size", "lores", "main_size", "fps"}, "camera": {"size", "fps"},
             "video": {"loop", "fps"}, "images": {"loop", "fps", "max_pixels"}}[scheme]
    unknown = sorted(set(options) - known)
    if unknown:
        raise _bad_uri(uri, f"unknown option(s) {', '.join(unknown)} for {scheme}: (valid: {', '.join(sorted(known))})")
    return scheme, target, options


def _flag(options: dict[str, str], key: str, uri: str) -> bool:
    value = options.get(key, "0").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise _bad_uri(uri, f"{key}= must be 0 or 1 (got {value!r})")


def _number(options: dict[str, str], key: str, uri: str, default: float = 0.0) -> float:
    try:
        value = float(options.get(key, default))
    except ValueError:
        raise _bad_uri(uri, f"{key}= must be a number (got {options[key]!r})") from None
    if not math.isfinite(value) or value < 0:  # NaN passes `value < 0`
        raise _bad_uri(uri, f"{key}= must be a finite number >= 0 (got {options[key]!r})")
    return value


def parse_size(text: str | None, uri: str, default: tuple[int, int]) -> tuple[int, int]:
    """``"640x480"`` -> ``(640, 480)`` (width, height)."""
    if not text:
        return default
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise _bad_uri(uri, f"size= must look like 640x480 (got {text!r})") from None
    if width <= 0 or height <= 0:
        raise _bad_uri(uri, "size= must be positive")
    return width, height


def make_source(uri: str, pace: bool = True) -> FrameSource:
    """Build the (not yet opened) source for ``uri``. Raises ValueError for a bad URI.

    ``pace=False``: a file source never waits between reads (offline analysis reads as fast as
    decoding allows); its ``?fps=`` then only sets the clock its frames are stamped with.
    """
    source = _build(uri, pace)
    source.uri = uri
    return source


def _build(uri: str, pace: bool = True) -> FrameSource:
    scheme, target, options = parse_source_uri(uri)
    if scheme == "images":
        from auedge.edge.images_io import DEFAULT_MAX_PIXELS
        from auedge.edge.sources.images_source import ImageFolderSource

        max_pixels = int(_number(options, "max_pixels", uri, DEFAULT_MAX_PIXELS))
        return ImageFolderSource(target, loop=_flag(options, "loop", uri), fps=_number(options, "fps", uri),
                                 max_pixels=max_pixels, pace=pace)
    if scheme == "video":
        from auedge.edge.sources.video_source import VideoFileSource

        return VideoFileSource(target, loop=_flag(options, "loop", uri), fps=_number(options, "fps", uri), pace=pace)
    if scheme == "camera":
        from auedge.edge.sources.opencv_camera_source import OpenCVCameraSource

        size = parse_size(options.get("size"), uri, (640, 480))
        return OpenCVCameraSource(int(target), size=size, fps=_number(options, "fps", uri))
    from auedge.edge.sources.picamera2_source import Picamera2Source

    return Picamera2Source(
        camera_num=int(target or 0),
        size=parse_size(options.get("size"), uri, (640, 480)),
        lores=_flag(options, "lores", uri),
        main_size=parse_size(options.get("main_size"), uri, (1280, 960)),
        fps=_number(options, "fps", uri),
    )


def open_source(uri: str) -> FrameSource:
    """Build and open the source for ``uri``; use it as a context manager to close it."""
    source = make_source(uri)
    source.open()
    return source
