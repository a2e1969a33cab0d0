"""The daemon loop with a fake estimator: records for every frame (explicit "no face"), smoothing,
bad frames, 1,000 corrupt frames, a source that disappears and comes back, a stalled camera, a sink
that raises, and privacy (nothing but records written by default)."""

from __future__ import annotations

import json
import threading

import cv2
import numpy as np
import pytest
from auedge.edge.daemon import Daemon, build_sinks, run
from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.sinks.base import Sink, SinkSet
from auedge.edge.sources.base import SourceError
from daemon_helpers import config, records

RECORD_KEYS = {"device", "frame", "ts", "image_size", "faces", "timings_ms"}


class ListSink(Sink):
    name = "list"

    def __init__(self):
        self.records = []

    def emit(self, record):
        self.records.append(record)


class BrokenSink(Sink):
    name = "broken"

    def emit(self, record):
        raise OSError("disk full")


def run_loop(cfg, estimator, factories, extra_sinks=(), metrics=None, stop=None):
    """Run the Daemon with sources made by ``factories`` in turn (a callable or exception each)."""
    metrics = metrics or DaemonMetrics()
    calls = iter(factories)
    made = []

    def factory():
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        made.append(item)
        return item

    sinks = build_sinks(cfg, metrics)
    sinks.sinks.extend(extra_sinks)
    daemon = Daemon(cfg, estimator, sinks, metrics, factory, stop or threading.Event())
    try:
        code = daemon.run()
    finally:
        sinks.close()
    return code, metrics, made


def test_images_folder_end_to_end_with_no_face_records(tmp_path, fake_estimator):
    folder = tmp_path / "frames"
    folder.mkdir()
    values = [200, 0, 100, 0]  # black frames have no face for the fake estimator
    for i, v in enumerate(values):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((32, 48, 3), v, np.uint8))
    (folder / "f9_corrupt.jpg").write_bytes(b"\xff\xd8 not really")
    cfg = config(tmp_path, source=f"images:{folder}")
    metrics = DaemonMetrics()
    assert run(cfg, estimator=fake_estimator, metrics=metrics) == 0
    out = records(cfg)
    assert [r["frame"] for r in out] == [0, 1, 2, 3]  # the corrupt file (index 4) is skipped
    for r in out:
        assert set(r) == RECORD_KEYS and r["device"] == "testdev" and r["image_size"] == [48, 32]
        assert {"wait", "detect", "estimate", "smooth"} <= set(r["timings_ms"])
    assert [len(r["faces"]) for r in out] == [1, 0, 1, 0]  # "no face" is a record, not silence
    face = out[0]["faces"][0]
    assert {"box", "score", "keypoints", "aus", "present", "observable", "track_id", "aus_smoothed"} <= set(face)
    assert face["aus"]["AU12"] == pytest.approx(200 / 255, abs=1e-3)
    assert out[2]["faces"][0]["track_id"] != face["track_id"]  # the face was lost in between: new track
    assert metrics.get("frames_total") == 4 and metrics.get("no_face_frames_total") == 2
    assert metrics.get("faces_seen_total") == 2 and metrics.get("bad_frames_total") == 1


def test_smoothed_values_follow_the_track(tmp_path, fake_estimator, scripted_source, solid_image):
    cfg = config(tmp_path)
    cfg.smoothing.method = "ema"
    cfg.smoothing.alpha = 0.5
    source = scripted_source([solid_image(255), solid_image(0 + 1), solid_image(1)], live=False)
    sink = ListSink()
    run_loop(cfg, fake_estimator, [source], extra_sinks=[sink])
    raw = [r["faces"][0]["aus"]["AU12"] for r in sink.records]
    smooth = [r["faces"][0]["aus_smoothed"]["AU12"] for r in sink.records]
    assert smooth[0] == pytest.approx(raw[0], abs=1e-4)
    assert smooth[1] == pytest.approx((raw[0] + raw[1]) / 2, abs=1e-3)
    assert len({r["faces"][0]["track_id"] for r in sink.records}) == 1


