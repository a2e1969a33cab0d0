"""Issue 36 item 3: a full disk never leaves half a JSON line, is named once with its path, counted
and retried; the MQTT disk queue reports the real error and keeps the records it holds."""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3

import pytest
from auedge.edge.daemon_metrics import DaemonMetrics
from auedge.edge.sinks.disk_queue import DiskQueue, QueueWriteError
from auedge.edge.sinks.jsonl_sink import JsonlSink
from fault_helpers import fill


def record(i: int) -> dict:
    return {"device": "t", "frame": i, "ts": 1.0 + i, "faces": [], "pad": "x" * 200}


def frames_in(path) -> list[int]:
    text = path.read_bytes()
    assert text == b"" or text.endswith(b"\n"), f"partial last line: {text[-80:]!r}"
    return [json.loads(line)["frame"] for line in text.splitlines()]


class FullAfter:
    """An ``os.write`` that writes ``budget`` bytes, then half of the next write, then ENOSPC."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.full = True

    def __call__(self, fd, data) -> int:
        if not self.full:
            return os.write(fd, data)
        if self.budget <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        take = min(len(data), self.budget, max(1, len(data) // 2))
        self.budget -= take
        return os.write(fd, bytes(data[:take]))


def test_jsonl_enospc_mid_line_is_cut_back_named_once_counted_and_retried(tmp_path, caplog):
    path = tmp_path / "records.jsonl"
    metrics = DaemonMetrics()
    sink = JsonlSink(path, metrics=metrics)
    sink.emit(record(0))
    sink._os_write = FullAfter(budget=150)  # half of record 1 fits, then the disk is full
    with caplog.at_level(logging.WARNING, logger="auedge.edge.sinks"):
        for i in range(1, 30):
            sink.emit(record(i))
    assert frames_in(path) == [0]  # whole lines only: the half-written record 1 was cut back
    warnings = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once, not 29 times
    assert str(path) in warnings[0] and "ENOSPC" in warnings[0] and "No space left" in warnings[0]
    assert metrics.labelled[("disk_write_errors_total", "sink", "jsonl")] == 29
    assert 'au_edge_disk_write_errors_total{sink="jsonl"} 29' in metrics.render_prometheus()
    assert sink.held == 29
    sink._os_write.full = False  # space freed: the held records follow, in order, none lost
    sink.emit(record(30))
    assert frames_in(path) == list(range(31)) and sink.held == 0
    sink.close()


def test_jsonl_partial_tail_is_cut_on_open(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        JsonlSink(tmp_path / "new.jsonl").close()
        JsonlSink(tmp_path / "new.jsonl").close()  # empty, and whole lines: nothing to say
    assert not caplog.records
    path = tmp_path / "records.jsonl"
    path.write_bytes(b'{"frame":0}\n{"frame":1}\n{"frame":2,"fa')  # a crash or full disk mid-line
    with caplog.at_level(logging.WARNING):
        sink = JsonlSink(path)
    sink.emit({"frame": 3})
    sink.close()
    assert frames_in(path) == [0, 1, 3]
    assert any("partial line" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)


def test_jsonl_file_is_not_world_readable(tmp_path):
    old = os.umask(0o022)
    try:
        sink = JsonlSink(tmp_path / "r.jsonl")
        sink.close()
    finally:
        os.umask(old)
    assert (tmp_path / "r.jsonl").stat().st_mode & 0o777 == 0o640


def test_jsonl_on_a_really_full_filesystem(tiny_tmpfs):
    path = tiny_tmpfs / "records.jsonl"
    metrics = DaemonMetrics()
    sink = JsonlSink(path, metrics=metrics)
    fill(tiny_tmpfs)
    for i in range(200):
        sink.emit(record(i))
    assert metrics.get("disk_write_errors_total") > 0
    on_disk = frames_in(path)  # whole lines only
    (tiny_tmpfs / "filler").unlink()
    sink.emit(record(200))
    sink.close()
    assert frames_in(path) == on_disk + list(range(len(on_disk), 201))


def _queue_with_rows(tmp_path, rows: int = 5) -> DiskQueue:
    queue = DiskQueue(tmp_path / "q.sqlite3")
    for i in range(rows):
        queue.append(b"r%d" % i)
    return queue


def test_disk_queue_full_names_the_real_error_and_keeps_its_rows(tmp_path):
    queue = _queue_with_rows(tmp_path)
    pages = queue._db.execute("PRAGMA page_count").fetchone()[0]
    queue._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL, as on a full disk
    with pytest.raises(QueueWriteError) as info:
        for _ in range(200):
            queue.append(os.urandom(3000))
    message = str(info.value)
    assert "cannot rollback" not in message and "full" in message and str(queue.path) in message
    assert isinstance(info.value.__cause__, sqlite3.Error)
    assert len(queue) >= 5 and [p for _, p in queue.peek(limit=5)] == [b"r%d" % i for i in range(5)]
    queue.close()


def test_disk_queue_file_is_private(tmp_path):
    _queue_with_rows(tmp_path, 1).close()
    assert (tmp_path / "q.sqlite3").stat().st_mode & 0o077 == 0


def test_disk_queue_on_a_really_full_filesystem(tiny_tmpfs):
    queue = _queue_with_rows(tiny_tmpfs)
    fill(tiny_tmpfs)
    with pytest.raises(QueueWriteError, match="full"):
        for _ in range(200):
            queue.append(os.urandom(2000))
    kept = len(queue)
    assert kept >= 5 and [p for _, p in queue.peek(limit=5)] == [b"r%d" % i for i in range(5)]
    (tiny_tmpfs / "filler").unlink()
    queue.append(b"after")
    assert len(queue) == kept + 1
    queue.close()
