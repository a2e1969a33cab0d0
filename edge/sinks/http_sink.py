"""Local HTTP sink: a live page, health, latest record, a server-sent-events stream and Prometheus metrics.

Stdlib only (:mod:`auedge.edge.sinks.http_server`, which bounds connections, header time and
descriptors) so a Pi needs nothing extra. Binds 127.0.0.1 by default: exposing AU records on the
network is a deliberate choice (set ``host = "0.0.0.0"``). Port 0 binds an ephemeral port,
reported by :attr:`HttpSink.port` and logged.

    GET /         the live page (live_page.html): each AU of each face over the last minutes, from
                  /events; no frame is ever sent, the records hold none
    GET /healthz  200 {"status": "ok", "last_frame_age_s": ...}; 503 when no frame for stale_after_s
    GET /latest   the last record (404 before the first)
    GET /events   text/event-stream, one ``event: record`` per record, ``: keepalive`` when idle
    GET /metrics  Prometheus text format (DaemonMetrics.render_prometheus)
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import queue
import re
import threading
from dataclasses import dataclass
from importlib import resources

from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.sinks.base import Record, Sink
from auedge.edge.sinks.http_auth import (
    HostCheck,
    bearer_matches,
    check_file,
    is_loopback,
    load_token,
    make_ssl_context,
)
from auedge.edge.sinks.http_server import CLIENT_GONE, BoundedHTTPServer, GuardedHandler

log = logging.getLogger("auedge.edge.sinks.http")

PATHS = ["/", "/healthz", "/latest", "/events", "/metrics"]
# With a token, these need it. / is the page's code without data (a browser cannot send a header
# when it navigates; the page sends the token from #token=... on its requests); /healthz is for
# liveness probes and says only whether frames flow.
PROTECTED = {"/latest", "/events", "/metrics"}


@dataclass
class HttpSinkOptions:
    """TOML table ``[http]``."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    stale_after_s: float = 10.0
    max_clients: int = 8  # concurrent /events streams (the live page holds one)
    keepalive_s: float = 5.0
    max_connections: int = 32  # all connections at once, streams included; one more gets 503
    max_per_client: int = 8  # connections at once from one IP address (one slow host cannot take them all)
    backlog: int = 128  # connections the kernel queues before accept
    header_timeout_s: float = 5.0  # request line and headers must arrive within this, in total
    write_timeout_s: float = 10.0  # a client that reads nothing for this long is dropped
    token_file: str = ""  # a secret (16+ chars, mode 0600): /latest, /events, /metrics then need "Bearer <it>"
    allow_unauthenticated: bool = False  # needed to serve a non-loopback host without token_file
    allowed_hosts: str = ""  # more Host header names to accept (IP literals, localhost, this host's name always are)
    cert_file: str = ""  # PEM certificate (chain): serve HTTPS
    key_file: str = ""  # its PEM private key

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"http.port must be 0-65535 (got {self.port})")
        if self.stale_after_s <= 0 or self.max_clients < 1 or self.keepalive_s <= 0:
            raise ValueError("http.stale_after_s and http.keepalive_s must be > 0, http.max_clients >= 1")
        if not 1 <= self.max_connections <= 10_000 or not 1 <= self.backlog <= 65535:
            raise ValueError(f"http.max_connections must be 1-10000 (got {self.max_connections}) and "
                             f"http.backlog 1-65535 (got {self.backlog})")
        if self.max_per_client < 1:  # above max_connections it is simply max_connections
            raise ValueError(f"http.max_per_client must be >= 1 (got {self.max_per_client})")
        if self.max_clients > self.max_connections:
            raise ValueError(f"http.max_clients ({self.max_clients}) must be <= http.max_connections "
                             f"({self.max_connections}): each /events stream holds a connection")
        if self.header_timeout_s <= 0 or self.write_timeout_s <= 0:
            raise ValueError("http.header_timeout_s and http.write_timeout_s must be > 0")
        if self.token_file:
            load_token(self.token_file)
        elif self.enabled and not is_loopback(self.host) and not self.allow_unauthenticated:
            raise ValueError(f"http.host {self.host!r} serves AU records to the network: set http.token_file "
                             "(a secret in a file of mode 0600) or, knowingly, http.allow_unauthenticated = true")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("http.cert_file and http.key_file go together: set both for HTTPS, or neither")
        for key in ("cert_file", "key_file"):
            if getattr(self, key):
                check_file(f"http.{key}", getattr(self, key))


def live_page() -> bytes:
    return resources.files("auedge.edge.sinks").joinpath("live_page.html").read_bytes()