def test_survives_a_thousand_corrupt_frames(tmp_path, fake_estimator, scripted_source, solid_image):
    items = ["bad"] * 500 + [solid_image(50)] + ["bad"] * 500 + [solid_image(60), solid_image(0)]
    cfg = config(tmp_path)
    code, metrics, _ = run_loop(cfg, fake_estimator, [scripted_source(items, live=False)])
    assert code == 0
    assert metrics.get("bad_frames_total") == 1000
    assert [r["frame"] for r in records(cfg)] == [500, 1001, 1002]
    assert fake_estimator.calls == 3


def test_estimator_exception_is_a_skipped_frame(tmp_path, fake_estimator, scripted_source, solid_image):
    class Flaky:
        def __init__(self):
            self.n = 0

        def estimate(self, image):
            self.n += 1
            if self.n % 2 == 0:
                raise RuntimeError("interpreter hiccup")
            return fake_estimator.estimate(image)

    cfg = config(tmp_path)
    code, metrics, _ = run_loop(cfg, Flaky(), [scripted_source([solid_image(9)] * 6, live=False)])
    assert code == 0 and metrics.get("bad_frames_total") == 3
    assert [r["frame"] for r in records(cfg)] == [0, 2, 4]


def test_source_that_disappears_and_comes_back(tmp_path, fake_estimator, scripted_source, solid_image):
    # live=False so that no frame is dropped and the record list is exact
    first = scripted_source([solid_image(10)] * 3 + ["error"], live=False)
    gone = SourceError("camera:0: no camera at index 0")
    second = scripted_source([solid_image(20)] * 3, live=False, index_start=100)
    cfg = config(tmp_path)
    code, metrics, made = run_loop(cfg, fake_estimator, [first, gone, gone, second])
    assert code == 0
    assert metrics.get("camera_reopens_total") == 3  # two failed attempts, then success
    out = records(cfg)
    assert [r["frame"] for r in out] == [0, 1, 2, 3, 4, 5]  # the supervisor's numbers, not the source's
    assert made == [first, second] and first.closed.is_set()
    tracks = [r["faces"][0]["track_id"] for r in out]
    assert tracks[:3] == [tracks[0]] * 3 and tracks[3:] == [tracks[3]] * 3
    assert tracks[3] != tracks[0]  # the smoother starts afresh after the camera came back


def test_stalled_source_is_reopened(tmp_path, fake_estimator, scripted_source, solid_image):
    stalled = scripted_source([solid_image(10)] * 2 + ["stall"], live=False)
    fresh = scripted_source([solid_image(20)] * 2, live=False, index_start=50)
    cfg = config(tmp_path, stall_timeout_s=0.3)
    code, metrics, _ = run_loop(cfg, fake_estimator, [stalled, fresh])
    assert code == 0
    assert metrics.get("source_stalls_total") == 1 and metrics.get("camera_reopens_total") == 1
    assert stalled.closed.is_set()  # closing is what unblocks a stalled picamera2
    assert [r["frame"] for r in records(cfg)] == [0, 1, 2, 3]  # numbering survives the reopen


def test_live_source_drops_frames_when_the_loop_is_slow(tmp_path, scripted_source, solid_image):
    class Slow:
        def estimate(self, image):
            import time

            from auedge.edge.results import EstimateResult

            time.sleep(0.05)
            return EstimateResult(faces=[], image_size=(16, 16))

    cfg = config(tmp_path)
    code, metrics, _ = run_loop(cfg, Slow(), [scripted_source([solid_image(5)] * 40, live=True)])
    out = records(cfg)
    assert code == 0 and metrics.get("frames_dropped_total") > 0
    assert metrics.get("frames_dropped_total") + len(out) == 40  # every frame processed or counted
    assert [r["frame"] for r in out] == sorted(r["frame"] for r in out)


def test_a_raising_sink_never_stops_inference(tmp_path, fake_estimator, scripted_source, solid_image):
    cfg = config(tmp_path)
    good = ListSink()
    code, metrics, _ = run_loop(cfg, fake_estimator, [scripted_source([solid_image(7)] * 25, live=False)],
                                extra_sinks=[BrokenSink(), good])
    assert code == 0
    assert len(good.records) == 25 and len(records(cfg)) == 25
    assert metrics.get("sink_errors_total") == 25
    assert 'au_edge_sink_errors_total{sink="broken"} 25' in metrics.render_prometheus()


