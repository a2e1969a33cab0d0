"""UNBC-McMaster reader on a tiny tree in the distribution layout (tests/facs_fixtures.py): rows, labels, faults."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from auedge.train.data import cli, unbc
from auedge.train.data.manifest import read_manifest
from facs_fixtures import by_name, make_unbc, write_lines

SEQ1 = "042-ll042/ll042t1aaaff"  # the folder, under Images/, Frame_Labels/FACS/..., of the first sequence


@pytest.fixture(scope="module")
def unbc_tree(tmp_path_factory) -> tuple[Path, dict]:
    return make_unbc(tmp_path_factory.mktemp("unbc") / "UNBC")


def test_a_row_per_frame_with_subject_labels_pspi_measures_and_landmarks(unbc_tree):
    root, truth = unbc_tree
    rows = by_name(unbc.build_manifest(root, test_fraction=0.0))
    assert sorted(rows) == sorted(truth) and len(rows) == 10
    row = rows["ll042t1aaaff003.png"]
    assert row.subject == "042-ll042" and row.split == "train"
    assert row.meta == {"sequence": "ll042t1aaaff", "frame": "3", "pspi": "6", "aff": "5", "opr": "2", "sen": "",
                        "vas": "3", "source": "unbc"}
    # Listed AUs present, every other AU UNBC codes absent (an empty FACS file: nothing present).
    assert row.aus == {f"au{n}": float(n in (4, 7, 43)) for n in unbc.AUS}
    assert set(rows["ll042t1aaaff001.png"].aus.values()) == {0.0} and rows["ll042t1aaaff001.png"].meta["pspi"] == "0"
    # AU 0 (FACS' neutral face) lists nothing; a sequence without Sequence_Labels files has empty measures.
    neutral = rows["jh043t1afaff002.png"]
    assert set(neutral.aus.values()) == {0.0} and neutral.meta["vas"] == neutral.meta["aff"] == ""
    assert rows["ll042t2aaunaff003.png"].aus["au6"] == 1.0  # listed with intensity 0: present, not scored
    assert rows["jh043t1afaff001.png"].meta["pspi"] == "4"  # 1 + max(0, 0) + max(2, 3) + 0
    for name, row in rows.items():
        np.testing.assert_allclose(row.landmarks, truth[name], atol=1e-3)  # eye centres, nose tip, mouth corners
        assert Path(row.path).is_absolute() and Path(row.path).is_file()


def test_intensity_labels_keep_scores_and_leave_unscored_and_au43_unknown(unbc_tree):
    rows = by_name(unbc.build_manifest(unbc_tree[0], kind="intensity", test_fraction=0.0))
    peak = rows["ll042t1aaaff003.png"].aus
    assert (peak["au4"], peak["au7"], peak["au6"], peak["au12"]) == (3.0, 2.0, 0.0, 0.0)
    assert math.isnan(peak["au43"])  # coded as occurrence only: not an intensity
    assert math.isnan(rows["ll042t2aaunaff003.png"].aus["au6"]) and rows["ll042t2aaunaff003.png"].aus["au12"] == 1.0
    assert rows["jh043t1afaff003.png"].aus["au12"] == 4.0 and rows["jh043t1afaff001.png"].aus["au10"] == 3.0


def test_stride_takes_every_nth_frame_of_each_sequence(unbc_tree):
    names = sorted(by_name(unbc.build_manifest(unbc_tree[0], stride=2)))
    assert names == ["jh043t1afaff001.png", "jh043t1afaff003.png", "ll042t1aaaff001.png", "ll042t1aaaff003.png",
                     "ll042t2aaunaff001.png", "ll042t2aaunaff003.png"]
    assert len(unbc.build_manifest(unbc_tree[0], stride=3)) == 4  # 4 frames: 1st and 4th; 3 frames: the 1st
    assert len(unbc.build_manifest(unbc_tree[0], stride=100)) == 3  # one frame a sequence


def test_subject_disjoint_seeded_splits(unbc_tree):
    root = unbc_tree[0]
    rows = unbc.build_manifest(root, test_fraction=0.5)
    tested = {row.subject for row in rows if row.split == "test"}
    assert len(tested) == 1 and not tested & {row.subject for row in rows if row.split == "train"}
    again = unbc.build_manifest(root, test_fraction=0.5)
    assert [r.split for r in rows] == [r.split for r in again]
    assert {row.split for row in unbc.build_manifest(root, all_split="test")} == {"test"}


def test_nested_zip_folders_are_found(unbc_tree, tmp_path):
    root = tmp_path / "nested"
    for name in ("Images", "Frame_Labels", "AAM_landmarks", "Sequence_Labels"):
        shutil.copytree(unbc_tree[0] / name, root / name / name)
    rows = by_name(unbc.build_manifest(root))
    assert len(rows) == 10 and all(row.landmarks is not None for row in rows.values())
    assert rows["ll042t1aaaff003.png"].meta["vas"] == "3"


def test_without_landmarks_or_pspi_folders(tmp_path, capsys):
    root, _ = make_unbc(tmp_path / "UNBC", landmarks=False, pspi=False)
    rows = by_name(unbc.build_manifest(root))
    assert all(row.landmarks is None for row in rows.values())
    assert rows["ll042t1aaaff003.png"].meta["pspi"] == "6"  # computed from the FACS codes
    err = capsys.readouterr().err
    assert "PSPI computed from the FACS codes" in err and "10 of 10 rows have no landmarks" in err


def test_a_pspi_file_that_disagrees_with_the_codes_is_kept_and_counted(unbc_tree, tmp_path, capsys):
    root = tmp_path / "UNBC"
    shutil.copytree(unbc_tree[0], root)
    write_lines(root / "Frame_Labels/PSPI" / SEQ1 / "ll042t1aaaff002_facs.txt", [(5,)])
    rows = by_name(unbc.build_manifest(root))
    assert rows["ll042t1aaaff002.png"].meta["pspi"] == "5"
    assert "1 of 10 frames have a PSPI file that differs" in capsys.readouterr().err


def test_cli_writes_a_manifest_the_strict_reader_takes(unbc_tree, tmp_path):
    out = tmp_path / "unbc.csv"
    assert cli.main(["manifest", "--dataset", "unbc", "--data-dir", str(unbc_tree[0]), "--out", str(out),
                     "--label-kind", "intensity", "--stride", "2", "--split-all", "test"]) == 0
    rows = by_name(read_manifest(out))
    assert len(rows) == 6 and {row.split for row in rows.values()} == {"test"}
    assert all(row.landmarks is not None for row in rows.values())
    peak = rows["ll042t1aaaff003.png"]
    assert peak.aus["au4"] == 3.0 and math.isnan(peak.aus["au43"]) and peak.meta["pspi"] == "6"


def test_the_trainer_reads_unbc_in_place(unbc_tree, tmp_path):
    from auedge.edge.align import CropParams
    from auedge.train.data import load_crops

    crops = load_crops("unbc", unbc_tree[0], ["au4", "au12"], CropParams(size=64), cache_dir=tmp_path / "cache",
                       val_fraction=0.0, progress=False)
    assert len(crops.labels) == 10 and crops.images.shape == (10, 64, 64, 3)
    assert crops.labels[:, 1].sum() == 4 and crops.labels[:, 0].sum() == 3  # AU12 in 4 frames, AU4 in 3
    assert set(crops.meta["pspi"]) >= {"0", "6"}
    intensity = load_crops("unbc", unbc_tree[0], ["au4", "au12"], CropParams(size=64), cache_dir=tmp_path / "cache",
                           val_fraction=0.0, progress=False, kind="intensity")
    assert sorted(intensity.labels[:, 0].tolist()) == [0] * 7 + [1, 2, 3]  # the task's kind reaches the reader


def test_the_trainer_takes_dataset_unbc():
    from auedge.train.config import build_config

    cfg = build_config(overrides={"dataset": "unbc", "data_dir": "UNBC", "task": "au4+au12-intensity"}).validate()
    assert cfg.datasets == ["unbc"]


def frame_file(root: Path, folder: str, frame: str = "ll042t1aaaff002", suffix: str = "_facs.txt") -> Path:
    return root / folder / SEQ1 / f"{frame}{suffix}"


def facs(root: Path, text: str) -> Path:
    frame_file(root, "Frame_Labels/FACS").write_text(text)
    return root


FAULTS = {
    "missing folder": (lambda root: root / "absent", [], "UNBC-McMaster folder", "not found"),
    "no Images": (lambda root: shutil.rmtree(root / "Images") or root, [], "no Images/ folder",
                  "unzip the download's Images"),
    "no FACS folder": (lambda root: shutil.rmtree(root / "Frame_Labels/FACS") or root, [], "no Frame_Labels/FACS/ folder",
                       "unzip the download's Frame_Labels"),
    "no frames": (lambda root: [shutil.rmtree(p) for p in (root / "Images").iterdir()] and root, [],
                  "holds no <subject>/<sequence>/*.png", "Images folder"),
    "image badly named": (lambda root: (root / "Images" / SEQ1 / "ll042t1aaaff002.png").rename(
        root / "Images" / SEQ1 / "frame2.png") and root, [], "frame2.png: name is not ll042t1aaaffNNN.png",
        "restore the UNBC-McMaster file names"),
    "FACS file missing": (lambda root: frame_file(root, "Frame_Labels/FACS").unlink() or root, [],
                          "has no FACS file", "Frame_Labels fully"),
    "FACS line of three": (lambda root: facs(root, "4 2 0\n"), [], "ll042t1aaaff002_facs.txt line 1", "has 3 values"),
    "FACS line not numbers": (lambda root: facs(root, "AU4 2\n"), [], "ll042t1aaaff002_facs.txt line 1",
                              "not two or four numbers"),
    "AU not whole": (lambda root: facs(root, "4.5 2 0 0\n"), [], "ll042t1aaaff002_facs.txt line 1",
                     "not a whole number >= 0"),
    "intensity out of range": (lambda root: facs(root, "4 7 0 0\n"), [], "ll042t1aaaff002_facs.txt line 1", "not 0-5"),
    "PSPI file missing": (lambda root: frame_file(root, "Frame_Labels/PSPI").unlink() or root, [],
                          "has no PSPI file", "Frame_Labels fully"),
    "PSPI not a number": (lambda root: frame_file(root, "Frame_Labels/PSPI").write_text("pain\n") and root, [],
                          "PSPI file", "one number, a number 0-16"),
    "PSPI out of range": (lambda root: frame_file(root, "Frame_Labels/PSPI").write_text("17\n") and root, [],
                          "ll042t1aaaff002_facs.txt must hold one number", "Frame_Labels"),
    "landmarks of 65 points": (lambda root: frame_file(root, "AAM_landmarks", suffix="_aam.txt").write_text(
        "1 2\n" * 65) and root, [], "ll042t1aaaff002_aam.txt", "expected 66 lines"),
    "landmark not a number": (lambda root: frame_file(root, "AAM_landmarks", suffix="_aam.txt").write_text(
        "1 2\n" * 65 + "x y\n") and root, [], "ll042t1aaaff002_aam.txt", "AAM_landmarks"),
    "sequence measure not a number": (lambda root: (root / "Sequence_Labels/VAS/042-ll042/ll042t1aaaff.txt").write_text(
        "three\n") and root, [], "VAS file", "Sequence_Labels"),
    "stride 0": (lambda root: root, ["--stride", "0"], "--stride must be >= 1", "every frame"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_bad_input_is_one_line_exit_2_and_no_manifest(fault, unbc_tree, tmp_path, capsys):
    break_it, args, names, fix = FAULTS[fault]
    root = tmp_path / "UNBC"
    shutil.copytree(unbc_tree[0], root)
    root = break_it(root)
    out = tmp_path / "out" / "unbc.csv"
    assert cli.main(["manifest", "--dataset", "unbc", "--data-dir", str(root), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and names in err[0] and fix in err[0], err
    assert not out.exists() and not list(tmp_path.glob("out/*"))
