"""MQTT sink: records to ``au-edge/<device>/aus`` at QoS 1, stored on disk until the broker has them.

Why a disk queue in front of paho: a device's broker (or Wi-Fi) goes away for minutes or hours, and
the daemon may be restarted meanwhile. Every record is first appended to a :class:`DiskQueue` in
the state directory; a sender thread hands at most ``max_inflight`` of them, oldest first, to paho,
and deletes a row only when its PUBACK arrives. paho itself re-sends its in-flight messages, in
order, after a reconnect; rows it never got stay on disk and follow. So records made while the
broker is away are delivered later, in order, none lost (at-least-once: a record whose PUBACK was
lost in a crash is sent again after restart; consumers de-duplicate on ``(device, frame, ts)``).
The queue is bounded; when full the oldest records are dropped, counted and reported in a
warning at most once a minute (with how many and the bound). When the queue's disk is full a
record is held in memory (bounded) and retried with the next one; the queued rows are untouched.

paho-mqtt (2.x) is imported lazily, so a device without MQTT does not need it.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.os_errors import describe_os_error, setting_path_error
from auedge.edge.sinks.base import DiskWriteErrors, RateLimitedLog, Record, Sink
from auedge.edge.sinks.disk_queue import DiskQueue, QueueWriteError

log = logging.getLogger("auedge.edge.sinks.mqtt")

QUEUE_FILE = "mqtt-queue.sqlite3"
MAX_HELD_RECORDS = 2000  # kept in memory while the queue's disk refuses writes (about 3 min at 10 fps)
DROP_WARNING_INTERVAL_S = 60.0


@dataclass
class MqttSinkOptions:
    """TOML table ``[mqtt]``; an empty ``host`` means no MQTT sink."""

    host: str = ""
    port: int = 1883
    topic: str = ""  # default: au-edge/<device>/aus
    client_id: str = ""  # default: au-edge-<device>
    username: str = ""
    password_file: str = ""  # the password is read from this file, never from the TOML
    tls: bool = False
    ca_file: str = ""  # the CA that signed the broker's certificate ("" = the system's CAs)
    cert_file: str = ""  # this device's client certificate (PEM), for brokers that require one (mutual TLS)
    key_file: str = ""  # its private key (PEM)
    keepalive_s: int = 30
    state_dir: str = ""  # default: $STATE_DIRECTORY (systemd) or ./au-edge-state
    max_records: int = 100_000
    max_bytes: int = 50_000_000
    max_inflight: int = 20
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    flush_timeout_s: float = 5.0  # on shutdown, wait this long for queued records to be acknowledged

    def validate(self) -> None:
        if not 0 < self.port <= 65535:
            raise ValueError(f"mqtt.port must be 1-65535 (got {self.port})")
        if self.max_records < 1 or self.max_bytes < 1024 or self.max_inflight < 1:
            raise ValueError("mqtt.max_records and mqtt.max_inflight must be >= 1, mqtt.max_bytes >= 1024")
        if self.reconnect_min_s <= 0 or self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("mqtt.reconnect_min_s must be > 0 and <= mqtt.reconnect_max_s")
        for key in ("password_file", "ca_file", "cert_file", "key_file"):
            path = getattr(self, key)
            if path and not Path(path).is_file():
                raise ValueError(f"mqtt.{key} {path} does not exist or is not a file: fix the path or set {key} = \"\"")
        if self.password_file and Path(self.password_file).stat().st_mode & 0o077:
            raise ValueError(f"mqtt.password_file {self.password_file} may be read by group or others: "
                             f"chmod 600 {self.password_file}")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("mqtt.cert_file and mqtt.key_file go together: set both for mutual TLS, or neither")
        if (self.cert_file or self.ca_file) and not self.tls:
            raise ValueError("mqtt.ca_file / mqtt.cert_file are only used with mqtt.tls = true: set tls = true")

    def ssl_context(self) -> ssl.SSLContext:
        """The client's TLS context (broker verified against ca_file or the system's CAs)."""
        try:
            context = ssl.create_default_context(cafile=self.ca_file or None)
            if self.cert_file:
                context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"mqtt.ca_file {self.ca_file or '(system)'} / mqtt.cert_file {self.cert_file or '-'} / "
                             f"mqtt.key_file {self.key_file or '-'} do not load ({exc}): give PEM files (the key "
                             "belonging to the certificate)") from None
        return context

    def resolved_state_dir(self) -> Path:
        if self.state_dir:
            return Path(self.state_dir)
        systemd_dir = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
        return Path(systemd_dir) if systemd_dir else Path("au-edge-state")


def read_password(path: str) -> str:
    """The password in ``path`` (``mqtt.password_file``), or one line naming the key and the cause."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise setting_path_error("mqtt.password_file", path, exc, "give a readable file (mode 0600) holding "
                                 "the password") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"mqtt.password_file {path}: not UTF-8 text (bad byte at offset {exc.start}): write "
                         "the password as UTF-8 text") from None


