"""Issue 36 items 3 and 4 at the MQTT sink: a full queue disk holds and retries records (the real
error named once), and records dropped from a full queue are a rate-limited warning with the count
and the bound, not only a metric. No broker is needed: nothing listens on the port."""

from __future__ import annotations

import logging
import socket

import pytest
from auedge.edge.daemon_metrics import DaemonMetrics

pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed (pip install .[edge])")
from auedge.edge.sinks.mqtt_sink import MqttSink, MqttSinkOptions


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def offline_sink(tmp_path):
    def make(**kw) -> tuple[MqttSink, DaemonMetrics]:
        metrics = DaemonMetrics()
        options = MqttSinkOptions(host="127.0.0.1", port=closed_port(), state_dir=str(tmp_path / "state"),
                                  reconnect_min_s=5.0, reconnect_max_s=5.0, flush_timeout_s=0.1, **kw)
        sink = MqttSink(options, "testdev", metrics)
        made.append(sink)
        return sink, metrics

    made: list[MqttSink] = []
    yield make
    for sink in made:
        sink.close()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_dropped_records_are_a_rate_limited_warning_with_count_and_bound(offline_sink, caplog):
    sink, metrics = offline_sink(max_records=5)
    sink._clock = clock = Clock()
    with caplog.at_level(logging.WARNING, logger="auedge.edge.sinks.mqtt"):
        for i in range(20):
            sink.emit({"frame": i})
        first = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
        clock.now += 61.0
        sink.emit({"frame": 20})
    drops = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert metrics.get("mqtt_queue_dropped_total") == 16
    assert len(first) == 1 and "max_records = 5" in first[0] and "dropped the 1 oldest" in first[0]
    assert len(drops) == 2 and "dropped the 15 oldest" in drops[1]  # the count since the last warning


def test_full_queue_disk_holds_and_retries_and_names_the_error_once(offline_sink, caplog):
    sink, metrics = offline_sink()
    for i in range(3):
        sink.emit({"frame": i, "pad": "x" * 100})
    db = sink.queue._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with caplog.at_level(logging.WARNING, logger="auedge.edge.sinks.mqtt"):
        for i in range(3, 60):
            sink.emit({"frame": i, "pad": "x" * 3000})
    errors = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(errors) == 1 and "SQLITE_FULL" in errors[0] and str(sink.queue.path) in errors[0]
    assert not any("cannot rollback" in r.getMessage() for r in caplog.records)
    assert metrics.labelled[("disk_write_errors_total", "sink", "mqtt")] > 0
    held_before = len(sink._held)
    assert held_before > 0 and len(sink.queue) >= 3  # the queued rows are kept
    db.execute("PRAGMA max_page_count = 1000000")  # space again: every held record is stored, in order
    sink.emit({"frame": 60})
    frames = [int(p.split(b'"frame":')[1].split(b",")[0].rstrip(b"}")) for _, p in sink.queue.peek(limit=1000)]
    assert frames == list(range(61)) and not sink._held
