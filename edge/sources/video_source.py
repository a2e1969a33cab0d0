"""``video:PATH``: frames of a video file through OpenCV, optionally looped and paced.

``?fps=`` paces delivery so a recorded clip behaves like a live camera (the daemon's fps cap and
watchdog then see realistic timing); ``?loop=1`` rewinds at the end for soak runs. Built with
``pace=False`` (offline analysis) it never waits: every frame is decoded as fast as this CPU can,
none is dropped, and the timestamps still come from the clip.

Timestamps follow the clip, not this CPU: ``ts`` is the wall-clock time of the first frame plus
the frame's media time (``CAP_PROP_POS_MSEC``; when the container gives 0 or nothing, frame number
/ fps). Each loop pass continues the timeline one frame period after the previous pass's last
frame, so ``ts`` keeps rising. After a reopen the watchdog calls
:meth:`VideoFileSource.resume_after`: the clip continues after the last frame handed out, on the
same timeline, instead of starting again.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
from auedge.edge.sources.base import Frame, FrameSource, Pacer, ReplayClock, SourceError

# FFmpeg prints its own line for a file it cannot read ("moov atom not found") beside the one
# SourceError line that names the file and the fix; quiet unless the user sets the level. OpenCV
# reads the variable when a capture opens, so setting it here (before any) is enough.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class VideoFileSource(FrameSource):
    live = False

    def __init__(self, path: str | Path, loop: bool = False, fps: float = 0.0, pace: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        self.loop = loop
        self._pacer = Pacer(fps, pace)
        self.pace_period_s = self._pacer.period
        self._capture = None
        self._clip_fps = 0.0
        self._position = -1  # frame number (within this pass) of the last frame grabbed
        self._offset_s = 0.0  # media time of the earlier loop passes
        self._last_media_s = 0.0
        self._clock = ReplayClock()
        self._first = None  # the frame open() decoded, until read() hands it out

    def open(self) -> None:
        """Open the clip and decode its first frame (kept for the first ``read``).

        Why decode here: OpenCV "opens" some files that are not videos (a text file named
        ``.mjpeg``, a stream with no decodable frame) and then reads nothing, which ran the daemon
        to a clean "stopped: 0 frames" and exit 0. Failing here makes it a start-up error (exit 2).
        """
        if not self.path.is_file():
            what = "is a folder" if self.path.is_dir() else "does not exist"
            raise SourceError(f"video source: {self.path} {what}: pass video:PATH to an existing video file")
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"video source: OpenCV cannot open {self.path}: is it a video file (mp4, avi, mkv)?")
        ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise SourceError(f"video source: {self.path} has no frame OpenCV can decode: is it a video file "
                              "(mp4, avi, mkv), complete and in a codec this OpenCV build has?")
        self._first = first
        fps = capture.get(cv2.CAP_PROP_FPS)
        self._clip_fps = fps if math.isfinite(fps) and fps > 0 else 0.0
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)  # the container's word: some lie, so progress only
        self.frame_count = int(count) if math.isfinite(count) and count > 0 and not self.loop else None
        self._capture = capture
        self._position, self._offset_s, self._last_media_s = -1, 0.0, 0.0
        self._clock = ReplayClock()
        super().open()

    def _frame_period(self) -> float:
        """The clip's frame period; without an fps in the container, the pacer's, else nominal."""
        if self._clip_fps:
            return 1.0 / self._clip_fps
        return self._pacer.clock_period

    def _media_s(self) -> float:
        """Media time of the frame just grabbed: the container's timestamp, else its number / fps."""
        ms = self._capture.get(cv2.CAP_PROP_POS_MSEC)
        if math.isfinite(ms) and ms > 0:
            return ms / 1000.0
        return max(self._position, 0) * self._frame_period()

    def _grab(self):
        if self._first is not None:
            bgr, self._first = self._first, None
        else:
            ok, bgr = self._capture.read()
            if not ok or bgr is None:
                return None
        self._position += 1
        return bgr

    def _rewind(self) -> None:
        """Start the next loop pass one frame period after this pass's last frame."""
        self._offset_s += self._last_media_s + self._frame_period()
        # Rewinding by seek is unreliable for some containers; reopening always works.
        self._capture.release()
        self._capture = cv2.VideoCapture(str(self.path))
        self._position, self._last_media_s = -1, 0.0

    def resume_after(self, last: Frame) -> bool:
        """Skip to just after ``last`` (grabbing, not seeking: see ``_rewind``) and continue its timeline."""
        if last.position is None or self._capture is None:
            return False
        media_s = 0.0
        if self._first is not None:  # open() has already taken frame 0 from the capture
            self._first, self._position = None, 0
            media_s = self._media_s()
        while self._position < last.position and self._capture.grab():
            self._position += 1  # a file that got shorter leaves us at its end: read() then ends or loops
            media_s = self._media_s()
        self._last_media_s = media_s
        if last.media_s is not None:  # earlier loop passes: media time goes on where it was
            self._offset_s = max(0.0, last.media_s - media_s)
        self._clock.anchor(last.ts, self._offset_s + media_s)
        return True

    def read(self) -> Frame | None:
        if self._capture is None:
            raise SourceError("video source: read() before open()")
        self._pacer.wait()
        bgr = self._grab()
        if bgr is None and self.loop:
            self._rewind()
            bgr = self._grab()
        if bgr is None:
            return None
        self._last_media_s = self._media_s()
        media_s = self._offset_s + self._last_media_s
        frame = Frame.from_bgr(bgr, self._take_index(), ts=self._clock.ts(media_s), position=self._position)
        frame.media_s = media_s
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self._first = None
        super().close()
