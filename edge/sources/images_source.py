"""``images:DIR``: the image files of one folder, sorted by name, as frames.

Used for replaying captured stills through the daemon and for tests. A file that does not decode
is yielded as a bad frame (counted by the daemon) rather than stopping the run: on a device one
truncated JPEG must not take the service down.

Timestamps: stills have no time of their own, so frame ``n`` of a replay is stamped
``t0 + n * period``, where ``t0`` is the wall-clock time of the first frame and ``period`` is the
``?fps=``'s (also when built with ``pace=False``, which never waits) or, without it, ``1 / NOMINAL_FPS`` (10 fps, the daemon's default rate). The record
``ts`` and the smoothing then depend on the folder, not on how fast this CPU decodes. After a
reopen the watchdog calls :meth:`ImageFolderSource.resume_after`: the next file and the next tick.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from auedge.edge.images_io import DEFAULT_MAX_PIXELS, ImageReadError, check_pixel_limit
from auedge.edge.os_errors import describe_os_error
from auedge.edge.sources.base import Frame, FrameSource, Pacer, ReplayClock, SourceError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm"}


def decode_image_file(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray | None:
    """RGB uint8 pixels of ``path``, or None when its bytes are not a decodable image.

    A file that cannot be *read* raises OSError instead: out of file descriptors (EMFILE) or an
    I/O error is not a corrupt image, and the log line must say which it was. An image whose
    header gives more than ``max_pixels`` pixels raises ImageTooLargeError, undecoded.
    """
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        return None
    check_pixel_limit(data, path.name, max_pixels, "images:DIR?max_pixels=N")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3 or image.shape[2] != 3:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class ImageFolderSource(FrameSource):
    """Frames from the image files of ``folder`` (by suffix, sorted); ``loop`` restarts at the end."""

    live = False

    def __init__(self, folder: str | Path, loop: bool = False, fps: float = 0.0,
                 max_pixels: int = DEFAULT_MAX_PIXELS, pace: bool = True) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.loop = loop
        self.max_pixels = max_pixels  # larger images are bad frames, never decoded (0 = no limit)
        self._pacer = Pacer(fps, pace)
        self.pace_period_s = self._pacer.period
        self._period = self._pacer.clock_period
        self._files: list[Path] = []
        self._position = 0
        self._tick = 0  # frames stamped on the current timeline (keeps counting when looping)
        self._clock = ReplayClock()

    def open(self) -> None:
        if not self.folder.is_dir():
            raise SourceError(f"images source: {self.folder} is not a folder: pass images:DIR with an existing folder")
        self._files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self._files:
            suffixes = " ".join(sorted(IMAGE_SUFFIXES))
            raise SourceError(f"images source: no image files in {self.folder} (looked for {suffixes})")
        self._position = 0
        self._tick = 0
        self._clock = ReplayClock()
        self.frame_count = None if self.loop else len(self._files)
        super().open()

    def resume_after(self, last: Frame) -> bool:
        """Continue with the file after ``last`` and one period after its timestamp."""
        if last.position is None:
            return False
        self._position = last.position + 1  # past the end: read() loops or ends as usual
        ticks = round(last.media_s / self._period) if last.media_s is not None else 0
        self._clock.anchor(last.ts, ticks * self._period)
        self._tick = ticks + 1  # the tick after ``last``'s: media time goes on where it was
        return True

    def _next_ts(self) -> tuple[float, float]:
        """This frame's timestamp and its media time (seconds on the folder's own clock)."""
        media_s = self._tick * self._period
        self._tick += 1
        return self._clock.ts(media_s), media_s

    def read(self) -> Frame | None:
        if not self.is_open:
            raise SourceError("images source: read() before open()")
        if self._position >= len(self._files):
            if not self.loop:
                return None
            self._position = 0
        position = self._position
        path = self._files[position]
        self._position += 1
        self._pacer.wait()
        try:
            image, error = decode_image_file(path, self.max_pixels), f"cannot decode {path.name}"
        except OSError as exc:
            image, error = None, f"cannot read {path.name}: {describe_os_error(exc)}"
        except ImageReadError as exc:  # over the pixel limit
            image, error = None, str(exc)
        index, (ts, media_s) = self._take_index(), self._next_ts()
        if image is None:
            frame = Frame.bad_frame(index, error, ts, position)
            frame.media_s = media_s
            return frame
        return Frame(image=image, ts=ts, index=index, meta={"file": path.name}, position=position, media_s=media_s)