def test_sinkset_close_survives_a_failing_close():
    class BadClose(Sink):
        name = "badclose"

        def emit(self, record):
            pass

        def close(self):
            raise OSError("nope")

    metrics = DaemonMetrics()
    other = ListSink()
    closed = []
    other.close = lambda: closed.append(True)
    SinkSet([BadClose(), other], metrics).close()
    assert closed == [True] and metrics.get("sink_errors_total") == 1


def test_stop_event_ends_an_endless_source_and_fps_is_capped(tmp_path, fake_estimator, scripted_source,
                                                             solid_image):
    import time

    cfg = config(tmp_path, target_fps=50.0)
    stop = threading.Event()
    emitted = []

    class StopAfterTen(Sink):
        name = "stopper"

        def emit(self, record):
            emitted.append(time.monotonic())
            if len(emitted) == 10:
                stop.set()  # what the SIGTERM handler does

    source = scripted_source([solid_image(30)] * 100000)
    code, metrics, _ = run_loop(cfg, fake_estimator, [source], extra_sinks=[StopAfterTen()], stop=stop)
    assert code == 0 and len(emitted) == 10 == metrics.get("frames_total") == len(records(cfg))
    assert emitted[-1] - emitted[0] >= 0.9 * 9 / 50  # the loop slept to stay at or below 50 fps
    assert source.closed.is_set()


def test_max_frames_stops_the_run(tmp_path, fake_estimator, scripted_source, solid_image):
    cfg = config(tmp_path)
    cfg.debug.max_frames = 7
    code, metrics, _ = run_loop(cfg, fake_estimator, [scripted_source([solid_image(30)] * 50, live=False)])
    assert code == 0 and metrics.get("frames_total") == 7 and len(records(cfg)) == 7


def test_gives_up_after_max_reopen_attempts(tmp_path, fake_estimator, scripted_source, solid_image):
    cfg = config(tmp_path, reopen_max_attempts=3)
    gone = SourceError("camera:0: no camera at index 0")
    factories = iter([scripted_source([solid_image(10)] * 2 + ["error"], live=False), gone, gone, gone, gone])

    def factory():
        item = next(factories)
        if isinstance(item, Exception):
            raise item
        return item

    metrics = DaemonMetrics()
    assert run(cfg, estimator=fake_estimator, source_factory=factory, metrics=metrics) == 3
    assert metrics.get("camera_reopens_total") == 3
    assert [r["frame"] for r in records(cfg)] == [0, 1]  # records made before were flushed


def test_source_missing_at_start_is_one_error_line(tmp_path, fake_estimator, capsys):
    cfg = config(tmp_path, source=f"images:{tmp_path / 'nowhere'}")
    assert run(cfg, estimator=fake_estimator) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("au-edge daemon:")]
    assert len(err) == 1 and "is not a folder" in err[0]


def test_privacy_defaults_write_nothing_but_records(tmp_path, fake_estimator, monkeypatch):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i in range(6):
        cv2.imwrite(str(inputs / f"f{i}.png"), np.full((32, 32, 3), 120 + i, np.uint8))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    cfg = config(work, source=f"images:{inputs}")
    cfg.http.enabled = True
    cfg.http.port = 0
    assert run(cfg, estimator=fake_estimator) == 0
    written = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file())
    assert written == ["out/records.jsonl"]
    assert all("image" not in r and "crop" not in json.dumps(r) for r in records(cfg))
    assert sorted(p.name for p in inputs.iterdir()) == [f"f{i}.png" for i in range(6)]

    # and the debug option does write frames, only where it is told to
    cfg.debug.save_frames_dir = str(work / "debug")
    cfg.debug.save_every_n = 2
    assert run(cfg, estimator=fake_estimator) == 0
    saved = sorted(p.name for p in (work / "debug").iterdir())
    assert saved == ["frame_00000000.jpg", "frame_00000002.jpg", "frame_00000004.jpg"]
