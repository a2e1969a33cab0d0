"""benchmarks/end_to_end.py: the whole device path (detector keypoints) beside label crops."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from auedge.benchmarks import end_to_end
from auedge.benchmarks.detection import Face


def fake_estimator(threshold: float = 0.5):
    output = SimpleNamespace(au="AU12", kind="occurrence", threshold=threshold, range=(0.0, 1.0))
    return SimpleNamespace(bundle=SimpleNamespace(outputs=[output]))


def test_a_missed_face_counts_as_absent_only_in_the_all_faces_row():
    faces = [Face(np.zeros((4, 4, 3), np.uint8), np.zeros((5, 2)), pose, f"f{i}", {"au12": truth})
             for i, (pose, truth) in enumerate([("3", 1.0), ("3", 1.0), ("3", 0.0), ("1", 1.0)])]
    scores = end_to_end.FaceScores(
        device=np.array([[0.9], [0.8], [0.2], [np.nan]]),  # the last face was never found
        labels=np.array([[0.9], [0.4], [0.1], [np.nan]]),
        found=np.array([True, True, True, False]),
        cpu_ms=[1.0, 1.0, 1.0, 1.0],
    )
    summary = end_to_end.summarise(fake_estimator(), faces, scores)
    fig = summary["outputs"]["AU12"]
    assert summary["found"] == 3 and summary["found_rate"] == 0.75 and summary["found_per_pose"] == {"1": 0.0, "3": 1.0}
    assert fig["device"]["n"] == 3 and fig["device"]["f1"] == 1.0  # found faces: two smiles caught, no false alarm
    assert fig["labels"]["f1"] == pytest.approx(2 / 3)  # label crop misses the second smile: P 1, R 0.5
    assert fig["all_faces"]["n"] == 4 and fig["all_faces"]["recall"] == pytest.approx(2 / 3)  # the missed smile is lost


def test_runs_the_device_path_on_synthetic_faces_and_writes_json(tiny_bundle, tmp_path, capsys):
    code = end_to_end.main(["--bundle", str(tiny_bundle), "--synthetic", "--limit", "10", "--occlude", "none,mask-full",
                            "--out-dir", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "synthetic" in out and "| onnx-fp32 | mask-full | AU12 |" in out
    data = json.loads(next(tmp_path.glob("end_to_end-tiny-*.json")).read_text())
    assert data["synthetic"] is True and data["crop"]["method"] == "eyes"
    rows = {r["occluder"]: r for r in data["rows"]}
    assert rows["none"]["found_rate"] >= 0.9 and rows["none"]["n"] == 10
    fig = rows["none"]["outputs"]["AU12"]
    assert fig["device"]["n"] == rows["none"]["found"] == fig["labels"]["n"]

    from auedge.benchmarks import report

    assert report.main(["--results", str(tmp_path)]) == 0
    text = (tmp_path / "REPORT.md").read_text()
    assert "## Accuracy through the whole device path" in text and "| onnx-fp32 | mask-full | AU12 |" in text


def test_device_values_are_the_estimators_own(tiny_bundle):
    """The device column is Estimator.estimate's value for the matched face; the label column is the
    same Estimator on the label crop."""
    from auedge.benchmarks.detection import DetectionOptions, load_faces
    from auedge.edge.align import points_from_landmarks
    from auedge.edge.estimator import Estimator

    faces, _ = load_faces(DetectionOptions(synthetic=True, limit=3), print)
    est = Estimator.from_bundle(tiny_bundle)
    try:
        scores = end_to_end.run_condition(est, faces, "none", 0, print)
        for i, face in enumerate(faces):
            if scores.found[i]:
                labelled = est.estimate_with_landmarks(face.image, *points_from_landmarks(face.landmarks))
                assert scores.labels[i, 0] == pytest.approx(labelled.aus["AU12"])
                detected = [f.aus["AU12"] for f in est.estimate(face.image).faces]
                assert scores.device[i, 0] == pytest.approx(detected[0])
    finally:
        est.close()
    assert scores.found.sum() >= 2


def test_bad_arguments_give_one_line_and_exit_2(tiny_bundle, tmp_path, capsys):
    assert end_to_end.main(["--bundle", str(tmp_path / "missing"), "--synthetic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    assert end_to_end.main(["--bundle", str(tiny_bundle), "--synthetic", "--variants", "int8"]) == 2
    assert "has no variant 'int8'" in capsys.readouterr().err
    assert end_to_end.main(["--bundle", str(tiny_bundle), "--synthetic", "--occlude", "scarf"]) == 2
    assert "unknown occluder" in capsys.readouterr().err


def test_zero_threads_give_one_line_and_exit_2(tiny_bundle, tmp_path, capsys):
    assert end_to_end.main(["--bundle", str(tiny_bundle), "--synthetic", "--limit", "2", "--threads", "0",
                            "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "--threads" in err[0]
    assert not list(tmp_path.glob("*.json"))
