"""A bounded HTTP/1.0 server for the HTTP sink: what the stdlib ``ThreadingHTTPServer`` leaves open.

``ThreadingHTTPServer`` starts a thread per connection, waits forever for request headers and
prints a traceback for every client that goes away: 300 idle (slowloris) connections held 300
threads and file descriptors, and at an open-file limit of 256 they starved the frame loop.
:class:`BoundedHTTPServer` adds, and nothing else:

* a connection cap: at most ``max_connections`` (and never more than a quarter of the process's
  open-file limit, so HTTP clients cannot take the descriptors the camera and the sinks need);
  one more gets a short ``503`` and is closed at once (then accepting pauses 1 ms, so a client
  that reconnects in a loop cannot keep this thread busy). Workers come from a pool of that size.
* at most ``max_per_client`` of them from one IP address, so one slow or hostile host cannot take
  every slot from the others (a monitor's /healthz still gets through).
* a listen backlog of ``backlog`` (the stdlib's 5 made a burst of requests wait for SYN retries).
* a header deadline: request line and headers must arrive within ``header_timeout_s`` in total
  (not per read, which a client sending one byte a second would defeat); then a write timeout.
* an HTTP/0.9 request line (``GET /healthz`` with no version) is answered with 400 and closed.
* ``accept()`` failing with EMFILE pauses accepting briefly (the stdlib loop would spin a core).
* a client that goes away is one debug line, not a traceback on stderr.

Why not aiohttp (which the brief suggests for this): its request handler has no header deadline
either (its keep-alive timeout applies between requests) and no connection cap, so the same code
would be needed on top of about 8 MB of extra packages on a Pi; these few limits are stdlib-only.
"""

from __future__ import annotations

import errno
import io
import logging
import resource
import socket
import socketserver
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler

from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.os_errors import describe_os_error
from auedge.edge.sinks.base import RateLimitedLog

log = logging.getLogger("auedge.edge.sinks.http")

BUSY_RESPONSE = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                 b"Retry-After: 1\r\nContent-Length: 29\r\n\r\ntoo many connections, retry\r\n")
REFUSAL_PAUSE_S = 0.001
OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
CLIENT_GONE = (ConnectionError, TimeoutError, ssl.SSLError)


def descriptor_share(requested: int, share: float = 0.25) -> int:
    """``requested`` connections, but at most ``share`` of the soft open-file limit (at least 1)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return requested
    return max(1, min(requested, int(soft * share)))


class DeadlineReader(io.RawIOBase):
    """Reads from a socket until ``deadline`` (time.monotonic), however slowly the bytes arrive."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request headers not complete within http.header_timeout_s")
        self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


