"""Timing and continuity of file sources in the daemon: clip-time timestamps, frame numbers that
survive reopens, a slow paced replay that is not a stall, and a failing file that resumes."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from auedge.edge.daemon import run
from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.results import EstimateResult, FaceResult
from auedge.edge.smoothing import FaceSmoother
from auedge.edge.sources import make_source, open_source
from auedge.edge.sources.base import NOMINAL_FPS, SourceError
from auedge.edge.sources.images_source import ImageFolderSource
from auedge.edge.sources.video_source import VideoFileSource
from daemon_helpers import config, records


def diffs(values: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(values)]


def write_images(folder: Path, values: list[int]) -> Path:
    """Grey PNGs: the fake estimator's AU12 is the grey level / 255, so records say which file it was."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, value in enumerate(values):
        assert cv2.imwrite(str(folder / f"img_{i:02d}.png"), np.full((24, 32, 3), value, np.uint8))
    return folder


def write_video(path: Path, values: list[int], fps: float = 5.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    assert writer.isOpened()
    for value in values:
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    return path


def au12(out: list[dict]) -> list[int]:
    """The grey level of each record's frame (rounded to tens: MJPG shifts it by a few levels)."""
    return [round(r["faces"][0]["aus"]["AU12"] * 255 / 10.0) * 10 for r in out]


# -- bug 1: timestamps follow the clip ------------------------------------------------------------

def test_video_ts_and_smoothing_follow_the_clip_not_the_cpu(tmp_path, fake_estimator):
    values = [60] * 5 + [250] * 5  # a step at frame 5 of a 5 fps clip
    clip = write_video(tmp_path / "clip.avi", values)
    cfg = config(tmp_path, backoff_max_s=0.01, source=f"video:{clip}")
    assert run(cfg, estimator=fake_estimator) == 0
    out = records(cfg)
    assert len(out) == 10
    assert diffs([r["ts"] for r in out]) == pytest.approx([0.2] * 9, abs=2e-3)  # decoded far faster than 5 fps
    assert abs(out[0]["ts"] - time.time()) < 60  # the replay starts at wall-clock time
    smoother = FaceSmoother(cfg.smoothing)  # the same values, smoothed on the clip's own 5 fps clock
    expected = []
    for i, r in enumerate(out):
        face = FaceResult(box=tuple(r["faces"][0]["box"]), score=1.0, keypoints=[], aus=r["faces"][0]["aus"])
        expected.append(smoother.update([face], i * 0.2)[0].aus["AU12"])
    assert [r["faces"][0]["aus_smoothed"]["AU12"] for r in out] == pytest.approx(expected, abs=2e-3)


def test_video_loop_keeps_the_timeline_rising(tmp_path):
    clip = write_video(tmp_path / "clip.avi", [60, 120, 180])
    with open_source(f"video:{clip}?loop=1") as source:
        frames = [source.read() for _ in range(7)]
    assert diffs([f.ts for f in frames]) == pytest.approx([0.2] * 6, abs=1e-6)
    assert [f.position for f in frames] == [0, 1, 2, 0, 1, 2, 0]


class SlowEstimator:
    """One face; takes ``delay_s`` per frame, i.e. a CPU slower than the replay."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def estimate(self, image):
        time.sleep(self.delay_s)
        face = FaceResult(box=(4, 4, 16, 16), score=0.9, keypoints=[], aus={"AU12": float(image[..., 0].mean() / 255)})
        return EstimateResult(faces=[face], image_size=(image.shape[1], image.shape[0]))


@pytest.mark.parametrize(("query", "period", "delay_s"), [("", 1 / NOMINAL_FPS, 0.0), ("?fps=50", 0.02, 0.05)])
def test_images_ts_are_frame_number_times_period(tmp_path, query, period, delay_s):
    folder = write_images(tmp_path / "frames", [60, 90, 120, 150])
    cfg = config(tmp_path, backoff_max_s=0.01, source=f"images:{folder}{query}")
    assert run(cfg, estimator=SlowEstimator(delay_s)) == 0
    assert diffs([r["ts"] for r in records(cfg)]) == pytest.approx([period] * 3, abs=1.5e-3)


# -- bug 2: frame numbers survive reopens ---------------------------------------------------------

class DropsOffAfterTwo(ImageFolderSource):
    """A camera that stops delivering after two frames each time it is opened."""

    live = True

    def read(self):
        if self._position >= 2:
            raise SourceError("camera stopped delivering frames (simulated)")
        return super().read()


def test_frame_numbers_keep_rising_across_reopens(tmp_path, fake_estimator):
    folder = write_images(tmp_path / "frames", [60, 90, 120])
    cfg = config(tmp_path, backoff_max_s=0.01, source=f"images:{folder}")
    cfg.debug.max_frames = 6
    cfg.debug.save_frames_dir = str(tmp_path / "debug")
    cfg.debug.save_every_n = 1
    metrics = DaemonMetrics()
    assert run(cfg, estimator=fake_estimator, source_factory=lambda: DropsOffAfterTwo(folder), metrics=metrics) == 0
    assert [r["frame"] for r in records(cfg)] == [0, 1, 2, 3, 4, 5]
    assert metrics.get("camera_reopens_total") >= 2  # a third may start before max_frames stops the run
    saved = sorted(p.name for p in (tmp_path / "debug").iterdir())
    assert saved == [f"frame_{i:08d}.jpg" for i in range(6)]  # no debug JPEG overwritten


# -- bug 3: a slow paced replay is not a stall; a failing file resumes ----------------------------

def test_slow_paced_folder_is_not_a_stall(tmp_path, fake_estimator):
    folder = write_images(tmp_path / "frames", [60, 90, 120, 150, 180])
    cfg = config(tmp_path, backoff_max_s=0.01, source=f"images:{folder}?fps=5", stall_timeout_s=0.1)  # a frame every 0.2 s
    cfg.debug.max_frames = 4
    metrics = DaemonMetrics()
    assert run(cfg, estimator=fake_estimator, metrics=metrics) == 0
    out = records(cfg)
    assert [r["frame"] for r in out] == [0, 1, 2, 3]
    assert au12(out) == [60, 90, 120, 150]  # files in order, never back to the first
    assert metrics.get("source_stalls_total") == 0 and metrics.get("camera_reopens_total") == 0


def test_paced_file_sources_report_their_pacer_period(tmp_path):
    folder = write_images(tmp_path / "frames", [60])
    assert make_source(f"images:{folder}?fps=0.05").pace_period_s == pytest.approx(20.0)
    assert make_source(f"images:{folder}").pace_period_s == 0.0
    assert make_source("camera:0").pace_period_s == 0.0  # not opened: no device needed


class FailsOnce:
    """A factory of file sources; the first one's read raises after ``at`` frames (a file that truly fails)."""

    def __init__(self, cls, target: Path, at: int) -> None:
        self.cls, self.target, self.at, self.made, self.reads = cls, target, at, 0, 0

    def __call__(self):
        self.made += 1
        spec = self

        class Flaky(self.cls):
            def read(self):
                if spec.made == 1 and spec.reads == spec.at:
                    raise SourceError("file read failed (simulated)")
                spec.reads += 1
                return super().read()

        return Flaky(self.target)


@pytest.mark.parametrize("kind", ["images", "video"])
def test_failing_file_source_resumes_instead_of_rewinding(tmp_path, fake_estimator, kind):
    values = [60, 90, 120, 150, 180]
    if kind == "images":
        factory, period = FailsOnce(ImageFolderSource, write_images(tmp_path / "frames", values), 3), 1 / NOMINAL_FPS
    else:
        factory, period = FailsOnce(VideoFileSource, write_video(tmp_path / "clip.avi", values), 3), 0.2
    cfg = config(tmp_path, backoff_max_s=0.01, source=f"{kind}:unused")
    metrics = DaemonMetrics()
    assert run(cfg, estimator=fake_estimator, source_factory=factory, metrics=metrics) == 0
    out = records(cfg)
    assert factory.made == 2 and metrics.get("camera_reopens_total") == 1
    assert au12(out) == values  # every file frame once, in order: nothing replayed, nothing skipped
    assert [r["frame"] for r in out] == [0, 1, 2, 3, 4]
    assert diffs([r["ts"] for r in out]) == pytest.approx([period] * 4, abs=2e-3)  # the timeline continues
