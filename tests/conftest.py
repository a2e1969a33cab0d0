"""Shared test settings: quiet, single-threaded TensorFlow; where the real data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()
MTFL_DIR = SHARED_DATA / "mtfl"


def pytest_collection_modifyitems(config, items):
    if (MTFL_DIR / "labels.csv").is_file():
        return
    skip = pytest.mark.skip(reason=f"real data absent: {MTFL_DIR} not found (tests marked realdata need it)")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mtfl_dir() -> Path:
    if not (MTFL_DIR / "labels.csv").is_file():
        pytest.skip(f"real data absent: {MTFL_DIR}")
    return MTFL_DIR


@pytest.fixture(autouse=True)
def _state_folder_in_tmp(tmp_path_factory, monkeypatch):
    """The daemon's default state folder ($XDG_STATE_HOME/au-edge) points into pytest's tmp, never the home."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-state"))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
