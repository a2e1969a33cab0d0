"""``images:DIR``: the image files of one folder, sorted by name, as frames.

Used for replaying captured stills through the daemon and for tests. A file that does not decode
is yielded as a bad frame (counted by the daemon) rather than stopping the run: on a device one
truncated JPEG must not take the service down.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
from auedge.edge.sources.base import Frame, FrameSource, Pacer, SourceError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm"}


def decode_image_file(path: Path) -> np.ndarray | None:
    """RGB uint8 pixels of ``path``, or None when it is not a decodable image (any reason)."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3 or image.shape[2] != 3:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class ImageFolderSource(FrameSource):
    """Frames from the image files of ``folder`` (by suffix, sorted); ``loop`` restarts at the end."""

    live = False

    def __init__(self, folder: str | Path, loop: bool = False, fps: float = 0.0) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.loop = loop
        self._pacer = Pacer(fps)
        self._files: list[Path] = []
        self._position = 0

    def open(self) -> None:
        if not self.folder.is_dir():
            raise SourceError(f"images source: {self.folder} is not a folder: pass images:DIR with an existing folder")
        self._files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self._files:
            suffixes = " ".join(sorted(IMAGE_SUFFIXES))
            raise SourceError(f"images source: no image files in {self.folder} (looked for {suffixes})")
        self._position = 0
        super().open()

    def read(self) -> Frame | None:
        if not self.is_open:
            raise SourceError("images source: read() before open()")
        if self._position >= len(self._files):
            if not self.loop:
                return None
            self._position = 0
        path = self._files[self._position]
        self._position += 1
        self._pacer.wait()
        image = decode_image_file(path)
        index = self._take_index()
        if image is None:
            return Frame.bad_frame(index, f"cannot decode {path.name}")
        return Frame(image=image, ts=time.time(), index=index, meta={"file": path.name})
