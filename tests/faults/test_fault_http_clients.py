"""Issue 36 item 2: HTTP clients can never hold the sink or the frame loop. Idle (slowloris)
connections are capped and timed out, HTTP/0.9 is answered, a client that goes away is one debug
line, and with a low open-file limit the frame loop keeps reading frames (a failed read names
EMFILE, not "cannot decode")."""

from __future__ import annotations

import json
import logging
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest
from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.sinks.http_sink import HttpSink, HttpSinkOptions


@pytest.fixture
def make_sink():
    made = []

    def make(**kw) -> HttpSink:
        sink = HttpSink(HttpSinkOptions(port=0, **kw), DaemonMetrics())
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.close()


def connect(sink: HttpSink) -> socket.socket:
    return socket.create_connection((sink.host, sink.port), timeout=5)


def recv_all(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        data += b"<timeout>"
    return data


def test_idle_connections_are_capped_and_closed_after_the_header_timeout(make_sink):
    sink = make_sink(max_connections=8, max_clients=4, header_timeout_s=0.5)
    threads_before = threading.active_count()
    idle = [connect(sink) for _ in range(40)]
    time.sleep(0.3)
    assert threading.active_count() <= threads_before + 8  # one worker per admitted connection, no more
    answers = [recv_all(s, timeout=3.0) for s in idle]  # all end: 503 at once, or closed at the deadline
    assert not any(a.endswith(b"<timeout>") for a in answers)
    busy = [a for a in answers if b" 503 " in a]
    assert len(busy) == 32 and sink.metrics.get("http_rejected_total") == 32
    for s in idle:
        s.close()
    with urllib.request.urlopen(sink.url + "/healthz", timeout=5) as response:
        assert response.status == 200


def test_one_host_cannot_take_every_connection(make_sink):
    sink = make_sink(max_connections=16, max_per_client=4, header_timeout_s=5.0)
    hostile = []
    for _ in range(30):  # from 127.0.0.2: another host on the loopback network
        sock = socket.socket()
        sock.bind(("127.0.0.2", 0))
        sock.connect((sink.host, sink.port))
        hostile.append(sock)
    time.sleep(0.3)
    with urllib.request.urlopen(sink.url + "/healthz", timeout=5) as response:  # from 127.0.0.1
        assert response.status == 200
    busy = [recv_all(s, timeout=0.5) for s in hostile]
    assert sum(b" 503 " in b for b in busy) == 26  # 4 held, the rest refused at once
    for sock in hostile:
        sock.close()


def test_headers_sent_one_byte_at_a_time_still_hit_the_deadline(make_sink):
    sink = make_sink(header_timeout_s=0.6)
    sock = connect(sink)
    started = time.monotonic()
    try:
        for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 40:
            sock.send(bytes([byte]))
            time.sleep(0.05)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert recv_all(sock, timeout=3.0) == b""  # closed at the deadline, not served late
    assert time.monotonic() - started < 2.5
    sock.close()


def test_http09_request_line_is_answered_at_once(make_sink):
    sink = make_sink()
    with connect(sink) as sock:
        sock.sendall(b"GET /healthz\r\n")
        answer = recv_all(sock, timeout=2.0)
    assert answer.startswith(b"HTTP/1.0 400") and b"HTTP/0.9 is not supported" in answer


def test_clients_that_go_away_are_one_debug_line_each_not_tracebacks(make_sink, caplog, capfd, monkeypatch):
    root = logging.getLogger()  # an earlier daemon.main() test may have left a handler on a closed stream
    monkeypatch.setattr(root, "handlers", [h for h in root.handlers if type(h) is not logging.StreamHandler])
    sink = make_sink(header_timeout_s=0.5)
    ports = set()
    with caplog.at_level(logging.DEBUG, logger="auedge.edge.sinks.http"):
        for _ in range(10):
            sock = connect(sink)
            ports.add(sock.getsockname()[1])
            sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Half: ")  # half a request, then a reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

        def ended():
            return [r for r in caplog.records if "connection ended" in r.getMessage()
                    and int(r.getMessage().split(":")[1]) in ports]

        deadline = time.monotonic() + 5.0
        while len(ended()) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
    assert len(ended()) == 10 and all(r.levelno == logging.DEBUG for r in ended())
    assert "Traceback" not in capfd.readouterr().err


def test_bad_http_options_are_refused():
    with pytest.raises(ValueError, match="http.max_clients .* must be <= http.max_connections"):
        HttpSinkOptions(max_clients=10, max_connections=4).validate()
    with pytest.raises(ValueError, match="header_timeout_s"):
        HttpSinkOptions(header_timeout_s=0).validate()


# A child with RLIMIT_NOFILE = 64 runs the sink and a frame loop over an image folder (each frame
# opens a file); the parent opens 150 idle connections to it.
CHILD = textwrap.dedent("""
    import json, os, resource, sys, time, threading
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    from auedge.edge.daemon_metrics import DaemonMetrics
    from auedge.edge.sinks.http_sink import HttpSink, HttpSinkOptions
    from auedge.edge.sources.images_source import ImageFolderSource
    sink = HttpSink(HttpSinkOptions(port=0, max_connections=500, max_clients=8, header_timeout_s=30), DaemonMetrics())
    source = ImageFolderSource(sys.argv[1], loop=True)
    source.open()
    stat = os.open(f"/proc/self/task/{sink._thread.native_id}/stat", os.O_RDONLY)  # opened before the clients
    print(sink.port, flush=True)
    sys.stdin.readline()  # the parent's connections are open
    good, bad, errors, start = 0, 0, set(), time.monotonic()
    def http_cpu_s():  # the accept thread's CPU time (utime + stime)
        fields = os.pread(stat, 4096, 0).decode().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    cpu = http_cpu_s()
    while time.monotonic() - start < 1.5:
        frame = source.read()
        if frame.bad:
            bad += 1
            errors.add(frame.error)
        else:
            good += 1
    held = []  # now take every descriptor: the error must name the cause
    try:
        while True:
            held.append(open("/dev/null"))
    except OSError:
        pass
    frame = source.read()
    for handle in held:
        handle.close()
    print(json.dumps({"good": good, "bad": bad, "errors": sorted(errors), "threads": threading.active_count(),
                      "http_cpu_s": http_cpu_s() - cpu, "starved_error": frame.error}), flush=True)
    sink.close()
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads thread CPU time from /proc")
def test_low_fd_limit_idle_clients_do_not_starve_the_frame_loop(tmp_path):
    import cv2
    import numpy as np

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((32, 32, 3), 40 * i, np.uint8))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        clients = []
        for _ in range(150):
            try:
                clients.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        time.sleep(0.3)
        child.stdin.write("go\n")
        child.stdin.flush()
        report = json.loads(child.stdout.readline())
        for sock in clients:
            sock.close()
    finally:
        child.wait(timeout=30)
    assert report["bad"] == 0 and report["good"] > 10, report
    assert report["threads"] <= 1 + 1 + 16, report  # main, accept loop, at most 64 // 4 workers
    assert report["http_cpu_s"] < 0.3, report  # no accept loop spinning on EMFILE
    assert "Too many open files" in report["starved_error"] and "decode" not in report["starved_error"]
