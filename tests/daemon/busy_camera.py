"""A fake camera whose ``read()`` is inside OpenCV when the daemon stops (issue 38's exit abort, made likely).

scripts/arm64-check.sh saw ``au-edge daemon`` on picamera2's YUV420 lores stream log "stopped: ..." and
then die with SIGABRT ("terminate called without an active exception"): under qemu the reader thread
spends most of its time in ``cv2.cvtColor``, which releases the GIL, and it was still there when the
interpreter finalised. Here every ``read()`` converts a YUV420 frame for ``convert_s``, so the reader is
almost always inside OpenCV, whenever the daemon stops.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from auedge.edge.sources.base import Frame, FrameSource


class BusyCamera(FrameSource):
    """A live source whose every frame takes ``convert_s`` of I420 -> RGB conversion (GIL released)."""

    live = True
    uri = "busy-camera"

    def __init__(self, convert_s: float = 0.3, size: tuple[int, int] = (640, 480)) -> None:
        super().__init__()
        self.convert_s = convert_s
        width, height = size
        self._yuv = np.full((height * 3 // 2, width), 128, np.uint8)

    def read(self) -> Frame | None:
        end = time.monotonic() + self.convert_s
        rgb = cv2.cvtColor(self._yuv, cv2.COLOR_YUV420p2RGB)
        while time.monotonic() < end:
            rgb = cv2.cvtColor(self._yuv, cv2.COLOR_YUV420p2RGB)
        return Frame(image=rgb, ts=time.time(), index=self._take_index())
