"""The statistics behind every benchmark table, on data whose answers are known."""

from __future__ import annotations

import json

import numpy as np
import pytest
from auedge.benchmarks.stats import paired_bootstrap, ratio, summarize_latency
from auedge.benchmarks.store import ResultFiles, format_table, write_json


def test_percentiles_of_one_to_hundred():
    summary = summarize_latency(np.arange(1, 101, dtype=float))
    assert summary.runs == 100
    assert summary.median_ms == pytest.approx(50.5)
    assert summary.p90_ms == pytest.approx(90.1)  # linear interpolation between the 90th and 91st values
    assert summary.p99_ms == pytest.approx(99.01)
    assert (summary.min_ms, summary.max_ms, summary.mean_ms) == (1.0, 100.0, 50.5)


def test_percentiles_ignore_order_and_refuse_empty():
    rng = np.random.default_rng(1)
    values = rng.permutation(np.arange(200.0))
    assert summarize_latency(values).median_ms == pytest.approx(99.5)
    with pytest.raises(ValueError, match="no latency samples"):
        summarize_latency([])


def test_bootstrap_of_a_constant_difference_is_a_point():
    truth = np.zeros(50)
    interval = paired_bootstrap(lambda t, a, b: float(np.mean(a - b)), [truth, np.full(50, 3.0), np.full(50, 1.0)])
    assert (interval.estimate, interval.low, interval.high) == (2.0, 2.0, 2.0)


def test_bootstrap_interval_of_a_mean_matches_the_normal_approximation():
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.0, size=2000)
    interval = paired_bootstrap(lambda v: float(np.mean(v)), [x], resamples=1000, seed=3)
    half = 1.96 * x.std() / np.sqrt(x.size)  # ~0.044
    assert interval.low < interval.estimate < interval.high
    assert interval.high - interval.low == pytest.approx(2 * half, rel=0.15)
    assert interval.estimate == pytest.approx(float(np.mean(x)))


def test_bootstrap_is_paired_and_seeded():
    """Resampling keeps rows together: a difference that is identical on every row has no spread,
    although each array on its own varies a lot."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    b = a - 0.25
    paired = paired_bootstrap(lambda x, y: float(np.mean(x) - np.mean(y)), [a, b])
    assert paired.low == pytest.approx(0.25) and paired.high == pytest.approx(0.25)
    again = paired_bootstrap(lambda x: float(np.mean(x)), [a], seed=5)
    same = paired_bootstrap(lambda x: float(np.mean(x)), [a], seed=5)
    other = paired_bootstrap(lambda x: float(np.mean(x)), [a], seed=6)
    assert (again.low, again.high) == (same.low, same.high) != (other.low, other.high)


def test_bootstrap_refuses_unpaired_arrays():
    with pytest.raises(ValueError, match="equally long"):
        paired_bootstrap(lambda x, y: 0.0, [np.zeros(3), np.zeros(4)])


def test_ratio_handles_missing_reference():
    assert ratio(3.0, 1.5) == 2.0
    assert ratio(None, 1.0) is None and ratio(1.0, 0.0) is None


def test_result_files_and_atomic_json(tmp_path):
    files = ResultFiles("latency", "my_bundle", tmp_path)
    assert files.json_path.name.startswith("latency-my_bundle-") and files.json_path.suffix == ".json"
    assert files.plot_path("au model/x").name.endswith("-au_model_x.png")
    data = files.header(value=np.float32(1.5))
    write_json(files.json_path, data)
    loaded = json.loads(files.json_path.read_text())
    assert loaded["value"] == 1.5 and loaded["environment"]["cpu_count"] >= 1
    assert len(loaded["environment"]["load_average"]) == 3
    assert [p.name for p in tmp_path.iterdir()] == [files.json_path.name]  # no temp file left


def test_format_table_aligns_columns():
    text = format_table(["a", "bb"], [[1.23456, None], ["x", 2]]).splitlines()
    assert text[0] == "| a     | bb |"
    assert text[2] == "| 1.235 | -  |"
    assert len({len(line) for line in text}) == 1


def test_report_keeps_the_newest_pipeline_run_of_each_configuration(tmp_path):
    """An fp32 or a video-source pipeline run must not hide the int8 memory run of the same bundle."""
    import json

    from auedge.benchmarks.report import latest_results

    def write(name, created, model, source, flip="off"):
        data = {"kind": "pipeline", "bundle": "b", "created": created, "flip_average": flip,
                "runs": [{"model": model, "source": source, "threads": 1}]}
        (tmp_path / name).write_text(json.dumps(data))

    write("p1.json", "2026-01-01T00:00:01", "int8", "memory")
    write("p2.json", "2026-01-01T00:00:02", "int8", "memory")
    write("p3.json", "2026-01-01T00:00:03", "fp32", "memory")
    write("p4.json", "2026-01-01T00:00:04", "int8", "video")
    latest = latest_results(tmp_path)
    assert sorted(path.name for path, _ in latest.values()) == ["p2.json", "p3.json", "p4.json"]
