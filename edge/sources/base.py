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


NOMINAL_FPS = 10.0  # the clock of a clip that says nothing about its rate (the daemon's default target_fps)


@dataclass
class Frame:
    """One frame: RGB uint8 ``(H, W, 3)`` pixels, a timestamp in seconds and a running index.

    ``ts`` is wall-clock time for cameras; file sources put it on the clip's own timeline (see
    :class:`ReplayClock`) so that smoothing does not depend on how fast this CPU decodes.
    ``position`` is where a file source is (image number, or video frame number within the current
    pass); None for cameras. The watchdog resumes a reopened file source after it.
    ``media_s`` is the frame's time on the clip's own clock, from its first frame (file sources;
    None for cameras): what offline analysis writes as the timestamp.

    A frame that could not be decoded is still yielded, with ``image=None`` and ``bad=True``, so
    that it is counted (bad_frames_total) instead of silently vanishing or crashing the loop.
    """

    image: np.ndarray | None
    ts: float
    index: int
    bad: bool = False
    error: str = ""
    meta: dict = field(default_factory=dict)
    position: int | None = None
    media_s: float | None = None

    @classmethod
    def bad_frame(cls, index: int, error: str, ts: float | None = None, position: int | None = None) -> Frame:
        return cls(image=None, ts=time.time() if ts is None else ts, index=index, bad=True, error=error,
                   position=position)

    @classmethod
    def from_bgr(cls, bgr: np.ndarray, index: int, ts: float | None = None, position: int | None = None) -> Frame:
        """An OpenCV capture's BGR image as an RGB frame (a bad frame when it is not 3-channel)."""
        import cv2

        ts = time.time() if ts is None else ts
        if bgr.ndim != 3 or bgr.shape[2] != 3:
            return cls.bad_frame(index, f"unexpected frame shape {bgr.shape}", ts, position)
        return cls(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), ts=ts, index=index, position=position)


class FrameSource:
    """Base class: ``open()``, ``read() -> Frame | None``, ``close()``, usable as a context manager.

    ``read`` returns ``None`` only at the end of a finite stream (video without loop, image folder
    done); a live source that fails raises :class:`SourceError`. ``live`` tells the daemon whether
    frames may be dropped when inference is slower than the source (cameras) or must all be
    processed (files). The watchdog recovers from a failure by opening a fresh instance and, for
    a file source, calling :meth:`resume_after` so it continues instead of replaying from the start.
    ``pace_period_s`` is how long ``read`` may wait on purpose (``?fps=`` pacing): not a stall.
    ``frame_count`` is how many frames a finite source will give when it can tell (a video's
    container, a folder's files), else None: for progress, never for stopping.
    """

    live: bool = False
    uri: str = ""
    pace_period_s: float = 0.0
    frame_count: int | None = None

    def __init__(self) -> None:
        self._next_index = 0
        self.is_open = False

    def open(self) -> None:
        self.is_open = True

    def read(self) -> Frame | None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        self.is_open = False

    def resume_after(self, last: Frame) -> bool:
        """Continue just after ``last`` (a frame of an earlier instance); False when not supported.

        Called by the watchdog on a freshly opened non-live source. A file source must resume
        rather than rewind, or a reopen would replay the clip from its start (and keep doing so).
        """
        return False

    def _take_index(self) -> int:
        """This instance's running count (it restarts with a new instance, e.g. after a reopen).

        It numbers frames when a source is used on its own; in the daemon the
        :class:`~auedge.edge.watchdog.SourceSupervisor` renumbers every frame it hands out from one
        counter that survives reopens, so ``frame`` in records, SSE ids and MQTT de-dup keep rising.
        """
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


class ReplayClock:
    """Timestamps on a clip's own timeline: the wall-clock time of its first frame + media time.

    Why: a clip decoded faster (or slower) than real time would otherwise get timestamps set by
    this CPU's speed, and the One-Euro smoothing, which uses time differences, would change with it.
    """

    def __init__(self) -> None:
        self.origin: float | None = None

    def ts(self, media_s: float) -> float:
        if self.origin is None:
            self.origin = time.time() - media_s
        return self.origin + media_s

    def anchor(self, ts: float, media_s: float) -> None:
        """Make ``media_s`` fall at ``ts`` (a resumed source continues the earlier timeline)."""
        self.origin = ts - media_s


class Pacer:
    """Spaces reads to a given rate (``?fps=`` on file sources), so a video plays like a camera.

    ``pace=False`` is the offline mode (``au-edge analyze``, :func:`auedge.edge.stream`):
    reads are never delayed, while ``?fps=`` still names the clock that stills, or a video whose
    container gives no rate, are stamped with.
    """

    def __init__(self, fps: float, pace: bool = True) -> None:
        self.rate_period = 1.0 / fps if fps and fps > 0 else 0.0
        self.period = self.rate_period if pace else 0.0  # how long wait() spaces reads
        self._next = 0.0

    @property
    def clock_period(self) -> float:
        """The period a replay is stamped with when nothing better is known: ``?fps=``'s, else nominal."""
        return self.rate_period or 1.0 / NOMINAL_FPS

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
            now = self._next
        self._next = now + self.period