class SocketWriter(io.BufferedIOBase):
    """``sendall`` behind a file interface (a raw socket file may write only part of a buffer)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.sock.sendall(data)
        return len(data)


class BoundedHTTPServer(socketserver.TCPServer):
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[GuardedHandler], *, max_connections: int,
                 max_per_client: int, backlog: int, header_timeout_s: float, write_timeout_s: float, metrics: DaemonMetrics,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.request_queue_size = backlog  # read by server_activate() inside TCPServer.__init__
        self.max_connections = descriptor_share(max_connections)
        if self.max_connections < max_connections:
            log.warning("http: serving at most %d connections (a quarter of the open-file limit), not %d",
                        self.max_connections, max_connections)
        self.max_per_client = min(max_per_client, self.max_connections)
        self._per_client: dict[str, int] = {}
        self.header_timeout_s = header_timeout_s
        self.write_timeout_s = write_timeout_s
        self.metrics = metrics
        self.ssl_context = ssl_context
        self._slots = threading.BoundedSemaphore(self.max_connections)
        self._pool = ThreadPoolExecutor(self.max_connections, thread_name_prefix="au-edge-http")
        self._warn = RateLimitedLog(log, interval_s=60.0)
        self._closing = threading.Event()
        self._active: set[socket.socket] = set()
        self._active_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self):
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in OUT_OF_DESCRIPTORS:  # the listening socket stays readable: do not spin
                self.metrics.inc("http_accept_errors_total")
                self._warn.warning("accept", f"http: cannot accept a connection: {describe_os_error(exc)}; "
                                             "pausing new connections")
                self._closing.wait(0.2)
            raise

    def _admit(self, client: str) -> bool:
        with self._active_lock:
            if self._per_client.get(client, 0) >= self.max_per_client:
                return False
            if not self._slots.acquire(blocking=False):
                return False
            self._per_client[client] = self._per_client.get(client, 0) + 1
            return True

    def _leave(self, client: str) -> None:
        with self._active_lock:
            left = self._per_client.pop(client) - 1
            if left:
                self._per_client[client] = left
            self._slots.release()

    def process_request(self, request, client_address) -> None:
        if not self._admit(client_address[0]):
            self.metrics.inc("http_rejected_total")
            try:
                request.setblocking(False)
                request.send(BUSY_RESPONSE)
            except OSError:
                pass
            self.shutdown_request(request)
            # A client re-connecting the moment it is refused would otherwise keep this thread (and
            # the GIL) busy: at most about a thousand refusals a second; the others wait in the backlog.
            time.sleep(REFUSAL_PAUSE_S)
            return
        try:
            self._pool.submit(self._serve, request, client_address)
        except RuntimeError:  # pool shut down: closing
            self._leave(client_address[0])
            self.shutdown_request(request)

    def _serve(self, request, client_address) -> None:
        raw = request
        with self._active_lock:
            self._active.add(raw)
        try:
            if self.ssl_context is not None:  # the TLS handshake is a read like the headers: same deadline
                request.settimeout(self.header_timeout_s)
                request = self.ssl_context.wrap_socket(request, server_side=True)
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - reported by handle_error, like socketserver does
            self.handle_error(request, client_address)
        finally:
            with self._active_lock:
                self._active.discard(raw)
            self.shutdown_request(request)
            self._leave(client_address[0])

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, CLIENT_GONE) or (isinstance(exc, OSError) and exc.errno in (errno.EPIPE, errno.EBADF)):
            log.debug("http %s:%s: connection ended: %s", *client_address[:2], exc or "closed")
        else:
            log.warning("http %s:%s: error serving a request: %r", *client_address[:2], exc, exc_info=exc)

    def server_close(self) -> None:
        """Also ends every open connection, so no worker outlives the sink by a timeout."""
        self._closing.set()
        super().server_close()
        with self._active_lock:
            for sock in self._active:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._pool.shutdown(wait=False, cancel_futures=True)


class GuardedHandler(BaseHTTPRequestHandler):
    """A request handler under the server's header deadline and write timeout; one request per connection."""

    server: BoundedHTTPServer
    server_version = "au-edge"

    def setup(self) -> None:
        # Not StreamRequestHandler.setup: its socket files would keep the descriptor open after close().
        self.connection = self.request
        deadline = time.monotonic() + self.server.header_timeout_s
        self.rfile = io.BufferedReader(DeadlineReader(self.connection, deadline))
        self.wfile = SocketWriter(self.connection)

    def log_message(self, format: str, *args) -> None:
        log.debug("http %s - %s", self.address_string(), format % args)

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()

    def handle_one_request(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            return
        if len(self.raw_requestline) > 65536:
            self.requestline, self.request_version, self.command = "", "HTTP/1.0", ""
            self.send_error(414)
            return
        if len(self.raw_requestline.split()) == 2:  # "GET /path": HTTP/0.9 has no headers to wait for
            self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
            self.request_version, self.command = "HTTP/1.0", ""
            self.send_error(400, "HTTP/0.9 is not supported: send 'GET /healthz HTTP/1.1'")
            return
        if not self.parse_request():
            return
        self.connection.settimeout(self.server.write_timeout_s)
        method = getattr(self, "do_" + self.command, None)
        if method is None:
            self.send_error(501, f"unsupported method {self.command!r}")
            return
        method()
        self.wfile.flush()
