"""``au-edge daemon``: camera frames -> AU estimates -> smoothing -> records to sinks, for months.

The loop is deliberately plain: read a frame (from :class:`SourceSupervisor`, which reopens a
stalled camera), estimate, smooth per face track, build one record, hand it to every sink
(:class:`SinkSet`, which swallows and counts sink failures), sleep to honour ``target_fps``.
Every processed frame yields a record, including ``"faces": []`` when nobody is there: a consumer
must be able to tell "no face" from "daemon dead". Frames are never written anywhere unless
``debug.save_frames_dir`` says so. SIGTERM/SIGINT end the loop; sinks are flushed and closed and
the exit code is 0. Start-up problems (bad config, bundle, camera) are one line and exit 2; a
camera that cannot be reopened ``reopen_max_attempts`` times in a row exits 3 (systemd restarts us).

Record::

    {"device": "pi-1", "frame": 42, "ts": 1700000000.123, "image_size": [640, 480],
     "faces": [{...FaceResult.to_dict(), "track_id": 3, "aus_smoothed": {"AU12": 0.41}}],
     "timings_ms": {"wait": 1.2, "detect": 8.1, ..., "estimate": 14.0, "smooth": 0.1}}

``frame`` rises through the whole run, across camera reopens (the supervisor numbers frames).
``ts`` is wall-clock time for a camera; for ``video:`` and ``images:`` it is the clip's own
timeline started at the wall-clock time of its first frame, so the smoothing (which uses ``ts``)
gives the same values on a fast or a slow CPU.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auedge.edge.atomic_io import write_atomic
from auedge.edge.daemon_config import (
    ConfigError,
    DaemonConfig,
    build_parser,
    config_from_args,
    setup_logging,
)
from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.default_bundle import NoDefaultBundle
from auedge.edge.os_errors import setting_path_error
from auedge.edge.provenance import warn_if_synthetic_only
from auedge.edge.sinks.base import RateLimitedLog, Record, Sink, SinkSet
from auedge.edge.sources import FrameSource, SourceError, make_source
from auedge.edge.sources.base import Frame
from auedge.edge.streaming import FrameProcessor, FrameResult
from auedge.edge.watchdog import Backoff, SourceGaveUp, SourceSupervisor, SystemdNotifier

log = logging.getLogger("auedge.edge.daemon")

__all__ = ["ConfigError", "Daemon", "DaemonConfig", "StartupError", "build_estimator", "build_record", "build_sinks",
           "main", "open_sinks", "page_url", "run"]


def _finite(value: Any) -> Any:
    """NaN/inf -> None, recursively: records must be strict JSON for every consumer."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def build_record(device: str, result: FrameResult, timings_ms: dict[str, float]) -> Record:
    """One frame's record: its faces (with track ids and smoothed AUs) and the loop's timings."""
    faces = [face.to_dict() for face in result.faces]
    return _finite({
        "device": device,
        "frame": result.index,
        "ts": round(result.ts, 3),
        "image_size": [int(v) for v in result.image_size],
        "faces": faces,
        "timings_ms": {k: round(float(v), 3) for k, v in timings_ms.items()},
    })


def build_estimator(config: DaemonConfig):
    """The real estimator from ``config.bundle``, else the default bundle (imported here: it pulls in an
    interpreter). Says which bundle it runs; :class:`NoDefaultBundle` when none is given or installed."""
    from auedge.edge.default_bundle import choose_bundle
    from auedge.edge.estimator import Estimator, size_opencv_threads
    from auedge.edge.face_detector import parse_region

    choice = choose_bundle(config.bundle)
    size_opencv_threads(config.threads)
    flip = {"bundle": None, "on": True, "off": False}[config.flip_average]
    estimator = Estimator.from_bundle(choice.path, model=config.model or None, backend=config.backend,
                                      num_threads=config.threads, flip_average=flip,
                                      detect_region=parse_region(config.detect_region), tracking=config.tracking)
    log.info("%s", choice.describe(estimator.bundle))
    return estimator


