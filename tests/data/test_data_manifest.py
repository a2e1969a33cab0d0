"""The manifest format: round trip, and one clear DataError per kind of bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from auedge.train.data import DataError, ManifestRow, read_manifest, write_manifest
from auedge.train.data.manifest import LANDMARK_COLUMNS

HEADER = "path,subject,split,au12," + ",".join(LANDMARK_COLUMNS)
POINTS = "1,2,3,4,5,6,7,8,9,10"


def test_round_trip_keeps_every_field(tmp_path):
    outside = tmp_path.parent / "elsewhere.png"
    rows = [
        ManifestRow(str(tmp_path / "img" / "a.png"), "alice", "train", {"au12": 3.5, "au4": math.nan},
                    np.arange(10, dtype=np.float32).reshape(5, 2) + np.float32(0.3), {"pose": "3", "glasses": "1"}),
        ManifestRow("img/b.jpg", "bob", "test", {"au12": 0.0}, None, {"source": "web"}),
        ManifestRow(str(outside), "carol", "val", {"au4": 1.0}, None, {}),
    ]
    path = write_manifest(rows, tmp_path / "manifest.csv")
    header = path.read_text().splitlines()[0].split(",")
    assert header[:5] == ["path", "subject", "split", "au4", "au12"]  # AU columns in numeric order
    assert path.read_text().splitlines()[1].startswith("img/a.png,")  # under the folder -> relative
    back = read_manifest(path)
    assert [r.path for r in back] == [str(tmp_path / "img" / "a.png"), str(tmp_path / "img" / "b.jpg"), str(outside)]
    assert [r.subject for r in back] == ["alice", "bob", "carol"]
    assert [r.split for r in back] == ["train", "test", "val"]
    assert back[0].aus["au12"] == 3.5 and math.isnan(back[0].aus["au4"])
    assert math.isnan(back[1].aus["au4"]) and back[2].aus["au4"] == 1.0
    np.testing.assert_array_equal(back[0].landmarks, rows[0].landmarks)
    assert back[1].landmarks is None
    assert back[0].meta == {"pose": "3", "glasses": "1", "source": ""}
    assert not list(tmp_path.glob(".manifest.csv.*"))  # no temp file left behind


def write(tmp_path, text):
    path = tmp_path / "m.csv"
    path.write_text(text)
    return path


def test_missing_required_column_names_file_and_column(tmp_path):
    path = write(tmp_path, "path,split,au12\na.png,train,1\n")
    with pytest.raises(DataError, match=r"m\.csv.*missing required column 'subject'") as info:
        read_manifest(path)
    assert "header must include path, subject, split" in str(info.value)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("abc", r"line 3, column au12: 'abc' is not a number"), ("7", r"line 3, column au12: 7.0 is outside 0-5")],
)
def test_bad_au_value_names_line_and_column(tmp_path, cell, expected):
    path = write(tmp_path, f"{HEADER}\na.png,s1,train,1,{POINTS}\nb.png,s2,train,{cell},{POINTS}\n")
    with pytest.raises(DataError, match=expected) as info:
        read_manifest(path)
    assert str(path) in str(info.value)


def test_bad_split_partial_landmarks_and_short_rows(tmp_path):
    with pytest.raises(DataError, match=r"line 2, column split: 'training' is not one of train, val, test"):
        read_manifest(write(tmp_path, f"{HEADER}\na.png,s1,training,1,{POINTS}\n"))
    with pytest.raises(DataError, match=r"landmark values \['rmouth_y'\] are empty"):
        read_manifest(write(tmp_path, f"{HEADER}\na.png,s1,train,1,1,2,3,4,5,6,7,8,9,\n"))
    with pytest.raises(DataError, match=r"column nose_x: 'x' is not a number"):
        read_manifest(write(tmp_path, f"{HEADER}\na.png,s1,train,1,1,2,3,4,x,6,7,8,9,10\n"))
    with pytest.raises(DataError, match=r"landmark columns \['rmouth_x', 'rmouth_y'\] are missing"):
        read_manifest(write(tmp_path, "path,subject,split," + ",".join(LANDMARK_COLUMNS[:8]) + "\n"))
    with pytest.raises(DataError, match=r"line 2: 3 cells but the header has 14"):
        read_manifest(write(tmp_path, f"{HEADER}\na.png,s1,train\n"))


def test_case_insensitive_header_empty_subject_and_missing_file(tmp_path):
    rows = read_manifest(write(tmp_path, "Path,Subject,Split,AU12,Pose\nx/a.png,,train,,2\n"))
    assert rows[0].subject == "x/a.png"  # no subject: one subject per image
    assert math.isnan(rows[0].aus["au12"]) and rows[0].meta == {"pose": "2"}
    with pytest.raises(DataError, match="not found"):
        read_manifest(tmp_path / "absent.csv")
