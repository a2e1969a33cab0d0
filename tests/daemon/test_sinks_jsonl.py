"""JSON-lines sink: one record per line, size rotation keeping N files, flush on close."""

from __future__ import annotations

import json

import pytest
from auedge.edge.sinks.jsonl_sink import JsonlSink, JsonlSinkOptions


def record(i):
    return {"device": "t", "frame": i, "ts": 1.0 + i, "faces": [], "timings_ms": {"wait": 0.1}, "pad": "x" * 80}


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rotation_keeps_n_files_and_never_splits_a_record(tmp_path):
    path = tmp_path / "out" / "records.jsonl"
    sink = JsonlSink.create_from_options(JsonlSinkOptions(path=str(path), max_bytes=1024, keep=2))
    for i in range(60):
        sink.emit(record(i))
    sink.close()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["records.jsonl", "records.jsonl.1", "records.jsonl.2"]
    for p in path.parent.iterdir():
        assert p.stat().st_size <= 1024
    newest, older, oldest = (read_lines(path.parent / n) for n in ("records.jsonl", "records.jsonl.1", "records.jsonl.2"))
    frames = [r["frame"] for r in oldest + older + newest]
    assert frames == list(range(frames[0], 60))  # contiguous, in order, ending with the last record
    assert frames[0] > 0  # the oldest files were dropped


def test_keep_zero_truncates(tmp_path):
    path = tmp_path / "r.jsonl"
    sink = JsonlSink(path, max_bytes=1024, keep=0)
    for i in range(30):
        sink.emit(record(i))
    sink.close()
    assert [p.name for p in tmp_path.iterdir()] == ["r.jsonl"]
    assert read_lines(path)[-1]["frame"] == 29


def test_buffered_records_are_flushed_on_close(tmp_path):
    path = tmp_path / "r.jsonl"
    sink = JsonlSink(path, flush_every=1000)
    for i in range(5):
        sink.emit(record(i))
    assert path.read_text() == ""  # still buffered
    sink.close()
    sink.close()  # idempotent
    assert [r["frame"] for r in read_lines(path)] == [0, 1, 2, 3, 4]


def test_appends_to_an_existing_file(tmp_path):
    path = tmp_path / "r.jsonl"
    for start in (0, 3):
        sink = JsonlSink(path)
        for i in range(start, start + 3):
            sink.emit(record(i))
        sink.close()
    assert [r["frame"] for r in read_lines(path)] == list(range(6))


def test_nan_is_refused_not_written_as_invalid_json(tmp_path):
    sink = JsonlSink(tmp_path / "r.jsonl")
    with pytest.raises(ValueError):
        sink.emit({"frame": 0, "v": float("nan")})
    sink.close()


def test_bad_options():
    with pytest.raises(ValueError, match="jsonl.max_bytes"):
        JsonlSinkOptions(path="x", max_bytes=10).validate()
