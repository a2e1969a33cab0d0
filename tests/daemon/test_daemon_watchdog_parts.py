"""Small parts of the resilience story: back-off, rate-limited logging, systemd notifications."""

from __future__ import annotations

import logging
import socket

from auedge.edge.sinks.base import RateLimitedLog
from auedge.edge.watchdog import Backoff, SystemdNotifier


def test_backoff_doubles_caps_and_resets():
    backoff = Backoff(initial_s=0.5, max_s=3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_rate_limited_log_suppresses_and_reports_the_count(caplog):
    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("test.ratelimit"), interval_s=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.ratelimit"):
        results = [limited.warning("sink", f"error {i}") for i in range(5)]
        assert limited.warning("other", "another key is not suppressed")
        now[0] = 11.0
        assert limited.warning("sink", "error after the interval")
    assert results == [True, False, False, False, False]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["error 0", "another key is not suppressed",
                        "error after the interval (4 similar messages suppressed)"]


def test_systemd_notifier_sends_ready_and_watchdog(tmp_path):
    path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(2)
    try:
        notifier = SystemdNotifier(env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"})
        notifier.ready()
        notifier.ping()
        notifier.ping()  # within half the watchdog interval: not sent again
        notifier.stopping()
        received = [server.recv(64).decode() for _ in range(3)]
        assert received == ["READY=1", "WATCHDOG=1", "STOPPING=1"]
    finally:
        server.close()


def test_systemd_notifier_is_a_no_op_outside_systemd():
    notifier = SystemdNotifier(env={})
    notifier.ready()
    notifier.ping()
    assert notifier.address == "" and notifier.watchdog_interval_s == 0.0
