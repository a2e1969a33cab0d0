"""CK+ reader on a tiny tree in the distribution layout (tests/facs_fixtures.py): rows, labels, faults."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from auedge.train.data import ckplus, cli
from auedge.train.data.manifest import read_manifest
from facs_fixtures import by_name, make_ckplus


@pytest.fixture(scope="module")
def ck_tree(tmp_path_factory) -> tuple[Path, dict]:
    return make_ckplus(tmp_path_factory.mktemp("ck") / "CK+")


def test_peak_and_neutral_rows_with_subjects_labels_and_landmarks(ck_tree):
    root, truth = ck_tree
    rows = by_name(ckplus.build_manifest(root, test_fraction=0.0))
    assert sorted(rows) == ["S005_001_00000001.png", "S005_001_00000003.png", "S005_002_00000001.png",
                            "S005_002_00000003.png", "S010_004_00000001.png", "S010_004_00000004.png"]
    peak = rows["S005_001_00000003.png"]
    assert peak.subject == "S005" and peak.split == "train"
    assert peak.meta == {"sequence": "S005_001", "source": "ckplus", "emotion": "happy", "frame": "peak"}
    # Coded AUs present (AU6 with intensity 0 = present, not scored), every other AU absent.
    assert peak.aus == {"au4": 0.0, "au6": 1.0, "au7": 0.0, "au12": 1.0, "au17": 0.0}
    assert rows["S010_004_00000004.png"].aus["au4"] == 1.0 and rows["S010_004_00000004.png"].meta["emotion"] == "anger"
    assert rows["S005_002_00000003.png"].meta["emotion"] == ""  # no Emotion file for that sequence
    neutral = rows["S005_001_00000001.png"]
    assert neutral.meta["frame"] == "neutral" and set(neutral.aus.values()) == {0.0}
    for name, row in rows.items():
        np.testing.assert_allclose(row.landmarks, truth[name], atol=1e-3)  # eye centres, nose, mouth corners
        assert Path(row.path).is_absolute() and Path(row.path).is_file()


def test_intensity_labels_keep_scores_and_leave_unscored_unknown(ck_tree):
    rows = by_name(ckplus.build_manifest(ck_tree[0], kind="intensity", test_fraction=0.0))
    assert rows["S005_001_00000003.png"].aus["au12"] == 3.0 and rows["S005_001_00000003.png"].aus["au4"] == 0.0
    assert math.isnan(rows["S005_001_00000003.png"].aus["au6"])  # present, intensity 0 = not scored
    assert rows["S005_002_00000003.png"].aus["au4"] == 4.0


def test_neutral_frames_option_and_subject_disjoint_splits(ck_tree):
    root = ck_tree[0]
    assert len(ckplus.build_manifest(root, neutral_frames=0)) == 3
    assert len(ckplus.build_manifest(root, neutral_frames=2)) == 9  # never the peak itself
    rows = ckplus.build_manifest(root, test_fraction=0.5)
    tested = {row.subject for row in rows if row.split == "test"}
    assert len(tested) == 1 and not tested & {row.subject for row in rows if row.split == "train"}
    again = ckplus.build_manifest(root, test_fraction=0.5)  # seeded: the same every time
    assert [r.split for r in rows] == [r.split for r in again]
    assert {row.split for row in ckplus.build_manifest(root, all_split="test")} == {"test"}


def test_without_landmarks_folder_rows_have_none(tmp_path, capsys):
    root, _ = make_ckplus(tmp_path / "CK+", landmarks=False)
    rows = ckplus.build_manifest(root)
    assert rows and all(row.landmarks is None for row in rows)
    assert "6 of 6 rows have no landmarks" in capsys.readouterr().err


def test_cli_writes_a_manifest_the_strict_reader_takes(ck_tree, tmp_path, capsys):
    out = tmp_path / "ck.csv"
    assert cli.main(["manifest", "--dataset", "ckplus", "--data-dir", str(ck_tree[0]), "--out", str(out),
                     "--split-all", "test"]) == 0
    rows = read_manifest(out)
    assert len(rows) == 6 and {row.split for row in rows} == {"test"}
    assert all(row.landmarks is not None for row in rows)


def nested_layout(ck_tree, tmp_path) -> Path:
    """The zips unpacked with their own folder level: Landmarks/Landmarks, FACS_labels/FACS."""
    root = tmp_path / "nested"
    shutil.copytree(ck_tree[0] / "cohn-kanade-images", root / "cohn-kanade-images")
    shutil.copytree(ck_tree[0] / "Landmarks", root / "Landmarks" / "Landmarks")
    shutil.copytree(ck_tree[0] / "FACS", root / "FACS_labels" / "FACS")
    return root


def test_nested_zip_folders_are_found(ck_tree, tmp_path):
    rows = ckplus.build_manifest(nested_layout(ck_tree, tmp_path))
    assert len(rows) == 6 and all(row.landmarks is not None for row in rows)


def broken_copy(ck_tree, tmp_path) -> Path:
    root = tmp_path / "CK+"
    shutil.copytree(ck_tree[0], root)
    return root


def facs_file(root: Path) -> Path:
    return root / "FACS" / "S005" / "001" / "S005_001_00000003_facs.txt"


FAULTS = {
    "missing folder": (lambda root: root / "absent", "CK+ folder", "not found"),
    "no FACS folder": (lambda root: shutil.rmtree(root / "FACS") or root, "no FACS/ folder", "FACS_labels.zip"),
    "AU not a number": (lambda root: facs_file(root).write_text("   AU12   3.0\n") and root,
                        "S005_001_00000003_facs.txt line 1", "not two numbers"),
    "AU not whole": (lambda root: facs_file(root).write_text("   12.5   3.0\n") and root,
                     "S005_001_00000003_facs.txt line 1", "not a whole number"),
    "intensity out of range": (lambda root: facs_file(root).write_text("   12   7\n") and root,
                               "S005_001_00000003_facs.txt line 1", "not 0-5"),
    "empty FACS file": (lambda root: facs_file(root).write_text("\n") and root, "lists no AU", "restore"),
    "peak image missing": (lambda root: (root / "cohn-kanade-images/S005/001/S005_001_00000003.png").unlink() or root,
                           "which is missing", "cohn-kanade-images.zip"),
    "bad landmark file": (lambda root: (root / "Landmarks/S005/001/S005_001_00000003_landmarks.txt").write_text("1 2\n")
                          and root, "S005_001_00000003_landmarks.txt", "expected 68 lines"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_bad_input_is_one_line_exit_2_and_no_manifest(fault, ck_tree, tmp_path, capsys):
    break_it, names, fix = FAULTS[fault]
    root = break_it(broken_copy(ck_tree, tmp_path))
    out = tmp_path / "out" / "ck.csv"
    assert cli.main(["manifest", "--dataset", "ckplus", "--data-dir", str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and names in err[0] and fix in err[0], err
    assert not out.exists() and not list(tmp_path.glob("out/*"))


def test_the_trainer_reads_ckplus_in_place(ck_tree, tmp_path):
    from auedge.edge.align import CropParams
    from auedge.train.data import load_crops

    crops = load_crops("ckplus", ck_tree[0], ["au4", "au12"], CropParams(size=64), cache_dir=tmp_path / "cache",
                       val_fraction=0.0, progress=False)
    assert len(crops.labels) == 6 and crops.images.shape == (6, 64, 64, 3)
    assert sorted(crops.labels[:, 1].tolist()) == [0, 0, 0, 0, 0, 1]  # one AU12 peak; neutral frames 0
