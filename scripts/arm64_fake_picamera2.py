"""A stand-in for Raspberry Pi OS's ``python3-picamera2``, installed as ``picamera2`` into the arm64 system's
dist-packages by scripts/arm64-check.sh (the Pi archive, and libcamera, cannot be reached from here).

It provides what edge/sources/picamera2_source.py uses, with the real library's frame formats:
``RGB888`` main-stream arrays are (H, W, 3) uint8 laid out B,G,R (libcamera's naming), ``YUV420`` lores
arrays are I420 planar (H*3/2, W) uint8. The frames come from ``AU_EDGE_FAKE_PICAMERA2_FRAMES``, an .npz
made on the host with ``main`` (N, H, W, 3) already in B,G,R order and ``lores`` (N, H*3/2, W), served in
turn at the configured ``FrameRate`` (30 fps if none): like a sensor, ``capture_array`` waits for the next
frame, and frames nobody captured in time are gone. (Served per call instead, a reader that loses a fixed
number of frames per processed one saw the same image every time: 27 calls a frame, 3 images.) Every call is appended to ``AU_EDGE_FAKE_PICAMERA2_LOG`` (JSON lines) so the check can see what the
source asked for.

The real package imports python3-simplejpeg, a C extension Debian built against its own numpy (1.24 on
bookworm); under a numpy 2 that a venv put first, ``import picamera2`` fails with "numpy.dtype size changed"
(raspberrypi/picamera2 issues 1088, 1211). ``AU_EDGE_FAKE_PICAMERA2_NUMPY_MAJOR`` (the system numpy's major
version) makes the fake fail the same way; unset, any numpy goes.
"""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np

CAMERAS = 1
_SYSTEM_NUMPY_MAJOR = os.environ.get("AU_EDGE_FAKE_PICAMERA2_NUMPY_MAJOR")
if _SYSTEM_NUMPY_MAJOR and np.__version__.split(".")[0] != _SYSTEM_NUMPY_MAJOR:
    raise ValueError(  # simplejpeg's words, numpy 1.x headers meeting numpy 2.x
        f"numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from "
        f"PyObject (fake picamera2: built for the system's numpy {_SYSTEM_NUMPY_MAJOR}.x, imported {np.__version__} "
        f"from {np.__file__})"
    )


def _log(call: str, **details: object) -> None:
    path = os.environ.get("AU_EDGE_FAKE_PICAMERA2_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"call": call, "module": __file__, **details}) + "\n")


class Picamera2:
    """One fake camera: configure, start, capture_array, stop, close."""

    def __init__(self, camera_num: int = 0) -> None:
        if not 0 <= camera_num < CAMERAS:
            raise IndexError(f"list index out of range (camera {camera_num} of {CAMERAS})")
        frames = np.load(os.environ["AU_EDGE_FAKE_PICAMERA2_FRAMES"])
        self._frames = {"main": frames["main"], "lores": frames["lores"]}
        self._config: dict | None = None
        self._started = False
        self._started_at = 0.0
        self._last_frame = -1
        _log("init", camera_num=camera_num)

    def create_video_configuration(self, main: dict | None = None, lores: dict | None = None,
                                   buffer_count: int = 6, controls: dict | None = None) -> dict:
        return {"main": dict(main or {}), "lores": dict(lores) if lores else None, "buffer_count": buffer_count,
                "controls": dict(controls or {})}

    def configure(self, config: dict) -> None:
        for stream, fmt in (("main", "RGB888"), ("lores", "YUV420")):
            wanted = config.get(stream)
            if wanted is None:
                continue
            if wanted.get("format") != fmt:
                raise RuntimeError(f"fake picamera2 serves {stream} as {fmt} only, not {wanted.get('format')}")
            height, width = self._frames[stream].shape[1:3]
            if stream == "lores":
                height = height * 2 // 3
            if tuple(wanted["size"]) != (width, height):
                raise RuntimeError(f"fake picamera2 has {stream} frames of {width}x{height}, not {wanted['size']}")
        self._config = config
        _log("configure", config={k: v for k, v in config.items()})

    def start(self) -> None:
        if self._config is None:
            raise RuntimeError("Camera must be configured before start")
        self._started = True
        self._started_at = time.monotonic()
        self._last_frame = -1
        _log("start")

    def capture_array(self, name: str = "main") -> np.ndarray:
        if not self._started:
            raise RuntimeError("Camera is not running")
        if name == "lores" and not (self._config or {}).get("lores"):
            raise RuntimeError("lores stream was not configured")
        stack = self._frames[name]
        period = 1.0 / float((self._config or {}).get("controls", {}).get("FrameRate") or 30.0)
        frame = max(self._last_frame + 1, math.floor((time.monotonic() - self._started_at) / period))
        time.sleep(max(0.0, self._started_at + frame * period - time.monotonic()))
        self._last_frame = frame
        index = frame % len(stack)
        _log("capture_array", stream=name, index=index, frame=frame, shape=list(stack.shape[1:]))
        return stack[index].copy()

    def stop(self) -> None:
        self._started = False
        _log("stop")

    def close(self) -> None:
        _log("close")
