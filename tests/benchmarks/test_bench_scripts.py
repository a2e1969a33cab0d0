"""Smoke runs of the benchmark scripts on a tiny TensorFlow-free bundle (seconds, not minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from auedge.benchmarks import accuracy, latency, report

REPO = Path(__file__).resolve().parents[2]


def test_latency_script_runs_and_writes_json_and_plots(tiny_bundle, tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "latency.py"), "--bundle", str(tiny_bundle), "--runs", "5",
         "--warmup", "1", "--threads", "1", "--out-dir", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| onnx-fp32 | onnxruntime |" in proc.stdout
    [path] = out.glob("latency-tiny-*.json")
    data = json.loads(path.read_text())
    [row] = data["models"]
    assert row["runs"] == 5 and row["median_ms"] > 0 and row["ratio_to_fp32"] == 1.0
    assert row["p90_ms"] >= row["median_ms"] and row["p99_ms"] >= row["p90_ms"]
    assert data["detector"][0]["faces"] == 1  # the test frame holds one real face
    assert data["pipeline"][0]["faces_per_frame"] == 1
    assert set(data["pipeline"][0]["stage_median_ms"]) >= {"detect", "align", "au_model", "total"}
    [memory] = data["memory"]
    assert memory["peak_mb"] >= memory["baseline_mb"] > 0
    assert data["edge_process"]["tensorflow_imported"] is False
    assert len(data["load_average_before"]) == 3
    assert {p.name for p in out.glob("*.png")} == set(data["plots"]) and data["plots"]


def test_latency_refuses_a_missing_bundle_with_one_line(tmp_path, capsys):
    code = latency.main(["--bundle", str(tmp_path / "nope"), "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "bundle.json" in err[0]
    assert not list(tmp_path.glob("*.json"))


def test_latency_refuses_an_unknown_variant(tiny_bundle, tmp_path, capsys):
    code = latency.main(["--bundle", str(tiny_bundle), "--variants", "int4", "--out-dir", str(tmp_path)])
    assert code == 2 and "no variant 'int4'" in capsys.readouterr().err


def test_interleaved_timing_gives_every_call_the_same_number_of_runs():
    calls = {"a": lambda: None, "b": lambda: sum(range(1000))}
    timed = latency.time_interleaved(calls, runs=7, warmup=1)
    assert {k: len(v["wall"]) for k, v in timed.items()} == {"a": 7, "b": 7}
    assert all(np.all(v["wall"] >= 0) for v in timed.values())


def test_accuracy_figures_on_known_predictions():
    truth = np.array([1, 1, 0, 0, 1, 0], dtype=float)
    float_scores = np.array([0.9, 0.8, 0.2, 0.1, 0.7, 0.3])
    int8_scores = np.array([0.9, 0.4, 0.2, 0.1, 0.7, 0.3])  # one true positive lost
    figures = accuracy.occurrence_figures(truth, int8_scores, float_scores, threshold=0.5)
    assert figures["confusion"] == {"tp": 2, "fp": 0, "fn": 1, "tn": 3}
    assert figures["agreement_vs_float"] == pytest.approx(5 / 6)
    drop = accuracy.drop_interval("occurrence", truth, float_scores, int8_scores, 0.5, resamples=200, seed=0)
    assert drop["estimate"] == pytest.approx(1.0 - 0.8)  # F1 1.0 -> 0.8
    assert drop["low"] <= drop["estimate"] <= drop["high"]


def test_occlusion_kinds_expand_and_refuse():
    assert accuracy.occlusion_kinds(["mouth"]) == ["none", "mask-full", "mask-half", "mask-small"]
    assert accuracy.occlusion_kinds(["glasses-big", "glasses-big"]) == ["none", "glasses-big"]
    with pytest.raises(accuracy.BenchmarkError, match="unknown occluder"):
        accuracy.occlusion_kinds(["scarf"])


def test_report_gathers_the_latest_result(tiny_bundle, tmp_path):
    out = tmp_path / "results"
    assert latency.main(["--bundle", str(tiny_bundle), "--runs", "3", "--warmup", "0", "--threads", "1",
                         "--no-memory", "--no-pipeline", "--out-dir", str(out)]) == 0
    assert report.main(["--results", str(out)]) == 0
    text = (out / "REPORT.md").read_text()
    assert "## Machine" in text and "### Latency: `tiny`" in text and "load average" in text
    assert "| onnx-fp32 | onnxruntime | 1 " in text


def test_int8_probe_refuses_a_bundle_without_tflite(tiny_bundle, tmp_path, capsys):
    from auedge.benchmarks import int8_probe

    code = int8_probe.main(["--bundle", str(tiny_bundle), "--out-dir", str(tmp_path)])
    assert code == 2 and "no TFLite model" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.json"))


def test_pipeline_script_runs_the_daemon_over_a_video(tiny_bundle, tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "pipeline.py"), "--bundle", str(tiny_bundle), "--model", "onnx-fp32",
         "--backend", "onnxruntime", "--threads", "1", "--frames", "40", "--out-dir", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    [path] = out.glob("pipeline-tiny-*.json")
    data = json.loads(path.read_text())
    assert [(r["source"], r["threads"]) for r in data["runs"]] == [("memory", 1), ("video", 1)]
    for run in data["runs"]:
        # Every frame of the video went through the daemon and became exactly one record.
        assert run["frames"] == run["records"] == 40
        assert run["frames_with_one_face"] + run["frames_without_face"] == 40
        assert run["frames_with_one_face"] >= 36  # real faces, drifting: the detector keeps them
        assert run["cpus"] and len(run["cpus"]) == 1  # one thread means one core
        assert run["pipeline_fps"] == pytest.approx(1000.0 / run["pipeline_median_ms"])
        assert {"wait", "estimator_detect", "estimator_au_model", "sinks", "loop"} <= set(run["stage_median_ms"])
    assert "one_core_meets_target" in data and "pipeline fps" in proc.stdout
    assert report.main(["--results", str(out)]) == 0
    text = (out / "REPORT.md").read_text()
    assert "### Daemon end to end: `tiny onnx-fp32 flip bundle memory,video`" in text and "| memory | 1 " in text and "fps target" in text


def test_pipeline_refuses_a_missing_bundle_with_one_line(tmp_path, capsys):
    from auedge.benchmarks import pipeline

    code = pipeline.main(["--bundle", str(tmp_path / "nope"), "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "bundle.json" in err[0]
    assert not list(tmp_path.glob("*.json"))
