"""``camera:N``: a V4L2/USB camera through OpenCV's VideoCapture (webcams, non-Pi boards).

A camera that cannot be opened or stops returning frames raises :class:`SourceError` with the
device named, so the daemon's watchdog can reopen it (USB cameras do drop off the bus).
"""

from __future__ import annotations

import cv2
from auedge.edge.sources.base import Frame, FrameSource, SourceError


class OpenCVCameraSource(FrameSource):
    live = True

    def __init__(self, index: int, size: tuple[int, int] = (640, 480), fps: float = 0.0) -> None:
        super().__init__()
        self.index = index
        self.size = size
        self.fps = fps
        self._capture = None

    def open(self) -> None:
        capture = cv2.VideoCapture(self.index)
        if not capture.isOpened():
            capture.release()
            raise SourceError(
                f"camera:{self.index}: no camera at index {self.index}: check it is connected (ls /dev/video*), "
                "not used by another process, and that the user is in the 'video' group"
            )
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        if self.fps:
            capture.set(cv2.CAP_PROP_FPS, self.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a stale backlog
        self._capture = capture
        super().open()

    def read(self) -> Frame | None:
        if self._capture is None:
            raise SourceError(f"camera:{self.index}: read() before open()")
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            raise SourceError(f"camera:{self.index}: the camera stopped delivering frames (unplugged?)")
        return Frame.from_bgr(bgr, self._take_index())

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        super().close()
