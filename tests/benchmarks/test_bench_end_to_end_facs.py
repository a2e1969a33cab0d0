"""benchmarks/end_to_end.py on FACS-coded sets (CK+, UNBC-McMaster, DISFA, any manifest) with the shipped default bundle.

The trees are tiny synthetic stand-ins in the datasets' layouts (tests/facs_fixtures.py): these
tests check the plumbing (rows, labels, cut, detector, report), not the model's accuracy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from auedge.benchmarks import end_to_end
from auedge.benchmarks.detection import Face
from auedge.train.data import cli
from facs_fixtures import make_ckplus, make_disfa, make_unbc

DEFAULT_BUNDLE = Path(__file__).resolve().parents[2] / "edge" / "models" / "default"


@pytest.fixture(scope="module")
def default_bundle() -> Path:
    pytest.importorskip("cv2")
    from auedge.edge.backends import BackendError
    from auedge.edge.estimator import Estimator

    try:
        Estimator.from_bundle(DEFAULT_BUNDLE).close()
    except BackendError as exc:
        pytest.skip(f"no interpreter for the default bundle: {exc}")
    return DEFAULT_BUNDLE


def run(args: list[str], out_dir: Path, occlude: str = "none") -> dict:
    assert end_to_end.main(["--bundle", str(DEFAULT_BUNDLE), "--occlude", occlude, "--out-dir", str(out_dir), *args]) == 0
    return json.loads(next(out_dir.glob("end_to_end-*.json")).read_text())


def test_ckplus_in_place_every_face_through_the_device_path(default_bundle, tmp_path, capsys):
    root, _ = make_ckplus(tmp_path / "CK+")
    data = run(["--dataset", "ckplus", "--data-dir", str(root), "--split", "all"], tmp_path / "results", "none,mask-full")
    row, masked = data["rows"]
    assert data["dataset"] == "ckplus" and data["present_at"] == 1.0 and row["n"] == 6 and row["found"] == 6
    # The occluder is pasted on CK+'s own landmarks; a face it hides from the detector counts as absent.
    assert masked["occluder"] == "mask-full" and masked["outputs"]["AU4"]["all_faces"]["n"] == 6
    assert any(f["occluder"] == "mask-full" and f["flag"] == "AU12_occluded" for f in data["flag_f1"])
    au4, au12 = row["outputs"]["AU4"]["device"], row["outputs"]["AU12"]["device"]
    assert au12["n"] == au4["n"] == 6
    # Truth at the peak: AU12 in S005_001 only, AU4 in S005_002 and S010_004 (intensity 0 = present).
    assert au12["all_positive_f1"] == pytest.approx(2 * (1 / 6) / (1 / 6 + 1))
    assert au4["all_positive_f1"] == pytest.approx(2 * (2 / 6) / (2 / 6 + 1))
    assert set(au4["ci95"]) == {"f1", "roc_auc"} and 0 <= au4["roc_auc"] <= 1
    assert row["not_scored"] == []
    out = capsys.readouterr().out
    assert "| all-positive F1 |" in out and "| AU4 " in out and "not scored" not in out


def test_unbc_in_place_every_frame_with_its_intensities_cut_at_1(default_bundle, tmp_path, capsys):
    root, _ = make_unbc(tmp_path / "UNBC")
    data = run(["--dataset", "unbc", "--data-dir", str(root), "--split", "all"], tmp_path / "results")
    (row,) = data["rows"]
    assert data["dataset"] == "unbc" and data["present_at"] == 1.0 and row["n"] == 10 and row["found"] == 10
    assert "unbc " in data["source"] and "located by the device detector" not in data["source"]  # AAM landmarks
    # The fixture's AU4 intensities 0,2,3,0 / 0,0,0 / 1,0,0: present from 1 in 3 of 10 frames.
    assert row["outputs"]["AU4"]["all_faces"]["all_positive_f1"] == pytest.approx(2 * 0.3 / 1.3)
    # AU12 0,0,0,2 / 0,3,1 / 0,0,4: 4 of 10.
    assert row["outputs"]["AU12"]["all_faces"]["all_positive_f1"] == pytest.approx(2 * 0.4 / 1.4)
    capsys.readouterr()
    again = run(["--dataset", "unbc", "--data-dir", str(root), "--split", "all", "--present-at", "2"],
                tmp_path / "results2")
    # Intensities, not 0/1, reach the benchmark: at B or more, AU4 is present in 2 frames, AU12 in 3.
    outputs = again["rows"][0]["outputs"]
    assert outputs["AU4"]["all_faces"]["all_positive_f1"] == pytest.approx(2 * 0.2 / 1.2)
    assert outputs["AU12"]["all_faces"]["all_positive_f1"] == pytest.approx(2 * 0.3 / 1.3)


def test_disfa_folder_uses_the_intensity_cut_2_and_locates_faces_without_landmarks(default_bundle, tmp_path, capsys):
    folder = tmp_path / "disfa"
    assert cli.main(["import-disfa", "--src", str(make_disfa(tmp_path / "DISFA")), "--out", str(folder),
                     "--stride", "1", "--split-all", "test"]) == 0
    data = run(["--dataset", "disfa", "--data-dir", str(folder)], tmp_path / "results")
    (row,) = data["rows"]
    assert data["present_at"] == 2.0 and row["n"] == 10 and row["found"] == 10
    assert "10 faces without landmarks located by the device detector" in data["source"]
    # fixtures' AU4 intensities 0,3,1,0,0 / 0,2,0,5,0: present at >= 2 in 3 of 10 frames (the 1 is absent)
    assert row["outputs"]["AU4"]["all_faces"]["all_positive_f1"] == pytest.approx(2 * 0.3 / 1.3)
    # AU12 0,0,0,4,2 / 1,0,0,0,3: 3 of 10 at >= 2
    assert row["outputs"]["AU12"]["all_faces"]["all_positive_f1"] == pytest.approx(2 * 0.3 / 1.3)
    capsys.readouterr()
    again = run(["--dataset", "manifest", "--data-dir", str(folder / "manifest.csv"), "--present-at", "1"],
                tmp_path / "results1")
    # The same frames at FACS' A level: the AU4 1 now counts, 4 of 10.
    assert again["rows"][0]["outputs"]["AU4"]["all_faces"]["all_positive_f1"] == pytest.approx(2 * 0.4 / 1.4)


def test_an_au_the_data_does_not_label_is_listed_as_not_scored(default_bundle, tmp_path, capsys):
    from auedge.train.data.manifest import read_manifest, write_manifest

    root, _ = make_ckplus(tmp_path / "CK+")
    cli.main(["manifest", "--dataset", "ckplus", "--data-dir", str(root), "--out", str(tmp_path / "ck.csv")])
    rows = read_manifest(tmp_path / "ck.csv")
    for r in rows:
        del r.aus["au4"]
    write_manifest(rows, tmp_path / "no_au4.csv")
    data = run(["--dataset", "manifest", "--data-dir", str(tmp_path / "no_au4.csv"), "--split", "all", "--limit", "3"],
               tmp_path / "results")
    assert data["rows"][0]["not_scored"] == ["AU4"] and "AU4" not in data["rows"][0]["outputs"]
    assert re.search(r"\| AU4 +\| 100.0% +\| not scored +\|", capsys.readouterr().out)


def test_a_face_the_detector_does_not_find_on_the_bare_image_is_missed_everywhere(default_bundle):
    from auedge.edge.estimator import Estimator

    blank = Face(np.full((200, 200, 3), 128, np.uint8), None, "-", "blank", {"au12": 1.0})
    est = Estimator.from_bundle(DEFAULT_BUNDLE)
    try:
        note = end_to_end.locate_faces(est, [blank], print)
        scores = end_to_end.run_condition(est, [blank], "mask-full", 0, print)
    finally:
        est.close()
    assert blank.landmarks is None and "1 not found" in note
    assert not scores.found[0] and np.isnan(scores.device[0]).all()


FAULTS = {
    "manifest missing": (["--dataset", "manifest", "--data-dir", "absent.csv"], "absent.csv not found"),
    "CK+ folder missing": (["--dataset", "ckplus", "--data-dir", "absent"], "CK+ folder absent not found"),
    "UNBC folder missing": (["--dataset", "unbc", "--data-dir", "absent"], "UNBC-McMaster folder absent not found"),
    "split empty": (["--dataset", "ckplus", "--data-dir", "CK+", "--split", "val"], "no rows in split 'val'"),
    "cut on 0/1 labels": (["--dataset", "ckplus", "--data-dir", "CK+", "--split", "all", "--present-at", "2"],
                          "labels are all 0/1"),
    "cut out of range": (["--dataset", "ckplus", "--data-dir", "CK+", "--present-at", "7"], "--present-at must be"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_bad_arguments_give_one_line_and_exit_2(fault, default_bundle, tmp_path, capsys, monkeypatch):
    make_ckplus(tmp_path / "CK+")
    monkeypatch.chdir(tmp_path)
    args, message = FAULTS[fault]
    code = end_to_end.main(["--bundle", str(DEFAULT_BUNDLE), "--occlude", "none", "--limit", "2",
                            "--out-dir", str(tmp_path / "results"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not list(tmp_path.glob("results/*.json"))
