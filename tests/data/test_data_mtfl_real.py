"""MTFL through load_crops (needs ../shared/data beside the repository)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from auedge.edge.align import CropParams
from auedge.train.data import load_crops
from auedge.train.data.mtfl import build_manifest, subject_from_path

MTFL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mtfl"
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not (MTFL / "labels.csv").is_file(), reason=f"MTFL not found at {MTFL} (../shared/data/mtfl)"),
]


def test_mtfl_manifest_counts_and_subjects():
    rows = build_manifest(MTFL)
    assert len(rows) == 12995
    assert sum(r.split == "train" for r in rows) == 10000 and sum(r.split == "test" for r in rows) == 2995
    assert subject_from_path("lfw_5590/Aaron_Eckhart_0001.jpg") == "Aaron_Eckhart"
    assert subject_from_path("net_7876/0_0_0.jpg") == "net_7876/0_0_0"
    assert all(r.landmarks is not None and r.aus["au12"] in (0.0, 1.0) for r in rows)


def test_load_mtfl_with_limit(tmp_path):
    crops = load_crops("mtfl", MTFL, ["au12"], CropParams(size=64), cache_dir=tmp_path, limit=120, progress=False)
    assert [(crops.split == s).sum() for s in ("train", "val", "test")] == [120, 120, 120]
    assert crops.images.shape == (360, 64, 64, 3) and crops.labels.shape == (360, 1)
    assert set(np.unique(crops.labels)) == {0.0, 1.0}
    assert set(crops.meta) == {"pose", "glasses", "gender", "source"}
    assert set(crops.meta["source"][crops.split == "test"]) == {"AFLW"}  # testing stays the test split
    assert set(crops.subjects[crops.split == "val"]).isdisjoint(crops.subjects[crops.split == "train"])
    # Aligned eyes: level, eye_scale apart, above the crop centre.
    np.testing.assert_allclose(crops.landmarks[:, 1, 0] - crops.landmarks[:, 0, 0], 64 / 2.4, rtol=1e-4)
    assert np.all(crops.landmarks[:, 2, 1] > crops.landmarks[:, 0, 1])  # nose below the eyes
