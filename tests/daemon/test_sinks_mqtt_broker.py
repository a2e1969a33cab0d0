"""MQTT sink against a REAL mosquitto broker on a free localhost port (skipped without mosquitto).

The broker is stopped for ~10 s mid-run and restarted on the same port: every record must still
reach a subscriber, in order (QoS 1 is at-least-once, so a re-delivered duplicate is allowed, a
gap or a reordering is not). A second test restarts the *sink* with records still on disk.
"""

from __future__ import annotations

import getpass
import json
import os
import threading
import time

import pytest
from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.sinks.mqtt_sink import MqttSink, MqttSinkOptions
from mosquitto_helpers import MOSQUITTO, start_mosquitto

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto broker binary not found: apt-get install -y mosquitto")
OUTAGE_S = 10.0
TOPIC = "au-edge/testdev/aus"


class Broker:
    """mosquitto on 127.0.0.1:port with persistence, so a subscriber's session survives a restart."""

    def __init__(self, tmp_path, port):
        self.port = port
        self.dir = tmp_path / "broker"
        self.dir.mkdir(exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence true",
                 f"persistence_location {self.dir}/", "autosave_interval 1", "max_queued_messages 100000",
                 "max_inflight_messages 100", "log_dest stderr", "log_type error"]
        if os.geteuid() == 0:
            lines.append(f"user {getpass.getuser()}")  # else mosquitto drops to a user that cannot write tmp
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc = None

    def start(self):
        self.proc = start_mosquitto(self.conf, self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: saves its persistence file
            self.proc.wait(timeout=10)
        self.proc = None


class Subscriber:
    """A paho client with a persistent session (clean_session=False) that records frame indices."""

    def __init__(self, port):
        import paho.mqtt.client as mqtt

        self.frames: list[int] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="au-edge-test-sub",
                                  clean_session=False)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(TOPIC, qos=1)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        assert self.subscribed.wait(10), "subscriber could not subscribe"

    def _on_message(self, client, userdata, message):
        with self.lock:
            self.frames.append(json.loads(message.payload)["frame"])

    def wait_for(self, expected: set[int], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if expected <= set(self.frames):
                    return True
            time.sleep(0.05)
        return False

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def first_occurrences(frames):
    seen, order = set(), []
    for f in frames:
        if f not in seen:
            seen.add(f)
            order.append(f)
    return order


def options(port, state_dir, **kw):
    settings = {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "keepalive_s": 2, "flush_timeout_s": 5.0, **kw}
    return MqttSinkOptions(host="127.0.0.1", port=port, state_dir=str(state_dir), **settings)


@pytest.fixture
def broker(tmp_path, port_factory):
    broker = Broker(tmp_path, port_factory())
    broker.start()
    yield broker
    broker.stop()


def test_every_record_arrives_in_order_across_a_broker_outage(broker, tmp_path):
    subscriber = Subscriber(broker.port)
    metrics = DaemonMetrics()
    sink = MqttSink(options(broker.port, tmp_path / "state"), device="testdev", metrics=metrics)
    try:
        assert sink.connected.wait(10)
        for i in range(100):
            sink.emit({"device": "testdev", "frame": i, "faces": []})
        assert subscriber.wait_for(set(range(100)), timeout=60)

        broker.stop()
        outage_end = time.monotonic() + OUTAGE_S
        i = 100
        while time.monotonic() < outage_end:  # records keep coming while the broker is away
            sink.emit({"device": "testdev", "frame": i, "faces": []})
            i += 1
            time.sleep(0.02)
        assert len(sink.queue) > 0 and not sink.connected.is_set()
        broker.start()
        for j in range(i, i + 50):
            sink.emit({"device": "testdev", "frame": j, "faces": []})
        total = i + 50
        assert subscriber.wait_for(set(range(total)), timeout=40), (
            f"missing: {sorted(set(range(total)) - set(subscriber.frames))[:20]}")
        assert first_occurrences(subscriber.frames) == list(range(total))  # none lost, order kept
        assert sink.flush(10)
        assert metrics.get("mqtt_published_total") >= total
        assert metrics.get("mqtt_queue_dropped_total") == 0
    finally:
        sink.close()
        subscriber.close()


def test_queue_survives_a_sink_restart_and_is_drained(tmp_path, port_factory):
    port = port_factory()
    state = tmp_path / "state"
    metrics = DaemonMetrics()
    sink = MqttSink(options(port, state, flush_timeout_s=0.2), device="testdev", metrics=metrics)
    for i in range(30):  # no broker yet: everything waits on disk
        sink.emit({"device": "testdev", "frame": i, "faces": []})
    sink.close()
    assert (state / "mqtt-queue.sqlite3").is_file()

    broker = Broker(tmp_path, port)
    broker.start()
    subscriber = Subscriber(port)
    sink = MqttSink(options(port, state), device="testdev", metrics=DaemonMetrics())
    try:
        assert len(sink.queue) == 30
        for i in range(30, 40):
            sink.emit({"device": "testdev", "frame": i, "faces": []})
        assert subscriber.wait_for(set(range(40)), timeout=60)
        assert first_occurrences(subscriber.frames) == list(range(40))
        assert sink.flush(30) and len(sink.queue) == 0
    finally:
        sink.close()
        subscriber.close()
        broker.stop()


def test_full_queue_drops_oldest_and_counts(tmp_path, port_factory):
    metrics = DaemonMetrics()
    sink = MqttSink(options(port_factory(), tmp_path / "s", max_records=10, flush_timeout_s=0.1),
                    device="testdev", metrics=metrics)
    try:
        for i in range(25):
            sink.emit({"frame": i})
        assert len(sink.queue) == 10
        assert metrics.get("mqtt_queue_dropped_total") == 15
        assert [json.loads(p)["frame"] for _, p in sink.queue.peek()] == list(range(15, 25))
    finally:
        sink.close()


def test_a_record_leaves_the_queue_only_after_puback(broker, tmp_path):
    import signal

    metrics = DaemonMetrics()
    sink = MqttSink(options(broker.port, tmp_path / "state", keepalive_s=60), device="testdev", metrics=metrics)
    try:
        assert sink.connected.wait(10)
        broker.proc.send_signal(signal.SIGSTOP)  # connection stays open, but no PUBACK comes back
        try:
            for i in range(30):
                sink.emit({"device": "testdev", "frame": i, "faces": []})
            time.sleep(1.0)  # the sender has handed records to paho by now; none may be removed
            assert len(sink.queue) == 30 and metrics.get("mqtt_published_total") == 0
        finally:
            broker.proc.send_signal(signal.SIGCONT)
        assert sink.flush(15) and len(sink.queue) == 0
        assert metrics.get("mqtt_published_total") == 30
    finally:
        sink.close()
