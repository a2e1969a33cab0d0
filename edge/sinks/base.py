"""The one sink interface, and the fan-out that keeps a failing sink from stopping inference.

A sink takes finished records (plain JSON-ready dicts) with ``emit(record)`` and releases its
resources with ``close()`` (flushing what it buffered). The daemon never calls a sink directly:
it goes through :class:`SinkSet`, which catches, counts (``sink_errors_total{sink=...}``) and
logs (rate-limited, so a dead disk does not flood the journal) whatever a sink raises.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.os_errors import describe_os_error

log = logging.getLogger("auedge.edge.sinks")

Record = dict[str, Any]


class Sink:
    name: str = "sink"

    def emit(self, record: Record) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release; must be safe to call twice."""


class RateLimitedLog:
    """Logs a message for a key at most once per ``interval_s``, then says how many were suppressed."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0, clock=time.monotonic) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str) -> bool:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        suppressed = self._suppressed.pop(key, 0)
        suffix = f" ({suppressed} similar messages suppressed)" if suppressed else ""
        self.logger.warning("%s%s", message, suffix)
        self._last[key] = now
        return True


def describe_write_error(exc: BaseException) -> str:
    """``No space left on device (ENOSPC)`` rather than a repr: the line must say what to fix."""
    if isinstance(exc, OSError):
        return describe_os_error(exc)
    if isinstance(exc, sqlite3.Error):
        return f"{exc} ({getattr(exc, 'sqlite_errorname', type(exc).__name__)})"
    return str(exc) or repr(exc)


class DiskWriteErrors:
    """One sink's failing writes to one file: counted each time, logged once a minute, recovery logged.

    Why not just raise to :class:`SinkSet`: its line names neither the file nor the cause in words,
    and a full disk fails on every frame. Counted as ``disk_write_errors_total{sink=...}``.
    """

    def __init__(self, sink: str, path: Path, metrics: DaemonMetrics, logger: logging.Logger,
                 interval_s: float = 60.0) -> None:
        self.sink = sink
        self.path = path
        self.metrics = metrics
        self.logger = logger
        self._log = RateLimitedLog(logger, interval_s)
        self.failures = 0  # since the last successful write

    def failed(self, exc: BaseException, held: int) -> None:
        self.failures += 1
        self.metrics.inc("disk_write_errors_total", label=("sink", self.sink))
        self._log.warning("write", f"{self.sink}: cannot write {self.path}: {describe_write_error(exc)}; "
                                   f"{held} records held in memory, retried with the next record")

    def succeeded(self) -> None:
        if self.failures:
            self.logger.warning("%s: writing %s again after %d failed attempts", self.sink, self.path, self.failures)
            self.failures = 0


class SinkSet:
    """All configured sinks behind one ``emit``; exceptions are counted and logged, never raised."""

    def __init__(self, sinks: list[Sink], metrics: DaemonMetrics, logger: logging.Logger | None = None) -> None:
        self.sinks = list(sinks)
        self.metrics = metrics
        self._log = RateLimitedLog(logger or log)

    def emit(self, record: Record) -> None:
        for sink in self.sinks:
            try:
                sink.emit(record)
            except Exception as exc:  # noqa: BLE001 - a sink must never stop inference
                self.metrics.inc("sink_errors_total", label=("sink", sink.name))
                self._log.warning(sink.name, f"sink {sink.name}: cannot emit record {record.get('frame')}: {exc!r}")

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - close the others regardless
                self.metrics.inc("sink_errors_total", label=("sink", sink.name))
                log.warning("sink %s: error while closing: %r", sink.name, exc)
