"""Keeping the camera alive: a reader thread per source, stall detection, reopen with back-off.

Why a thread: a stalled camera (picamera2 is known to hang in ``capture_array`` after hours)
blocks ``read()`` forever, so the loop cannot notice from inside the call. The reader thread owns
``read()``; the loop waits on a small queue and, when no frame has come for ``stall_timeout_s``
or the reader reports a :class:`SourceError`, closes the source (which usually unblocks the
reader; if not, that thread is abandoned - it only holds a dead handle) and opens a fresh one,
waiting ``backoff`` between failed attempts (exponential, capped). Every attempt is counted in
``camera_reopens_total``.

Across reopens (each one a fresh instance from the factory) the supervisor keeps what must not
restart: the frame number (one counter per run, so records, SSE ids, MQTT de-dup and debug JPEG
names keep rising) and, for a file source, the last frame handed out, after which the new
instance resumes (:meth:`FrameSource.resume_after`): a video or folder never rewinds to its start.
A paced file source (``?fps=``) waits in ``read`` on purpose, so its stall timeout is
``stall_timeout_s`` plus the pacer period: a slow replay is not a stall, while a read that truly
hangs (a dead network mount) is still caught.

Live sources (cameras) drop the oldest waiting frame when inference is slower than the camera
(``frames_dropped_total``): a stale frame is worth less than a fresh one. File sources block
instead, so every frame of a video or folder is processed.

A retired reader (reopen, or :meth:`SourceSupervisor.close` at the end of a run) is waited for, up
to ``RETIRE_TIMEOUT_S`` for closing its source and leaving ``read()``, before the supervisor goes
on. Why: ``read()`` runs native code (OpenCV's cvtColor for picamera2's YUV420 lores stream, a
video decoder), and a daemon thread still inside OpenCV when Python finalises aborts the whole
process: CPython 3.11-3.13 end such a thread with ``pthread_exit`` when it takes the GIL back, the
unwind meets the ``noexcept`` destructor of OpenCV's GIL guard, and the C++ runtime says
"terminate called without an active exception" (SIGABRT, after a clean run; python/cpython#87135,
pytorch/pytorch#38228). Reader threads stay ``daemon=True`` so that one truly hung in a dead
camera still cannot keep the process from exiting: that one is abandoned with a warning.

Also here: :class:`SystemdNotifier`, the few lines of ``sd_notify`` needed for ``Type=notify``
and ``WatchdogSec=`` without a dependency (a hung loop then gets the service restarted).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.sources.base import Frame, FrameSource, SourceError

log = logging.getLogger("auedge.edge.watchdog")

END = object()  # the source ended (finite stream)
RETIRE_TIMEOUT_S = 5.0  # for a retired source to close and its reader to leave read(); then abandoned


class SourceGaveUp(SourceError):
    """Reopening failed ``max_attempts`` times in a row: exit and let systemd restart the process.

    A camera held by a hung, abandoned handle is often only freed when the process exits.
    """


@dataclass
class Backoff:
    """Exponential back-off: ``initial_s``, doubled each failure, capped at ``max_s``; reset on success."""

    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    current_s: float = 0.0

    def next_delay(self) -> float:
        self.current_s = self.initial_s if self.current_s <= 0 else min(self.max_s, self.current_s * self.factor)
        return self.current_s

    def reset(self) -> None:
        self.current_s = 0.0


class _Reader:
    """One reader thread bound to one opened source instance (one 'generation')."""

    def __init__(self, source: FrameSource, out: queue.Queue, metrics: DaemonMetrics, stop: threading.Event) -> None:
        self.source = source
        self.out = out
        self.metrics = metrics
        self.stop = stop
        self.retired = threading.Event()
        self.thread = threading.Thread(target=self._run, name="au-edge-reader", daemon=True)

    def _put(self, item) -> None:
        if self.source.live:
            while True:
                try:
                    self.out.put_nowait((self, item))
                    return
                except queue.Full:
                    try:
                        self.out.get_nowait()
                        self.metrics.inc("frames_dropped_total")
                    except queue.Empty:
                        pass
        while not (self.stop.is_set() or self.retired.is_set()):
            try:
                self.out.put((self, item), timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        while not (self.stop.is_set() or self.retired.is_set()):
            try:
                frame = self.source.read()
            except SourceError as exc:
                if not self.retired.is_set():
                    self._put(exc)
                return
            except Exception as exc:  # noqa: BLE001 - any read failure means "reopen"
                if not self.retired.is_set():
                    self._put(SourceError(f"{self.source!r}: read failed: {exc!r}"))
                return
            if self.retired.is_set():
                return
            self._put(END if frame is None else frame)
            if frame is None:
                return


class SourceSupervisor:
    """Yields frames from a source made by ``factory``, reopening it when it stalls or fails.

    ``next_frame()`` returns a :class:`Frame`, or None when the stream ended or ``stop`` was set.
    It sets ``Frame.index``: one rising count of the frames handed out in this run, whatever the
    source numbered them (dropped camera frames are counted in ``frames_dropped_total`` instead).
    The first open is not retried: a source that cannot be opened at start-up is a configuration
    problem and raises :class:`SourceError` to the caller.
    """

    def __init__(self, factory: Callable[[], FrameSource], metrics: DaemonMetrics, stop: threading.Event,
                 stall_timeout_s: float = 10.0, backoff: Backoff | None = None, queue_size: int = 2,
                 heartbeat: Callable[[], None] | None = None, max_attempts: int = 0) -> None:
        self.factory = factory
        self.max_attempts = max_attempts  # consecutive failed reopens before giving up (0 = never)
        self.heartbeat = heartbeat or (lambda: None)
        self.metrics = metrics
        self.stop = stop
        self.stall_timeout_s = stall_timeout_s
        self.backoff = backoff or Backoff()
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._reader: _Reader | None = None
        self._last_frame_at = time.monotonic()
        self._stall_limit_s = stall_timeout_s
        self._next_index = 0  # frame numbers survive reopens: the factory makes a new source each time
        self._last: Frame | None = None  # the last frame handed out: where a file source resumes
        self.generation = 0  # +1 per successful reopen: frames before and after are not continuous
        self._abandoned: list[threading.Thread] = []  # readers and closers that outlived RETIRE_TIMEOUT_S

    def start(self) -> None:
        source = self.factory()
        source.open()
        self._start_reader(source)

    def _start_reader(self, source: FrameSource) -> None:
        self._reader = _Reader(source, self._queue, self.metrics, self.stop)
        self._stall_limit_s = self.stall_timeout_s + source.pace_period_s  # pacing is not a stall
        self._reader.thread.start()
        self._last_frame_at = time.monotonic()

    def _open_again(self) -> FrameSource:
        """A fresh, opened source; a file source is moved to just after the last frame handed out."""
        source = self.factory()
        source.open()
        if source.live or self._last is None:
            return source
        try:
            resumed = source.resume_after(self._last)
        except BaseException:
            _close_quietly(source)
            raise
        if not resumed:
            log.warning("source: %r cannot resume after frame %d; it restarts wherever it opens",
                        source, self._last.index)
        return source

    def _hand_out(self, frame: Frame) -> Frame:
        """Number ``frame`` from the run-wide counter and remember it as the resume point."""
        frame.index = self._next_index
        self._next_index += 1
        self._last = frame
        return frame

    def _retire_current(self, deadline: float | None = None) -> None:
        """Close the current source and wait until its reader thread has ended, up to ``deadline``
        (``time.monotonic()``; default ``RETIRE_TIMEOUT_S`` from now)."""
        reader, self._reader = self._reader, None
        if reader is None:
            return
        reader.retired.set()
        deadline = time.monotonic() + RETIRE_TIMEOUT_S if deadline is None else deadline
        closer = threading.Thread(target=_close_quietly, args=(reader.source,), name="au-edge-close", daemon=True)
        closer.start()
        for thread, doing in ((closer, "close"), (reader.thread, "return from read()")):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))  # a hung camera is abandoned, not awaited
            if thread.is_alive():
                log.warning("source %r did not %s within %g s; abandoning it", reader.source, doing,
                            RETIRE_TIMEOUT_S)
                self._abandoned.append(thread)
        while True:  # frames of the old generation are stale
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break

    def _reopen(self, why: str) -> bool:
        """Close and reopen until it works or stop is set; True when a new reader runs.

        Raises :class:`SourceGaveUp` after ``max_attempts`` consecutive failures.
        """
        log.warning("source: %s; reopening", why)
        self._retire_current()
        failures = 0
        while not self.stop.is_set():
            if self.max_attempts and failures >= self.max_attempts:
                raise SourceGaveUp(f"source {why}; {failures} reopen attempts failed: exiting so that the "
                                   "service manager restarts the process (check the camera and the journal)")
            delay = self.backoff.next_delay()
            if self._sleep(delay):
                return False
            self.metrics.inc("camera_reopens_total")
            try:
                source = self._open_again()
            except Exception as exc:  # noqa: BLE001 - keep trying with longer waits
                failures += 1
                log.warning("source: reopen failed (%s); next try in %.3g s", exc,
                            min(self.backoff.max_s, delay * self.backoff.factor))
                continue
            log.info("source: reopened %r", source)
            self.generation += 1
            self._start_reader(source)
            return True
        return False

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` (still pinging the systemd watchdog); True if stop was set meanwhile."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.heartbeat()
            if self.stop.wait(min(left, 1.0)):
                return True
        return self.stop.is_set()

    def next_frame(self) -> Frame | None:
        while not self.stop.is_set():
            self.heartbeat()
            if self._reader is None:
                return None
            try:
                reader, item = self._queue.get(timeout=0.1)
            except queue.Empty:
                if time.monotonic() - self._last_frame_at > self._stall_limit_s:
                    self.metrics.inc("source_stalls_total")
                    if not self._reopen(f"no frame for {self._stall_limit_s:g} s"):
                        return None
                continue
            if reader is not self._reader:
                continue  # from a retired generation
            if item is END:
                return None
            if isinstance(item, SourceError):
                if not self._reopen(str(item)):
                    return None
                continue
            self._last_frame_at = time.monotonic()
            self.backoff.reset()
            return self._hand_out(item)
        return None

    def close(self) -> None:
        """Retire the current reader, then give readers abandoned at earlier reopens one more chance to
        end (``RETIRE_TIMEOUT_S`` in all): no reader should still be inside ``read()`` at exit."""
        deadline = time.monotonic() + RETIRE_TIMEOUT_S
        earlier = list(self._abandoned)
        self._retire_current(deadline)
        for thread in earlier:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._abandoned = [thread for thread in self._abandoned if thread.is_alive()]
        if self._abandoned:
            log.warning("%d source thread(s) still hung at exit: %s", len(self._abandoned),
                        ", ".join(thread.name for thread in self._abandoned))


def _close_quietly(source: FrameSource) -> None:
    try:
        source.close()
    except Exception as exc:  # noqa: BLE001 - closing a broken source may fail; we move on
        log.debug("source close failed: %r", exc)


class SystemdNotifier:
    """``sd_notify`` over ``$NOTIFY_SOCKET`` (no-op when not started by systemd with Type=notify)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        self.watchdog_interval_s = int(usec) / 2e6 if usec.isdigit() else 0.0
        self._last_ping = 0.0

    def notify(self, message: str) -> None:
        if not self.address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), self.address)
        except OSError as exc:
            log.debug("sd_notify failed: %r", exc)

    def ready(self) -> None:
        self.notify("READY=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def ping(self) -> None:
        """WATCHDOG=1 at most every half ``WatchdogSec``; call from the loop, so a hung loop stops pinging."""
        if not self.watchdog_interval_s:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_interval_s:
            self._last_ping = now
            self.notify("WATCHDOG=1")
