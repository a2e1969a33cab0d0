"""Fakes for the daemon tests: an estimator with the real ``estimate`` signature and scripted sources."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from auedge.edge.results import EstimateResult, FaceResult
from auedge.edge.sources.base import Frame, FrameSource, SourceError


class FakeEstimator:
    """One face whose AU12 is the frame's mean red value / 255, except on frames the caller marks empty.

    A frame whose top-left pixel is (0, 0, 0) has no face, so tests can script "no face" frames.
    """

    def __init__(self) -> None:
        self.calls = 0

    def estimate(self, image_rgb_uint8: np.ndarray) -> EstimateResult:
        self.calls += 1
        h, w = image_rgb_uint8.shape[:2]
        if not image_rgb_uint8[0, 0].any():
            return EstimateResult(faces=[], image_size=(w, h), timings_ms={"detect": 0.5})
        face = FaceResult(box=(w * 0.25, h * 0.25, w * 0.5, h * 0.5), score=0.9,
                          keypoints=[(w * 0.4, h * 0.4), (w * 0.6, h * 0.4)],
                          aus={"AU12": float(image_rgb_uint8[..., 0].mean() / 255.0), "AU4": 0.1},
                          present={"AU12": True}, observable={"AU12": True, "AU4": True},
                          timings_ms={"au": 0.2})
        return EstimateResult(faces=[face], image_size=(w, h), timings_ms={"detect": 0.5, "total": 1.0})


def solid(value: int, size: int = 16) -> np.ndarray:
    return np.full((size, size, 3), value, dtype=np.uint8)


class ScriptedSource(FrameSource):
    """Plays a list of items: an ndarray (frame), "bad", "error" (raise SourceError), "stall" (block)."""

    def __init__(self, items, live: bool = True, index_start: int = 0, release: threading.Event | None = None):
        super().__init__()
        self.items = list(items)
        self.live = live
        self._next_index = index_start
        self.release = release or threading.Event()
        self.closed = threading.Event()

    def read(self):
        if not self.items:
            return None
        item = self.items.pop(0)
        if isinstance(item, str) and item == "error":
            raise SourceError("fake camera unplugged")
        if isinstance(item, str) and item == "stall":
            while not (self.closed.is_set() or self.release.is_set()):
                time.sleep(0.01)
            raise SourceError("fake camera closed while stalled")
        index = self._take_index()
        if isinstance(item, str) and item == "bad":
            return Frame.bad_frame(index, "corrupt")
        return Frame(image=item, ts=time.time(), index=index)

    def close(self):
        self.closed.set()
        super().close()


@pytest.fixture
def fake_estimator() -> FakeEstimator:
    return FakeEstimator()


@pytest.fixture
def scripted_source():
    return ScriptedSource


@pytest.fixture
def solid_image():
    return solid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def port_factory():
    return free_port
