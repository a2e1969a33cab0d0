"""convert.set_threshold: one occurrence output's threshold and its rule change, nothing else; bad input
leaves bundle.json as it was."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "edge" / "models" / "default"


@pytest.fixture
def bundle(tmp_path) -> Path:
    dest = tmp_path / "b"
    dest.mkdir()
    shutil.copy(DEFAULT / "bundle.json", dest / "bundle.json")
    return dest


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auedge.convert.set_threshold", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_only_that_threshold_and_the_rule_change(bundle):
    before = json.loads((bundle / "bundle.json").read_text())
    done = _run("--bundle", str(bundle), "--au", "AU4", "--threshold", "0.37", "--f1-best", "0.24",
                "--f1-within", "0.01", "--source", "device path, FER2013 validation")
    assert done.returncode == 0, done.stderr
    after = json.loads((bundle / "bundle.json").read_text())
    au4 = [o["au"] for o in after["outputs"]].index("AU4")
    assert after["outputs"][au4]["threshold"] == 0.37
    rule = after["training"]["threshold_rule"]
    assert rule["f1_within"] == {"AU4": 0.01} and rule["f1_best"] == {"AU4": 0.24} and rule["chosen"] == {"AU4": 0.37}
    assert "device path, FER2013 validation" in rule["applied_by"]
    after["outputs"][au4]["threshold"] = before["outputs"][au4]["threshold"]
    del after["training"]["threshold_rule"]
    before["training"].pop("threshold_rule", None)
    assert after == before, "nothing else in bundle.json changes"


@pytest.mark.parametrize("args, message", [
    (("--au", "AU9", "--threshold", "0.4"), "has no output 'AU9'"),
    (("--au", "AU4", "--threshold", "1.5"), "--threshold must be a probability"),
    (("--au", "AU4", "--threshold", "nan"), "--threshold must be a probability"),
])
def test_bad_input_is_one_line_and_leaves_the_bundle_as_it_was(bundle, args, message):
    before = (bundle / "bundle.json").read_bytes()
    done = _run("--bundle", str(bundle), *args, "--f1-best", "0.24", "--f1-within", "0.01", "--source", "x")
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert (bundle / "bundle.json").read_bytes() == before
