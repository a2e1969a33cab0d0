"""``video:PATH``: frames of a video file through OpenCV, optionally looped and paced.

``?fps=`` paces delivery so a recorded clip behaves like a live camera (the daemon's fps cap and
watchdog then see realistic timing); ``?loop=1`` rewinds at the end for soak runs.
"""

from __future__ import annotations

from pathlib import Path

import cv2
from auedge.edge.sources.base import Frame, FrameSource, Pacer, SourceError


class VideoFileSource(FrameSource):
    live = False

    def __init__(self, path: str | Path, loop: bool = False, fps: float = 0.0) -> None:
        super().__init__()
        self.path = Path(path)
        self.loop = loop
        self._pacer = Pacer(fps)
        self._capture = None

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"video source: {self.path} does not exist: pass video:PATH to an existing file")
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"video source: OpenCV cannot open {self.path}: is it a video file (mp4, avi, mkv)?")
        self._capture = capture
        super().open()

    def _grab(self):
        ok, bgr = self._capture.read()
        return bgr if ok and bgr is not None else None

    def read(self) -> Frame | None:
        if self._capture is None:
            raise SourceError("video source: read() before open()")
        self._pacer.wait()
        bgr = self._grab()
        if bgr is None and self.loop:
            # Rewinding by seek is unreliable for some containers; reopening always works.
            self._capture.release()
            self._capture = cv2.VideoCapture(str(self.path))
            bgr = self._grab()
        if bgr is None:
            return None
        return Frame.from_bgr(bgr, self._take_index())

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        super().close()