def page_url(host: str, port: int, scheme: str = "http") -> str:
    """The address a browser on this machine opens for the HTTP sink bound to ``host``:``port``
    (``https`` when the sink serves TLS)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"{scheme}://[{host}]:{port}/" if ":" in host else f"{scheme}://{host}:{port}/"


def open_sinks(config: DaemonConfig, metrics: DaemonMetrics) -> SinkSet:
    """:func:`build_sinks`, then where to look: the page's URL, printed on stderr whatever the log level
    (stdout stays free for callers that read it), and the records file in the log."""
    sinks = build_sinks(config, metrics)
    for sink in sinks.sinks:
        if sink.name == "http":
            url = page_url(config.http.host, getattr(sink, "port", config.http.port), getattr(sink, "scheme", "http"))
            print(f"au-edge daemon: page at {url}",
                  file=sys.stderr, flush=True)
        elif sink.name == "jsonl":
            log.info("records to %s", config.jsonl.path)
    return sinks


def build_sinks(config: DaemonConfig, metrics: DaemonMetrics) -> SinkSet:
    """Only configured sinks are created (an empty jsonl.path / mqtt.host means none)."""
    sinks: list[Sink] = []
    try:
        if config.jsonl.path:
            from auedge.edge.sinks.jsonl_sink import JsonlSink

            sinks.append(JsonlSink.create_from_options(config.jsonl, metrics))
        if config.http.enabled:
            from auedge.edge.sinks.http_sink import HttpSink

            sinks.append(HttpSink.create_from_options(config.http, metrics))
        if config.mqtt.host:
            from auedge.edge.sinks.mqtt_sink import MqttSink

            sinks.append(MqttSink.create_from_options(config.mqtt, config.device, metrics))
    except BaseException:
        SinkSet(sinks, metrics).close()
        raise
    if not sinks:
        log.warning("no sink configured: records go nowhere (set jsonl.path, http.enabled or mqtt.host)")
    return SinkSet(sinks, metrics)


def save_debug_frame(folder: Path, frame: Frame) -> Path:
    """Only called when debug.save_frames_dir is set. Temp file + rename: no half-written JPEG."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError("JPEG encoding failed")
    return write_atomic(folder / f"frame_{frame.index:08d}.jpg", data.tobytes())


class StartupError(RuntimeError):
    """A sink that cannot start (unwritable records folder, port in use): one line, exit 2."""


def make_debug_folder(folder: str) -> None:
    """Make ``debug.save_frames_dir`` at start. Why: a path that cannot be a folder used to be a
    warning at every saved frame, and the run ended with exit 0 and no frame saved."""
    if not folder:
        return
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), folder)
    except OSError as exc:
        raise StartupError(str(setting_path_error("debug.save_frames_dir", folder, exc, "give a folder this "
                                                  'user may write, or debug.save_frames_dir = ""'))) from None


class Daemon:
    """One run of the loop; everything it uses is passed in (tests give fakes)."""

    def __init__(self, config: DaemonConfig, estimator, sinks: SinkSet | Callable[[], SinkSet],
                 metrics: DaemonMetrics, source_factory: Callable[[], FrameSource], stop: threading.Event,
                 notifier: SystemdNotifier | None = None) -> None:
        """``sinks`` may be a factory: it is called in :meth:`run` once the source has opened, so a
        camera that is missing leaves no records file, folder or queue behind."""
        self.config = config
        self.estimator = estimator
        self._sinks_factory = None if isinstance(sinks, SinkSet) else sinks
        self.sinks: SinkSet | None = sinks if isinstance(sinks, SinkSet) else None
        self.metrics = metrics
        self.stop = stop
        self.notifier = notifier or SystemdNotifier(env={})
        self.processor = FrameProcessor(estimator, config.smoothing)  # what stream() and `au-edge analyze` run
        self.supervisor = SourceSupervisor(
            source_factory, metrics, stop, stall_timeout_s=config.stall_timeout_s,
            backoff=Backoff(config.reopen_backoff_s, config.reopen_backoff_max_s), heartbeat=self.notifier.ping,
            max_attempts=config.reopen_max_attempts)
        self._warn = RateLimitedLog(log)
        self._generation = 0
        self.processed = 0

    def run(self) -> int:
        self.supervisor.start()  # SourceError here is a start-up error for the caller
        try:
            make_debug_folder(self.config.debug.save_frames_dir)
            self._open_sinks()
        except BaseException:
            self.supervisor.close()
            raise
        if self.config.debug.save_frames_dir:
            log.warning("debug.save_frames_dir is set: camera frames are written to %s", self.config.debug.save_frames_dir)
        self.notifier.ready()
        log.info("running: source %s, device %s, target %.3g fps", self.config.source, self.config.device,
                 self.config.target_fps)
        period = 1.0 / self.config.target_fps if self.config.target_fps > 0 else 0.0
        try:
            while not self.stop.is_set():
                cycle_start = time.monotonic()
                if not self._step():
                    break
                if self.config.debug.max_frames and self.processed >= self.config.debug.max_frames:
                    break
                if period:
                    remaining = period - (time.monotonic() - cycle_start)
                    if remaining > 0 and self.stop.wait(remaining):
                        break
        finally:
            self.notifier.stopping()
            self.supervisor.close()
        return 0

    def _open_sinks(self) -> None:
        """Make the sinks (files, folders, the MQTT queue, the HTTP port) now that the source is open."""
        if self.sinks is not None:
            return
        try:
            self.sinks = self._sinks_factory()
        except (ValueError, RuntimeError, OSError) as exc:
            raise StartupError(str(exc)) from None

    def close_sinks(self) -> None:
        if self.sinks is not None:
            self.sinks.close()

    def _step(self) -> bool:
        """One frame; False when the source has ended (or stop was set while waiting)."""
        t0 = time.perf_counter()
        frame = self.supervisor.next_frame()
        if frame is None:
            return False
        t1 = time.perf_counter()
        if frame.bad or frame.image is None:
            self.metrics.inc("bad_frames_total")
            self._warn.warning("bad-frame", f"skipping bad frame {frame.index}: {frame.error or 'no image'}")
            return True
        if self.supervisor.generation != self._generation:  # a reopened camera: no smoothing across the gap
            self._generation = self.supervisor.generation
            self.processor.reset()  # and no face carried over: detect the first new frame afresh
        try:
            result = self.processor.process(frame)
        except Exception as exc:  # noqa: BLE001 - one odd frame must not stop the service
            self.metrics.inc("bad_frames_total")
            self._warn.warning("estimate", f"estimate failed on frame {frame.index}: {exc!r}")
            return True
        t3 = time.perf_counter()
        timings = {"wait": (t1 - t0) * 1e3, **result.timings_ms}
        record = build_record(self.config.device, result, timings)
        self.metrics.frame_done(len(result.faces))
        self.metrics.set_gauge("tracks", self.processor.smoother.track_count)
        self.sinks.emit(record)
        t4 = time.perf_counter()
        self.processed += 1
        if self.config.debug.log_records:
            log.info("record %s", json.dumps(record))
        self._save_debug(frame)
        for stage, ms in (("wait", timings["wait"]), ("estimate", timings["estimate"]),
                          ("smooth", timings["smooth"]), ("sinks", (t4 - t3) * 1e3), ("loop", (t4 - t0) * 1e3)):
            self.metrics.observe_ms(stage, ms)
        for stage, ms in result.timings_ms.items():
            if stage not in ("estimate", "smooth"):  # the processor's own, observed above
                self.metrics.observe_ms(f"estimator_{stage}", float(ms))
        return True

    def _save_debug(self, frame: Frame) -> None:
        debug = self.config.debug
        if not debug.save_frames_dir or frame.index % debug.save_every_n:
            return
        try:
            save_debug_frame(Path(debug.save_frames_dir), frame)
        except OSError as exc:
            self._warn.warning("debug-save", f"cannot save debug frame {frame.index}: {exc}")


