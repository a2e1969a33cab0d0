"""JSON-lines sink: one record per line, size-based rotation, a bounded number of old files.

Why rotation here rather than logrotate: the service runs under ``ProtectSystem=strict`` with its
own state directory, and a Pi's SD card must never fill up, so the sink itself bounds disk use:
at most ``(keep + 1) * max_bytes``. A record is never split across files. ``flush_every`` trades
SD-card writes against what a power cut may lose; close() (SIGTERM) always flushes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from auedge.edge.sinks.base import Record, Sink


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


class JsonlSink(Sink):
    name = "jsonl"

    def __init__(self, path: str | Path, max_bytes: int = 10_000_000, keep: int = 5, flush_every: int = 1,
                 fsync: bool = False) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        self.flush_every = flush_every
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "ab")  # noqa: SIM115 - held open for the sink's life
        self._size = self._handle.tell()
        self._unflushed = 0

    @classmethod
    def create_from_options(cls, options: JsonlSinkOptions) -> JsonlSink:
        options.validate()
        return cls(options.path, options.max_bytes, options.keep, options.flush_every, options.fsync)

    def _rotate(self) -> None:
        self._flush()
        self._handle.close()
        if self.keep > 0:
            rotated_name(self.path, self.keep).unlink(missing_ok=True)
            for n in range(self.keep - 1, 0, -1):
                older = rotated_name(self.path, n)
                if older.exists():
                    os.replace(older, rotated_name(self.path, n + 1))
            os.replace(self.path, rotated_name(self.path, 1))
        self._handle = open(self.path, "wb")  # noqa: SIM115
        self._size = 0

    def emit(self, record: Record) -> None:
        if self._handle is None:
            raise RuntimeError("jsonl sink is closed")
        line = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        self._handle.write(line)
        self._size += len(line)
        self._unflushed += 1
        if self._unflushed >= self.flush_every:
            self._flush()

    def _flush(self) -> None:
        self._handle.flush()
        if self.fsync:
            os.fsync(self._handle.fileno())
        self._unflushed = 0

    def close(self) -> None:
        if self._handle is not None:
            self._flush()
            self._handle.close()
            self._handle = None
