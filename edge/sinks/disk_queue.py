"""A bounded, crash-safe FIFO of records on disk (sqlite3), for the MQTT sink's store-and-forward.

Why sqlite3: it is in the stdlib, each append is one atomic transaction (a power cut loses at most
the record being written, never the file), and rows keep a strictly increasing id, which is the
delivery order. The queue is bounded by record count and by bytes; when full, the *oldest*
records are dropped and counted (a device that was offline for a week keeps the newest data).
Rows are removed only when the consumer says so (after the broker's PUBACK), so a restart
re-delivers whatever was not acknowledged: at-least-once, in order.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

SCHEMA = "CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB NOT NULL)"


class QueueWriteError(OSError):
    """A record could not be stored (disk full, I/O error); the rows already queued are untouched."""


class DiskQueue:
    def __init__(self, path: str | Path, max_records: int = 100_000, max_bytes: int = 100_000_000) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError("disk queue bounds must be >= 1")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.dropped = 0  # since this object was created
        self._lock = threading.Lock()
        if not self.path.exists():  # 0600 (sqlite would use 0644): records are personal data
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RuntimeError(f"cannot open the MQTT queue {self.path} ({exc}): check that mqtt.state_dir is "
                               "writable; if the file is corrupt, move it aside (its undelivered records are lost)"
                               ) from None
        self._count, self._bytes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM queue").fetchone()

    def __len__(self) -> int:
        with self._lock:
            return self._count

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def append(self, payload: bytes) -> int:
        """Store ``payload`` at the tail; drops the oldest rows first if a bound would be passed.

        Returns how many old records were dropped to make room.
        """
        if len(payload) > self.max_bytes:
            raise ValueError(f"record of {len(payload)} bytes exceeds the queue's max_bytes {self.max_bytes}")
        with self._lock:
            dropped = 0
            self._db.execute("BEGIN IMMEDIATE")
            try:
                while self._count and (self._count + 1 > self.max_records or self._bytes + len(payload) > self.max_bytes):
                    row = self._db.execute("SELECT id, LENGTH(payload) FROM queue ORDER BY id LIMIT 1").fetchone()
                    self._db.execute("DELETE FROM queue WHERE id = ?", (row[0],))
                    self._count -= 1
                    self._bytes -= row[1]
                    dropped += 1
                self._db.execute("INSERT INTO queue (payload) VALUES (?)", (sqlite3.Binary(payload),))
                self._db.execute("COMMIT")
            except BaseException as exc:
                # SQLite has already rolled back after SQLITE_FULL or SQLITE_IOERR; a second ROLLBACK
                # would raise "no transaction is active" and hide the real error.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._count, self._bytes = self._db.execute(
                    "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM queue").fetchone()
                if isinstance(exc, sqlite3.Error):
                    raise QueueWriteError(f"cannot store a record in the MQTT queue {self.path}: {exc} "
                                          f"({getattr(exc, 'sqlite_errorname', type(exc).__name__)}); "
                                          f"its {self._count} queued records are kept") from exc
                raise
            self._count += 1
            self._bytes += len(payload)
            self.dropped += dropped
            return dropped

    def peek(self, after_id: int = 0, limit: int = 100) -> list[tuple[int, bytes]]:
        """Up to ``limit`` (id, payload) rows with id > ``after_id``, oldest first; nothing is removed."""
        with self._lock:
            rows = self._db.execute("SELECT id, payload FROM queue WHERE id > ? ORDER BY id LIMIT ?",
                                    (after_id, limit)).fetchall()
        return [(row_id, bytes(payload)) for row_id, payload in rows]

    def remove(self, row_id: int) -> bool:
        """Forget one delivered row; False if it was already gone (e.g. dropped when full)."""
        with self._lock:
            row = self._db.execute("SELECT LENGTH(payload) FROM queue WHERE id = ?", (row_id,)).fetchone()
            if row is None:
                return False
            self._db.execute("DELETE FROM queue WHERE id = ?", (row_id,))
            self._count -= 1
            self._bytes -= row[0]
            return True

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
