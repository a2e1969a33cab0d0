"""``picamera2[:N]``: the Raspberry Pi camera through libcamera's picamera2 (Raspberry Pi OS).

picamera2 is not a pip-only package: it needs libcamera's Python bindings from the OS, hence
``sudo apt install python3-picamera2`` and a venv made with ``--system-site-packages``. It is
imported lazily so that every other source works without it.

Inference wants a small frame, so by default the ``main`` stream is configured at 640x480 in
``RGB888`` (which libcamera lays out as B,G,R bytes: we flip it to RGB). With ``?lores=1`` the main
stream is left larger (``main_size``) and the YUV420 ``lores`` stream, which the ISP scales for
free, is converted to RGB instead; keep its width a multiple of 64 to avoid stride padding.
picamera2 is known to stall after hours on some set-ups: the daemon's watchdog closes and
reopens this source when that happens.
"""

from __future__ import annotations

import time

import numpy as np
from auedge.edge.sources.base import Frame, FrameSource, SourceError

MISSING_MESSAGE = (
    "picamera2 is not installed: on Raspberry Pi OS run sudo apt install python3-picamera2 "
    "and use a venv with --system-site-packages"
)


def import_picamera2():
    """The Picamera2 class, or SourceError with the install instructions."""
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        raise SourceError(f"{MISSING_MESSAGE} ({exc})") from None
    return Picamera2


def yuv420_to_rgb(yuv: np.ndarray, width: int) -> np.ndarray:
    """I420 planar ``(H*3/2, W)`` array -> RGB ``(H, W, 3)``; drops stride padding past ``width``."""
    import cv2

    rgb = cv2.cvtColor(np.ascontiguousarray(yuv), cv2.COLOR_YUV420p2RGB)
    return rgb[:, :width]


def bgr_bytes_to_rgb(array: np.ndarray) -> np.ndarray:
    """picamera2's ``RGB888`` is stored B,G,R per pixel; drop an alpha/pad channel if present."""
    return np.ascontiguousarray(array[..., 2::-1])


class Picamera2Source(FrameSource):
    live = True

    def __init__(
        self,
        camera_num: int = 0,
        size: tuple[int, int] = (640, 480),
        lores: bool = False,
        main_size: tuple[int, int] = (1280, 960),
        fps: float = 0.0,
    ) -> None:
        super().__init__()
        self.camera_num = camera_num
        self.size = size
        self.lores = lores
        self.main_size = main_size
        self.fps = fps  # sensor frame rate; 0 = the camera's default (frames beyond the cap are dropped)
        self._camera = None

    def open(self) -> None:
        picamera2_class = import_picamera2()
        try:
            camera = picamera2_class(self.camera_num)
        except (IndexError, RuntimeError) as exc:
            raise SourceError(
                f"picamera2:{self.camera_num}: no camera {self.camera_num} ({exc}): check the ribbon cable "
                "and that `rpicam-hello --list-cameras` lists it"
            ) from None
        controls = {"FrameRate": float(self.fps)} if self.fps else {}
        try:
            if self.lores:
                config = camera.create_video_configuration(
                    main={"size": self.main_size, "format": "RGB888"},
                    lores={"size": self.size, "format": "YUV420"},
                    buffer_count=4,
                    controls=controls,
                )
            else:
                config = camera.create_video_configuration(
                    main={"size": self.size, "format": "RGB888"}, buffer_count=4, controls=controls)
            camera.configure(config)
            camera.start()
        except Exception as exc:  # noqa: BLE001 - any camera failure means "reopen"
            camera.close()
            raise SourceError(f"picamera2:{self.camera_num}: cannot start the camera: {exc}") from None
        self._camera = camera
        super().open()

    def read(self) -> Frame | None:
        if self._camera is None:
            raise SourceError(f"picamera2:{self.camera_num}: read() before open()")
        try:
            array = self._camera.capture_array("lores" if self.lores else "main")
        except Exception as exc:  # noqa: BLE001 - any camera failure means "reopen"
            raise SourceError(f"picamera2:{self.camera_num}: capture failed: {exc}") from None
        ts = time.time()
        index = self._take_index()
        try:
            image = yuv420_to_rgb(array, self.size[0]) if self.lores else bgr_bytes_to_rgb(array)
        except Exception as exc:  # noqa: BLE001 - a mangled buffer is a bad frame, not a dead camera
            return Frame.bad_frame(index, f"cannot convert camera buffer: {exc}", ts)
        return Frame(image=image, ts=ts, index=index)

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            for step in (camera.stop, camera.close):
                try:
                    step()
                except Exception:  # noqa: BLE001, S110 - a stalled camera may fail to close; we reopen anyway
                    pass
        super().close()
