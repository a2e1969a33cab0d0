"""The one frame-source interface: every camera, video or image folder looks the same to the daemon.

Why one small interface: the daemon, the watchdog and the tests only ever call ``open``, ``read``
and ``close``, so a new camera stack is one new file, and a fake source in a test exercises the
same code paths as a Raspberry Pi camera.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


class SourceError(RuntimeError):
    """A source that cannot deliver frames (missing camera, unreadable file, device gone).

    The message names the source and the fix. The daemon's watchdog treats it as "reopen with
    back-off"; at start-up it is reported as one line and a non-zero exit.
    """


@dataclass
class Frame:
    """One frame: RGB uint8 ``(H, W, 3)`` pixels, wall-clock timestamp and a running index.

    A frame that could not be decoded is still yielded, with ``image=None`` and ``bad=True``, so
    that it is counted (bad_frames_total) instead of silently vanishing or crashing the loop.
    """

    image: np.ndarray | None
    ts: float
    index: int
    bad: bool = False
    error: str = ""
    meta: dict = field(default_factory=dict)

    @classmethod
    def bad_frame(cls, index: int, error: str, ts: float | None = None) -> Frame:
        return cls(image=None, ts=time.time() if ts is None else ts, index=index, bad=True, error=error)

    @classmethod
    def from_bgr(cls, bgr: np.ndarray, index: int) -> Frame:
        """An OpenCV capture's BGR image as an RGB frame (a bad frame when it is not 3-channel)."""
        import cv2

        if bgr.ndim != 3 or bgr.shape[2] != 3:
            return cls.bad_frame(index, f"unexpected frame shape {bgr.shape}")
        return cls(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), ts=time.time(), index=index)


class FrameSource:
    """Base class: ``open()``, ``read() -> Frame | None``, ``close()``, usable as a context manager.

    ``read`` returns ``None`` only at the end of a finite stream (video without loop, image folder
    done); a live source that fails raises :class:`SourceError`. ``live`` tells the daemon whether
    frames may be dropped when inference is slower than the source (cameras) or must all be
    processed (files). Sources can be closed and opened again: that is how the watchdog recovers.
    """

    live: bool = False
    uri: str = ""

    def __init__(self) -> None:
        self._next_index = 0
        self.is_open = False

    def open(self) -> None:
        self.is_open = True

    def read(self) -> Frame | None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        self.is_open = False

    def _take_index(self) -> int:
        """Indices keep counting across reopen, so records stay unique per daemon run."""
        index = self._next_index
        self._next_index += 1
        return index

    def __enter__(self):  # returns self (typing.Self needs Python 3.11)
        if not self.is_open:
            self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"


class Pacer:
    """Spaces reads to a given rate (``?fps=`` on file sources), so a video plays like a camera."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps if fps and fps > 0 else 0.0
        self._next = 0.0

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
            now = self._next
        self._next = now + self.period