def in_tls_handshake(exc: BaseException | None) -> bool:
    """True for an SSL error, or any error raised inside ``SSLSocket.do_handshake`` (a plaintext
    broker answers a ClientHello by closing: ECONNRESET, not an SSLError)."""
    if isinstance(exc, ssl.SSLError):
        return True
    tb = exc.__traceback__ if exc is not None else None
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "do_handshake" and tb.tb_frame.f_code.co_filename.endswith("ssl.py"):
            return True
        tb = tb.tb_next
    return False


def import_paho():
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise RuntimeError("mqtt sink: paho-mqtt is not installed: pip install 'paho-mqtt>=2' "
                           "(or pip install .[edge]), or remove [mqtt] host from the config") from None
    if not hasattr(mqtt, "CallbackAPIVersion"):
        raise RuntimeError("mqtt sink: paho-mqtt 2.x is needed: pip install -U 'paho-mqtt>=2'")
    return mqtt


class MqttSink(Sink):
    name = "mqtt"

    def __init__(self, options: MqttSinkOptions, device: str, metrics: DaemonMetrics) -> None:
        options.validate()
        mqtt = import_paho()
        self.options = options
        self.metrics = metrics
        self.topic = options.topic or f"au-edge/{device}/aus"
        password = read_password(options.password_file) if options.username and options.password_file else None
        try:
            self.queue = DiskQueue(options.resolved_state_dir() / QUEUE_FILE, options.max_records, options.max_bytes)
        except OSError as exc:
            raise setting_path_error("mqtt.state_dir", options.resolved_state_dir(), exc,
                                     "give a folder this user may write (it holds the queue of unsent records)"
                                     ) from None
        self.disk_errors = DiskWriteErrors(self.name, self.queue.path, metrics, log)
        self._held: collections.deque[bytes] = collections.deque()
        self._dropped_unreported = 0
        self._dropped_reported_at: float | None = None
        self._clock = time.monotonic
        if len(self.queue):
            log.info("mqtt: %d undelivered records from an earlier run will be sent first", len(self.queue))
        self.connected = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._acks: collections.deque[int] = collections.deque()
        self._inflight: dict[int, int] = {}  # paho mid -> queue row id
        self._mqtt = mqtt
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=options.client_id or f"au-edge-{device}",
                             clean_session=True, protocol=mqtt.MQTTv311)
        client.reconnect_delay_set(options.reconnect_min_s, options.reconnect_max_s)
        client.max_inflight_messages_set(options.max_inflight)
        if options.username:
            client.username_pw_set(options.username, password)
            if password and not options.tls:
                log.warning("mqtt: the password of %r goes to %s:%d in clear text: set mqtt.tls = true (the broker "
                            "needs a TLS listener)", options.username, options.host, options.port)
        if options.tls:
            client.tls_set_context(options.ssl_context())
        self._connect_warn = RateLimitedLog(log, interval_s=60.0)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_log = self._on_log
        self._last_error = ""
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        client.connect_async(options.host, options.port, keepalive=options.keepalive_s)
        client.loop_start()
        self._sender = threading.Thread(target=self._send_loop, name="au-edge-mqtt", daemon=True)
        self._sender.start()

    @classmethod
    def create_from_options(cls, options: MqttSinkOptions, device: str, metrics: DaemonMetrics) -> MqttSink:
        return cls(options, device, metrics)

    # --- paho callbacks (network thread): only flag and wake, never block -----------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if getattr(reason_code, "is_failure", False):
            log.warning("mqtt: broker %s:%d refused the connection: %s", self.options.host, self.options.port,
                        reason_code)
            return
        log.info("mqtt: connected to %s:%d, topic %s", self.options.host, self.options.port, self.topic)
        self.connected.set()
        self.metrics.set_gauge("mqtt_connected", 1)
        self._wake.set()

    def _on_connect_fail(self, client, userdata) -> None:
        """paho calls this inside its ``except OSError``: the exception says what failed."""
        exc = sys.exc_info()[1]
        text = describe_os_error(exc) if isinstance(exc, OSError) else "unknown error"
        self._report_connect_failure(text, in_tls_handshake(exc))

    def _on_log(self, client, userdata, level, buf) -> None:
        if level == self._mqtt.MQTT_LOG_ERR:  # e.g. "failed to receive on socket: [SSL: ...] alert ..."
            self._last_error = buf

    def _report_connect_failure(self, text: str, tls: bool) -> None:
        self.metrics.inc("mqtt_connect_failures_total", label=("cause", "tls" if tls else "network"))
        hint = (": check mqtt.tls, mqtt.ca_file, mqtt.cert_file/key_file and that this port is the broker's TLS "
                "listener" if tls else "")
        self._connect_warn.warning("connect", f"mqtt: cannot connect to {self.options.host}:{self.options.port}: "
                                              f"{'TLS handshake failed, ' if tls else ''}{text}{hint}; "
                                              f"{len(self.queue)} records kept on disk, retrying")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if self._stop.is_set():
            log.info("mqtt: disconnected from %s:%d", self.options.host, self.options.port)
        elif self.connected.is_set():
            log.warning("mqtt: disconnected from %s:%d (%s); %d records kept on disk until it is back",
                        self.options.host, self.options.port, reason_code, len(self.queue))
        else:  # closed before the broker accepted us: with TLS 1.3 a refused client certificate ends here
            text = self._last_error or str(reason_code)
            self._report_connect_failure(text, self.options.tls and any(
                word in text for word in ("SSL", "TLS", "alert", "certificate")))
        self._last_error = ""
        self.connected.clear()
        self.metrics.set_gauge("mqtt_connected", 0)

    def _on_publish(self, client, userdata, mid, reason_code=None, properties=None) -> None:
        self._acks.append(mid)
        self._wake.set()

    # --- sender thread ---------------------------------------------------------------------------
    def _apply_acks(self) -> None:
        while self._acks:
            row_id = self._inflight.pop(self._acks.popleft(), None)
            if row_id is not None:
                self.queue.remove(row_id)
                self.metrics.inc("mqtt_published_total")

    def _hand_over(self, last_handed: int) -> int:
        room = self.options.max_inflight - len(self._inflight)
        if room <= 0 or not self.connected.is_set():
            return last_handed
        for row_id, payload in self.queue.peek(after_id=last_handed, limit=room):
            info = self._client.publish(self.topic, payload, qos=1)
            if info.rc not in (self._mqtt.MQTT_ERR_SUCCESS, self._mqtt.MQTT_ERR_NO_CONN):
                log.warning("mqtt: publish refused (%s); will retry", self._mqtt.error_string(info.rc))
                break
            # paho keeps QoS 1 messages (also on NO_CONN) and re-sends them in order after reconnecting.
            self._inflight[info.mid] = row_id
            last_handed = row_id
        return last_handed

    def _send_loop(self) -> None:
        last_handed = 0
        deadline = None
        warn = RateLimitedLog(log, interval_s=30.0)
        while True:
            self._wake.wait(0.25)
            self._wake.clear()
            try:
                self._apply_acks()
                self.metrics.set_gauge("mqtt_queue_depth", len(self.queue))
                if self._stop.is_set():
                    deadline = deadline or time.monotonic() + self.options.flush_timeout_s
                    if len(self.queue) == 0 or time.monotonic() >= deadline:
                        return
                last_handed = self._hand_over(last_handed)
            except Exception as exc:  # noqa: BLE001 - the sender thread must outlive a bad row or disk hiccup
                self.metrics.inc("sink_errors_total", label=("sink", self.name))
                warn.warning("send", f"mqtt: sender error, retrying: {exc!r}")
                if self._stop.wait(1.0) and deadline is not None and time.monotonic() >= deadline:
                    return

    # --- Sink interface --------------------------------------------------------------------------
    def emit(self, record: Record) -> None:
        self._held.append(json.dumps(record, separators=(",", ":"), allow_nan=False).encode())
        while len(self._held) > MAX_HELD_RECORDS:
            self._held.popleft()
            self.metrics.inc("records_lost_total", label=("sink", self.name))
        try:
            while self._held:
                try:
                    dropped = self.queue.append(self._held[0])
                except ValueError:  # larger than the whole queue: it can never be stored
                    self._held.popleft()
                    raise
                self._held.popleft()
                if dropped:
                    self._report_dropped(dropped)
        except QueueWriteError as exc:
            self.disk_errors.failed(exc.__cause__ or exc, len(self._held))
            return
        self.disk_errors.succeeded()
        self._wake.set()

    def _report_dropped(self, dropped: int) -> None:
        """Count every dropped record; say so in the log at most once a minute, with the total since."""
        self.metrics.inc("mqtt_queue_dropped_total", dropped)
        self._dropped_unreported += dropped
        now = self._clock()
        if self._dropped_reported_at is not None and now - self._dropped_reported_at < DROP_WARNING_INTERVAL_S:
            return
        log.warning("mqtt: queue %s is full (bound: mqtt.max_records = %d, mqtt.max_bytes = %d): dropped the %d "
                    "oldest undelivered records%s; is the broker %s:%d reachable?", self.queue.path,
                    self.queue.max_records, self.queue.max_bytes, self._dropped_unreported,
                    "" if self._dropped_reported_at is None else f" in the last {now - self._dropped_reported_at:.0f} s",
                    self.options.host, self.options.port)
        self._dropped_unreported = 0
        self._dropped_reported_at = now

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued record is acknowledged (True) or ``timeout_s`` passes (False)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if len(self.queue) == 0:
                return True
            time.sleep(0.05)
        return len(self.queue) == 0

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        self._sender.join(timeout=self.options.flush_timeout_s + 2)
        if self._held:
            log.warning("mqtt: %d records could not be stored in %s (%d failed writes) and are lost", len(self._held),
                        self.queue.path, self.disk_errors.failures)
        left = len(self.queue)
        if left:
            log.warning("mqtt: %d records not yet acknowledged stay in %s for the next run", left, self.queue.path)
        self._client.disconnect()
        self._client.loop_stop()
        self.queue.close()