def content_security_policy(page: bytes) -> str:
    """Only the page's own <script> and <style> blocks may run (their sha256), nothing may be loaded
    from elsewhere, and only this origin may be fetched: even an altered copy of the page (or a
    record field rendered as HTML by mistake) cannot run other code or send data away."""
    text = re.sub(r"<!--.*?-->", "", page.decode("utf-8"), flags=re.DOTALL)

    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks)

    return (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; connect-src 'self'; "
            "img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class _Handler(GuardedHandler):
    sink: HttpSink

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data) -> None:
        self._send(status, (json.dumps(data) + "\n").encode(), "application/json")

    def do_GET(self) -> None:
        sink = self.sink
        path = self.path.split("?", 1)[0]
        if not sink.host_check.allows(self.headers.get("Host")):
            self._json(403, {"error": f"Host {self.headers.get('Host')!r} is not served here: add it to "
                                      "http.allowed_hosts"})
            return
        if sink.token and path in PROTECTED and not bearer_matches(self.headers.get("Authorization"), sink.token):
            self._send(401, b'{"error": "send Authorization: Bearer <the secret in http.token_file>"}\n',
                       "application/json", {"WWW-Authenticate": 'Bearer realm="au-edge"'})
            return
        if path == "/":
            self._send(200, sink.page, "text/html; charset=utf-8", {
                "Content-Security-Policy": sink.page_policy, "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer"})
        elif path == "/healthz":
            status, body = sink.health()
            self._json(status, body)
        elif path == "/latest":
            record = sink.latest
            if record is None:
                self._json(404, {"error": "no record yet"})
            else:
                self._json(200, record)
        elif path == "/metrics":
            self._send(200, sink.metrics.render_prometheus().encode(), "text/plain; version=0.0.4; charset=utf-8")
        elif path == "/events":
            self._stream_events(sink)
        else:
            self._json(404, {"error": f"unknown path {path}", "paths": PATHS})

    def _stream_events(self, sink: HttpSink) -> None:
        subscriber = sink.subscribe()
        if subscriber is None:
            self._json(503, {"error": "too many /events clients"})
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Accel-Buffering", "no")
            self.end_headers()
            self.wfile.write(b"retry: 2000\n\n")
            while not sink.closing.is_set():
                try:
                    item = subscriber.get(timeout=sink.options.keepalive_s)
                except queue.Empty:
                    self.wfile.write(b": keepalive\n\n")
                    continue
                if item is None:  # sink closing
                    break
                self.wfile.write(item)
        except (*CLIENT_GONE, OSError) as exc:
            log.debug("http %s: /events client went away: %s", self.client_address[0], exc)
        finally:
            sink.unsubscribe(subscriber)


class HttpSink(Sink):
    name = "http"

    def __init__(self, options: HttpSinkOptions, metrics: DaemonMetrics) -> None:
        options.validate()
        self.options = options
        self.metrics = metrics
        self.latest: Record | None = None
        self.closing = threading.Event()
        self._subscribers: list[queue.Queue] = []
        self._lock = threading.Lock()
        self.page = live_page()
        self.page_policy = content_security_policy(self.page)
        self.token = load_token(options.token_file) if options.token_file else ""
        self.host_check = HostCheck(options.allowed_hosts, options.host)
        ssl_context = make_ssl_context(options.cert_file, options.key_file) if options.cert_file else None
        self.scheme = "https" if ssl_context else "http"
        handler = type("Handler", (_Handler,), {"sink": self})
        try:
            self._server = BoundedHTTPServer(
                (options.host, options.port), handler, max_connections=options.max_connections,
                max_per_client=options.max_per_client, backlog=options.backlog,
                header_timeout_s=options.header_timeout_s,
                write_timeout_s=options.write_timeout_s, metrics=metrics, ssl_context=ssl_context)
        except OSError as exc:
            raise OSError(f"http sink: cannot listen on {options.host}:{options.port} ({exc.strerror}): "
                          "choose another http.port (0 = any free port)") from None
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="au-edge-http", daemon=True)
        self._thread.start()
        log.info("http sink listening on %s (live page; /healthz /latest /events /metrics)%s", self.url,
                 "; /latest /events /metrics need the bearer token" if self.token else "")

    @classmethod
    def create_from_options(cls, options: HttpSinkOptions, metrics: DaemonMetrics) -> HttpSink:
        return cls(options, metrics)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def health(self) -> tuple[int, dict]:
        age = self.metrics.last_frame_age()
        frames = int(self.metrics.get("frames_total"))
        if age is None:
            ok = self.metrics.uptime() <= self.options.stale_after_s
            return (200 if ok else 503), {"status": "starting" if ok else "stale", "last_frame_age_s": None,
                                          "frames_total": frames}
        ok = age <= self.options.stale_after_s
        return (200 if ok else 503), {"status": "ok" if ok else "stale", "last_frame_age_s": round(age, 3),
                                      "frames_total": frames}

    def subscribe(self) -> queue.Queue | None:
        with self._lock:
            if len(self._subscribers) >= self.options.max_clients:
                return None
            subscriber: queue.Queue = queue.Queue(maxsize=64)
            self._subscribers.append(subscriber)
            return subscriber

    def unsubscribe(self, subscriber: queue.Queue) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def emit(self, record: Record) -> None:
        self.latest = record
        with self._lock:
            subscribers = list(self._subscribers)
        if not subscribers:
            return
        event = f"id: {record.get('frame', '')}\nevent: record\ndata: {json.dumps(record)}\n\n".encode()
        for subscriber in subscribers:
            try:
                subscriber.put_nowait(event)
            except queue.Full:  # a slow client loses events rather than slowing the loop
                pass

    def close(self) -> None:
        if self.closing.is_set():
            return
        self.closing.set()
        with self._lock:
            for subscriber in self._subscribers:
                try:
                    subscriber.put_nowait(None)
                except queue.Full:
                    pass
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
