"""HTTP sink with real requests: /healthz (ok and stale), /latest, /events (SSE), /metrics (parsed)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.sinks.http_sink import HttpSink, HttpSinkOptions


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def served():
    clock = FakeClock()
    metrics = DaemonMetrics(clock=clock)
    sink = HttpSink(HttpSinkOptions(port=0, stale_after_s=5.0, keepalive_s=0.2), metrics)
    yield sink, metrics, clock
    sink.close()


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def test_binds_localhost_on_an_ephemeral_port(served):
    sink, _, _ = served
    assert sink.host == "127.0.0.1" and sink.port > 0
    assert sink.url == f"http://127.0.0.1:{sink.port}"


def test_healthz_ok_then_stale(served):
    sink, metrics, clock = served
    status, _, body = get(sink.url + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "starting"
    metrics.frame_done(faces=1)
    clock.now += 1.0
    status, _, body = get(sink.url + "/healthz")
    data = json.loads(body)
    assert status == 200 and data["status"] == "ok" and data["last_frame_age_s"] == pytest.approx(1.0)
    clock.now += 10.0
    status, _, body = get(sink.url + "/healthz")
    assert status == 503 and json.loads(body)["status"] == "stale"


def test_healthz_stale_when_no_frame_ever_came(served):
    sink, _, clock = served
    clock.now += 60
    assert get(sink.url + "/healthz")[0] == 503


def test_latest_and_unknown_path(served):
    sink, _, _ = served
    assert get(sink.url + "/latest")[0] == 404
    sink.emit({"frame": 1, "faces": []})
    sink.emit({"frame": 2, "faces": [{"aus": {"AU12": 0.5}}]})
    status, headers, body = get(sink.url + "/latest")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"frame": 2, "faces": [{"aus": {"AU12": 0.5}}]}
    status, _, body = get(sink.url + "/nope")
    assert status == 404 and "/metrics" in body


def parse_prometheus(text):
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            _, _, name, kind = line.split()
            types[name] = kind
        elif line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples, types


def test_metrics_prometheus_text(served):
    sink, metrics, clock = served
    for faces in (1, 0, 2):
        metrics.frame_done(faces)
        clock.now += 0.1
    metrics.observe_ms("estimate", 12.0)
    metrics.observe_ms("estimate", 30.0)
    metrics.observe_ms("estimate", 9000.0)  # above every bucket: counted only in +Inf
    metrics.inc("bad_frames_total", 3)
    metrics.inc("sink_errors_total", label=("sink", "mqtt"))
    metrics.inc("camera_reopens_total")
    metrics.inc("frames_dropped_total", 4)
    status, headers, body = get(sink.url + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples, types = parse_prometheus(body)
    assert samples["au_edge_frames_total"] == 3
    assert samples["au_edge_faces_seen_total"] == 3
    assert samples["au_edge_no_face_frames_total"] == 1
    assert samples["au_edge_bad_frames_total"] == 3
    assert samples["au_edge_frames_dropped_total"] == 4
    assert samples["au_edge_camera_reopens_total"] == 1
    assert samples['au_edge_sink_errors_total{sink="mqtt"}'] == 1
    assert samples["au_edge_fps"] == pytest.approx(10.0)
    assert types["au_edge_frames_total"] == "counter" and types["au_edge_fps"] == "gauge"
    assert types["au_edge_stage_latency_seconds"] == "histogram"
    assert samples['au_edge_stage_latency_seconds_count{stage="estimate"}'] == 3
    assert samples['au_edge_stage_latency_seconds_sum{stage="estimate"}'] == pytest.approx(9.042)
    assert samples['au_edge_stage_latency_seconds_bucket{stage="estimate",le="0.01"}'] == 0
    assert samples['au_edge_stage_latency_seconds_bucket{stage="estimate",le="0.025"}'] == 1
    assert samples['au_edge_stage_latency_seconds_bucket{stage="estimate",le="0.05"}'] == 2
    assert samples['au_edge_stage_latency_seconds_bucket{stage="estimate",le="2.5"}'] == 2
    assert samples['au_edge_stage_latency_seconds_bucket{stage="estimate",le="+Inf"}'] == 3


def read_event(response):
    """One SSE event as {field: value}, skipping comments (keepalives) and the retry hint."""
    event = {}
    while True:
        line = response.readline().decode()
        assert line, "stream closed"
        line = line.rstrip("\n")
        if not line:
            if "data" in event:
                return event
            event = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(": ")
        event[key] = value


def test_events_stream_delivers_records_in_order(served):
    sink, _, _ = served
    response = urllib.request.urlopen(sink.url + "/events", timeout=5)
    try:
        assert response.headers["Content-Type"] == "text/event-stream"
        for _ in range(100):  # the handler subscribes just after the headers; wait for it (bounded)
            if sink.subscriber_count:
                break
            time.sleep(0.02)
        assert sink.subscriber_count == 1

        def produce():
            for i in range(3):
                sink.emit({"frame": i, "faces": []})
                time.sleep(0.05)

        producer = threading.Thread(target=produce)
        producer.start()
        events = [read_event(response) for _ in range(3)]
        producer.join()
        assert [e["event"] for e in events] == ["record"] * 3
        assert [json.loads(e["data"])["frame"] for e in events] == [0, 1, 2]
        assert [e["id"] for e in events] == ["0", "1", "2"]
    finally:
        response.close()


def test_too_many_event_clients_get_503():
    metrics = DaemonMetrics()
    sink = HttpSink(HttpSinkOptions(port=0, max_clients=1, keepalive_s=0.2), metrics)
    try:
        first = urllib.request.urlopen(sink.url + "/events", timeout=5)
        for _ in range(100):
            if sink.subscriber_count:
                break
            time.sleep(0.02)
        assert get(sink.url + "/events")[0] == 503
        first.close()
    finally:
        sink.close()


def test_close_ends_open_streams_and_frees_the_port(port_factory):
    port = port_factory()
    sink = HttpSink(HttpSinkOptions(port=port, keepalive_s=0.2), DaemonMetrics())
    response = urllib.request.urlopen(sink.url + "/events", timeout=5)
    sink.close()
    assert response.read() is not None  # returns (stream ended) instead of hanging
    response.close()
    again = HttpSink(HttpSinkOptions(port=port), DaemonMetrics())
    again.close()


def test_port_in_use_is_a_clear_error(served):
    sink, metrics, _ = served
    with pytest.raises(OSError, match="choose another http.port"):
        HttpSink(HttpSinkOptions(port=sink.port), metrics)
