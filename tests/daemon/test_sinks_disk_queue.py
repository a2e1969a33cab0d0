"""The MQTT sink's on-disk FIFO: order, bounds (oldest dropped and counted), survives reopening."""

from __future__ import annotations

import pytest
from auedge.edge.sinks.disk_queue import DiskQueue


def test_fifo_order_and_remove(tmp_path):
    q = DiskQueue(tmp_path / "q.sqlite3")
    ids = [q.append(f"r{i}".encode()) for i in range(5)]
    assert ids == [0] * 5  # nothing dropped
    rows = q.peek(limit=10)
    assert [p for _, p in rows] == [b"r0", b"r1", b"r2", b"r3", b"r4"]
    assert q.remove(rows[0][0]) and not q.remove(rows[0][0])
    assert [p for _, p in q.peek(after_id=rows[2][0])] == [b"r3", b"r4"]
    assert len(q) == 4
    q.close()


def test_bounded_by_count_drops_oldest(tmp_path):
    q = DiskQueue(tmp_path / "q.sqlite3", max_records=3)
    dropped = sum(q.append(f"r{i}".encode()) for i in range(7))
    assert dropped == 4 and q.dropped == 4
    assert [p for _, p in q.peek()] == [b"r4", b"r5", b"r6"]
    q.close()


def test_bounded_by_bytes(tmp_path):
    q = DiskQueue(tmp_path / "q.sqlite3", max_bytes=100)
    for i in range(10):
        q.append(bytes([i]) * 30)
    assert q.size_bytes <= 100 and len(q) == 3
    assert [p[0] for _, p in q.peek()] == [7, 8, 9]
    with pytest.raises(ValueError, match="exceeds"):
        q.append(b"x" * 101)
    q.close()


def test_survives_reopen_with_increasing_ids(tmp_path):
    path = tmp_path / "state" / "q.sqlite3"
    q = DiskQueue(path)
    for i in range(3):
        q.append(f"a{i}".encode())
    last_id = q.peek()[-1][0]
    q.remove(q.peek()[0][0])
    q.close()
    q = DiskQueue(path)
    assert len(q) == 2 and q.size_bytes == 4
    q.append(b"b0")
    rows = q.peek()
    assert [p for _, p in rows] == [b"a1", b"a2", b"b0"]
    assert rows[-1][0] > last_id
    q.close()


def test_corrupt_queue_file_is_a_clear_error(tmp_path):
    path = tmp_path / "q.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RuntimeError, match="move it aside"):
        DiskQueue(path)
