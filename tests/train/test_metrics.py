import math

import numpy as np
import pytest
from auedge.train import metrics as M

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = np.array([
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
], dtype=float)


def test_icc31_matches_shrout_fleiss_worked_example():
    assert M.icc_anova(SHROUT_FLEISS) == pytest.approx(0.7148, abs=5e-4)


def test_icc31_two_raters_hand_computed():
    # truth [1,2,3,4], prediction [2,3,4,5]: a constant offset is perfect consistency.
    assert M.icc31([1, 2, 3, 4], [2, 3, 4, 5]) == pytest.approx(1.0)
    # truth [1,2,3], prediction [1,3,2]: row means 1, 2.5, 2.5 -> BMS = 3/2; column means equal;
    # SSE = 4 - 3 = 1 -> EMS = 0.5; ICC = (1.5 - 0.5) / (1.5 + 0.5) = 0.5.
    assert M.icc31([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    # reversed ranks: strongly negative.
    assert M.icc31([0, 1, 2, 3, 4], [4, 3, 2, 1, 0]) == pytest.approx(-1.0)


def test_icc31_ignores_nan_pairs():
    assert M.icc31([1, 2, np.nan, 4], [2, 3, 9, 5]) == pytest.approx(1.0)


def test_binary_scores_hand_computed():
    truth = [1, 1, 1, 0, 0, 0, 0, 1]
    pred = [1, 1, 0, 1, 0, 0, 0, 0]
    s = M.binary_scores(truth, pred)
    # tp=2 fp=1 fn=2 tn=3
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(0.5)
    assert s["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    assert s["accuracy"] == pytest.approx(5 / 8)


def test_roc_auc_known_values_and_ties():
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert M.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert math.isnan(M.roc_auc([1, 1], [0.2, 0.3]))


def test_best_threshold_separates_clean_scores():
    truth = np.array([0] * 50 + [1] * 50)
    scores = np.concatenate([np.linspace(0.0, 0.3, 50), np.linspace(0.6, 1.0, 50)])
    thr, f1 = M.best_threshold(truth, scores)
    assert 0.3 < thr <= 0.6 and f1 == pytest.approx(1.0)


def test_best_threshold_with_an_f1_tolerance_takes_the_highest_threshold_within_it():
    """Half the faces positive and scores that overlap: F1 peaks at a low threshold (say everything
    is present); the rule takes the highest threshold whose F1 is within the tolerance of that peak."""
    rng = np.random.default_rng(0)
    truth = np.array([0] * 500 + [1] * 500)
    scores = np.clip(np.concatenate([rng.normal(0.35, 0.15, 500), rng.normal(0.55, 0.15, 500)]), 0, 1)
    grid = np.linspace(0.05, 0.95, 91)
    f1s = np.array([M.f1_score(truth, scores >= t) for t in grid])
    thr0, f10 = M.best_threshold(truth, scores)
    assert thr0 == pytest.approx(grid[int(np.argmax(f1s))]) and f10 == pytest.approx(f1s.max())
    thr, f1 = M.best_threshold(truth, scores, f1_within=0.02)
    expected = grid[np.flatnonzero(f1s >= f1s.max() - 0.02).max()]
    assert thr == pytest.approx(expected) and thr > thr0 + 0.02
    assert f10 - 0.02 - 1e-9 <= f1 < f10
    assert M.best_threshold(truth, scores, f1_within=0.0) == (thr0, f10)


def test_all_positive_baseline_and_intensity_metrics():
    out = M.occurrence_metrics([1, 0, 1, 1], [0.9, 0.1, 0.8, 0.2], threshold=0.5)
    assert out["all_positive_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1))
    inten = M.intensity_metrics([0, 1, 2, 3], [0, 1, 2, 9])  # clipped to 5
    assert inten["mae"] == pytest.approx(0.5)


def test_group_scores_give_f1_per_pose_and_glasses_at_the_threshold():
    from auedge.train.trainer import group_scores

    meta = {"pose": np.array(["1"] * 5 + ["3"] * 6), "glasses": np.array(["0"] * 11)}
    truth = np.array([[1], [1], [0], [0], [1], [1], [1], [1], [0], [0], [0]], dtype=np.float32)
    pred = np.array([[0.9], [0.4], [0.1], [0.7], [0.8], [0.9], [0.8], [0.7], [0.2], [0.1], [0.3]], dtype=np.float32)
    groups = group_scores(meta, "occurrence", truth, pred, [0.5])
    assert groups["pose=1"]["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # tp 2, fp 1, fn 1
    assert groups["pose=3"]["f1"] == 1.0 and groups["pose=3"]["n"] == 6
    assert groups["glasses=0"]["n"] == 11
    assert set(group_scores({"pose": np.array(["2"] * 4)}, "occurrence", truth[:4], pred[:4], [0.5])) == set()  # < 5 faces
