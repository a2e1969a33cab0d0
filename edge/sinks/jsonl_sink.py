"""JSON-lines sink: one record per line, size-based rotation, a bounded number of old files.

Why rotation here rather than logrotate: the service runs under ``ProtectSystem=strict`` with its
own state directory, and a Pi's SD card must never fill up, so the sink itself bounds disk use:
at most ``(keep + 1) * max_bytes``. A record is never split across files. ``flush_every`` trades
SD-card writes against what a power cut may lose; close() (SIGTERM) always flushes. A full disk
never leaves half a line: see :class:`JsonlSink`.
"""

from __future__ import annotations

import collections
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.os_errors import setting_path_error
from auedge.edge.sinks.base import DiskWriteErrors, Record, Sink

log = logging.getLogger("auedge.edge.sinks.jsonl")

MAX_HELD_BYTES = 1_000_000  # lines kept in memory while the disk refuses them (about 3 min at 10 fps)


@dataclass
class JsonlSinkOptions:
    """TOML table ``[jsonl]``; an empty ``path`` disables the sink."""

    path: str = ""
    max_bytes: int = 10_000_000
    keep: int = 5
    flush_every: int = 1  # records between flushes (1 = every record)
    fsync: bool = False  # also fsync on flush (safer on power loss, more SD wear)

    def validate(self) -> None:
        if self.max_bytes < 1024:
            raise ValueError(f"jsonl.max_bytes must be >= 1024 (got {self.max_bytes})")
        if self.keep < 0 or self.flush_every < 1:
            raise ValueError("jsonl.keep must be >= 0 and jsonl.flush_every >= 1")


def rotated_name(path: Path, n: int) -> Path:
    return path.with_name(f"{path.name}.{n}")


def repair_tail(fd: int, path: Path, logger: logging.Logger) -> int:
    """Cut a partial last line (left by a crash or a full disk) so the file is whole JSON lines; its size."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        if end == size and chunk.endswith(b"\n"):
            return size
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    os.ftruncate(fd, end)
    logger.warning("jsonl: %s ended in a partial line (%d bytes, from a crash or a full disk): cut it", path,
                   size - end)
    return end


class JsonlSink(Sink):
    """Lines are written with ``os.write`` from whole-line buffers, never through a stdio buffer that
    may flush half a line: a write that fails part-way (ENOSPC) is cut back with ``ftruncate``, the
    lines stay in memory (at most ``MAX_HELD_BYTES``, oldest lost first and counted) and are retried
    with the next record."""

    name = "jsonl"

    def __init__(self, path: str | Path, max_bytes: int = 10_000_000, keep: int = 5, flush_every: int = 1,
                 fsync: bool = False, metrics: DaemonMetrics | None = None) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self.flush_every = flush_every
        self.fsync = fsync
        self.metrics = metrics or DaemonMetrics()
        self.errors = DiskWriteErrors(self.name, self.path, self.metrics, log)
        self._closed = False
        self._fd: int | None = None
        self._size = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._reopen()
        except OSError as exc:
            raise setting_path_error("jsonl.path", self.path, exc, "give a file in a folder this user may write, "
                                     'or jsonl.path = "" for no records file') from None
        self._held: collections.deque[bytes] = collections.deque()  # whole lines not yet written
        self._held_bytes = 0
        self._os_write = os.write  # tests replace it to simulate a full disk

    def _reopen(self) -> None:
        # 0640: records are personal data; the service's group may read them, others not.
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o640)
        self._size = repair_tail(self._fd, self.path, log)

    @classmethod
    def create_from_options(cls, options: JsonlSinkOptions, metrics: DaemonMetrics | None = None) -> JsonlSink:
        options.validate()
        return cls(options.path, options.max_bytes, options.keep, options.flush_every, options.fsync, metrics)

    @property
    def held(self) -> int:
        """Lines waiting in memory (not yet on disk)."""
        return len(self._held)

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = None
        if self.keep > 0:
            rotated_name(self.path, self.keep).unlink(missing_ok=True)
            for n in range(self.keep - 1, 0, -1):
                older = rotated_name(self.path, n)
                if older.exists():
                    os.replace(older, rotated_name(self.path, n + 1))
            os.replace(self.path, rotated_name(self.path, 1))
        else:
            self.path.unlink(missing_ok=True)
        self._reopen()

    def emit(self, record: Record) -> None:
        if self._closed:
            raise RuntimeError("jsonl sink is closed")
        line = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()
        self._held.append(line)
        self._held_bytes += len(line)
        while self._held_bytes > MAX_HELD_BYTES and len(self._held) > 1:
            self._held_bytes -= len(self._held.popleft())
            self.metrics.inc("records_lost_total", label=("sink", self.name))
        if len(self._held) >= self.flush_every:
            self._flush()

    def _write_line(self, line: bytes) -> None:
        """All of ``line`` or, on an error, none of it (cut back to the last whole line)."""
        if self._fd is None:  # a rotation failed half-way (no space for the new file): try again
            self._reopen()
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        view = memoryview(line)
        try:
            while view:
                view = view[self._os_write(self._fd, view):]
        except OSError:
            os.ftruncate(self._fd, self._size)
            raise
        self._size += len(line)

    def _flush(self) -> None:
        try:
            while self._held:
                self._write_line(self._held[0])
                self._held_bytes -= len(self._held.popleft())
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            self.errors.failed(exc, len(self._held))
            return
        self.errors.succeeded()

    def close(self) -> None:
        if self._closed:
            return
        self._flush()
        self._closed = True
        if self._held:
            log.warning("jsonl: %d records could not be written to %s and are lost", len(self._held), self.path)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
