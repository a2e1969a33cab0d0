"""The device-path benchmarks on FER2013 and on occlusion flags."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from auedge.benchmarks.end_to_end import flag_f1

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # the data tests' fixtures
from data_fixtures import FER_TABLE as TABLE
from data_fixtures import make_fer


def row(occluder, flags):
    return {"variant": "int8", "occluder": occluder,
            "flags": {name: {"flagged": k, "n": n, "share": k / n} for name, (k, n) in flags.items()}}


def test_flag_f1_pairs_each_occluder_with_the_bare_faces():
    rows = [row("none", {"AU4_occluded": (2, 100), "AU12_occluded": (1, 100)}),
            row("glasses-big", {"AU4_occluded": (95, 100), "AU12_occluded": (3, 100)})]
    out = {f["flag"]: f for f in flag_f1(rows)}
    # 95 true positives, 2 false alarms on bare faces, 5 misses: F1 = 190 / (190 + 2 + 5)
    assert out["AU4_occluded"]["covered"] and out["AU4_occluded"]["f1"] == pytest.approx(190 / 197)
    assert not out["AU12_occluded"]["covered"] and out["AU12_occluded"]["f1"] is None
    assert out["AU12_occluded"]["flagged_share"] == pytest.approx(0.03)


def test_fer_faces_are_shown_as_in_training_and_sampled_by_seed(tmp_path):
    pytest.importorskip("ai_edge_litert")
    from auedge.benchmarks.detection import load_fer_faces

    rows = [("test", e) for e in ("angry", "angry", "happy", "sad", "neutral", "surprise")]
    root = make_fer(tmp_path / "fer", rows)
    faces, note = load_fer_faces(root, "test", TABLE, None, lambda line: None)
    assert len(faces) == 6 and faces[0].image.shape == (144, 144, 3)  # 48 px x 2, plus a quarter on each side
    assert faces[2].aus == {"au12": 1.0, "au4": 0.0} and "from the template" in note
    some, _ = load_fer_faces(root, "test", TABLE, 3, lambda line: None, seed=1)
    again, _ = load_fer_faces(root, "test", TABLE, 3, lambda line: None, seed=1)
    assert [f.name for f in some] == [f.name for f in again] and len(some) == 3


def test_a_flag_is_read_from_what_the_runtime_reports_observable():
    from types import SimpleNamespace

    from auedge.benchmarks.end_to_end import face_values

    face = SimpleNamespace(aus={"AU12": 0.7, "AU4": 0.2}, observable={"AU12": False, "AU4": True})
    assert face_values(face, ["AU12", "AU4", "AU12_occluded", "AU4_occluded"]) == [0.7, 0.2, 1.0, 0.0]
    bare = SimpleNamespace(aus={"AU12": 0.7}, observable={})
    assert np.isnan(face_values(bare, ["AU12_occluded"])[0])
