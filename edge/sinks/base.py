"""The one sink interface, and the fan-out that keeps a failing sink from stopping inference.

A sink takes finished records (plain JSON-ready dicts) with ``emit(record)`` and releases its
resources with ``close()`` (flushing what it buffered). The daemon never calls a sink directly:
it goes through :class:`SinkSet`, which catches, counts (``sink_errors_total{sink=...}``) and
logs (rate-limited, so a dead disk does not flood the journal) whatever a sink raises.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from auedge.edge.daemon_metrics import DaemonMetrics

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