def _error(message: str) -> int:
    print(f"au-edge daemon: error: {message}", file=sys.stderr)
    return 2


class _SignalStop:
    """SIGTERM/SIGINT set ``stop`` (only possible from the main thread; elsewhere a no-op)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._previous: dict[int, Any] = {}

    def _handle(self, signum, _frame) -> None:
        if self.stop.is_set():
            log.warning("already stopping (signal %d)", signum)
        else:
            log.info("signal %d: stopping (flushing sinks)", signum)
        self.stop.set()

    def __enter__(self):  # returns self
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def run(config: DaemonConfig, estimator=None, source_factory: Callable[[], FrameSource] | None = None,
        stop: threading.Event | None = None, metrics: DaemonMetrics | None = None) -> int:
    """Run until the source ends, ``stop`` is set or SIGTERM/SIGINT; returns the exit code.

    ``estimator`` and ``source_factory`` default to the real ones from ``config``; tests pass fakes.
    """
    stop = stop or threading.Event()
    metrics = metrics or DaemonMetrics()
    source_factory = source_factory or (lambda: make_source(config.source))
    with _SignalStop(stop):
        try:
            estimator = estimator if estimator is not None else build_estimator(config)
        except NoDefaultBundle as exc:
            return _error(str(exc))
        except (ConfigError, ValueError, RuntimeError, OSError, ImportError) as exc:
            return _error(f"cannot load the bundle {config.bundle}: {exc}" if config.bundle
                          else f"cannot load the default bundle: {exc}")
        choice = getattr(estimator, "model_choice", None)
        if choice is not None:
            log.info("%s", choice.summary())
        bundle = getattr(estimator, "bundle", None)
        if bundle is not None:
            warn_if_synthetic_only(bundle.manifest, str(bundle.root), f"frames from {config.source}")
        # The sinks are made by the daemon once the source has opened: a camera that does not open
        # leaves no records file, folder or MQTT queue behind.
        daemon = Daemon(config, estimator, lambda: open_sinks(config, metrics), metrics, source_factory, stop,
                        SystemdNotifier())
        try:
            code = daemon.run()
        except SourceGaveUp as exc:
            log.error("%s", exc)
            return 3
        except (SourceError, StartupError) as exc:
            return _error(str(exc))
        finally:
            daemon.close_sinks()
            close = getattr(estimator, "close", None)
            if callable(close):
                close()
        counters = metrics.snapshot()["counters"]
        log.info("stopped: %d frames, %d faces, %d without face, %d bad, %d dropped, %d source reopens, "
                 "%d sink errors", counters["frames_total"], counters["faces_seen_total"],
                 counters["no_face_frames_total"], counters["bad_frames_total"], counters["frames_dropped_total"],
                 counters["camera_reopens_total"], counters["sink_errors_total"])
        return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``au-edge daemon`` (called by auedge.edge.cli)."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"au-edge daemon: config error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
