"""The default pytest run prints the slowest tests, so the 15-minute budget is watched at every run."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_default_run_reports_the_slowest_tests():
    options = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    durations = [arg for arg in shlex.split(options.get("addopts", "")) if arg.startswith("--durations=")]
    assert durations, "add --durations=N to [tool.pytest.ini_options] addopts in pyproject.toml"
    assert int(durations[-1].split("=", 1)[1]) >= 10
