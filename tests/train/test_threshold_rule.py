"""The threshold rule (``threshold_f1_within``): chosen by the trainer from a recipe, or applied to a
finished run by train/threshold.py, on validation only, with the same result either way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRAIN = [sys.executable, str(REPO / "train" / "train.py"), "--epochs", "1", "--limit", "64", "--batch-size", "16",
         "--input-size", "64", "--task", "au12+au4-occurrence", "--threads", "1", "--seed", "3"]
TOOL = [sys.executable, str(REPO / "train" / "threshold.py")]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Two tiny synthetic runs from the same seed: one F1-best, one with the rule in its recipe."""
    base = tmp_path_factory.mktemp("threshold_rule")
    recipe = base / "rule.toml"
    recipe.write_text("threshold_f1_within = { au4 = 0.1, au12 = 0.05 }\n")
    out = {"plain": base / "plain", "rule": base / "rule"}
    for name, extra in (("plain", []), ("rule", ["--config", str(recipe)])):
        done = _run(TRAIN + extra + ["--out", str(out[name]), "--cache-dir", str(base / "cache")])
        assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_the_tool_gives_a_finished_run_the_thresholds_the_recipe_would_have(runs):
    plain, rule = (json.loads((runs[n] / "metrics.json").read_text()) for n in ("plain", "rule"))
    assert "threshold_rule" not in plain and rule["threshold_rule"]["f1_within"] == {"AU12": 0.05, "AU4": 0.1}
    test_before = plain["test"]
    done = _run(TOOL + ["--run", str(runs["plain"]), "--f1-within", "au4=0.1", "au12=0.05", "--threads", "1"])
    assert done.returncode == 0, done.stderr[-3000:]
    after = json.loads((runs["plain"] / "metrics.json").read_text())
    for au in ("AU12", "AU4"):
        assert after["thresholds"][au] == pytest.approx(rule["thresholds"][au])
        assert after["thresholds"][au] >= plain["thresholds"][au]
        assert after["threshold_rule"]["f1_best"][au] == pytest.approx(plain["thresholds"][au])
        assert after["val"]["per_au"][au.lower()]["threshold"] == pytest.approx(after["thresholds"][au])
        assert after["val"]["per_au"][au.lower()]["f1"] == pytest.approx(rule["val"]["per_au"][au.lower()]["f1"])
    assert after["test"] == test_before, "the test split is not scored again"
    assert "AU4 threshold: the highest within 0.1 F1" in rule["selection"]
    config = json.loads((runs["plain"] / "config.json").read_text())
    assert config["threshold_f1_within"] == {"au4": 0.1, "au12": 0.05}
    # Applied again it finds the same F1-best thresholds in the record and changes nothing.
    again = _run(TOOL + ["--run", str(runs["plain"]), "--f1-within", "au4=0.1", "au12=0.05", "--threads", "1"])
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((runs["plain"] / "metrics.json").read_text())["thresholds"] == after["thresholds"]


def test_a_bad_rule_or_a_run_that_does_not_reproduce_leaves_the_run_as_it_was(runs, tmp_path):
    before = (runs["rule"] / "metrics.json").read_bytes()
    done = _run(TOOL + ["--run", str(runs["rule"]), "--f1-within", "au9=0.01"])
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "au9" in done.stderr
    done = _run(TOOL + ["--run", str(runs["rule"]), "--f1-within", "au4"])
    assert done.returncode == 2 and "AU=TOLERANCE" in done.stderr
    # A recorded F1-best threshold the predictions do not give back: refused, nothing written.
    metrics = json.loads(before)
    metrics["threshold_rule"]["f1_best"]["AU4"] = metrics["threshold_rule"]["f1_best"]["AU4"] + 0.37
    (runs["rule"] / "metrics.json").write_text(json.dumps(metrics))
    changed = (runs["rule"] / "metrics.json").read_bytes()
    done = _run(TOOL + ["--run", str(runs["rule"]), "--f1-within", "au4=0.01", "--threads", "1"])
    assert done.returncode == 2 and "differ from training" in done.stderr, done.stderr[-2000:]
    assert (runs["rule"] / "metrics.json").read_bytes() == changed
    (runs["rule"] / "metrics.json").write_bytes(before)
