"""Helpers of the peer comparison and the intensity path of the accuracy figures."""

from __future__ import annotations

import numpy as np
import pytest
from auedge.benchmarks import accuracy, peers


def test_best_count_picks_the_threshold_with_the_best_f1():
    truth = np.array([0, 0, 0, 1, 1, 1], dtype=float)
    scores = np.array([0, 2, 3, 5, 6, 9], dtype=float)  # smile = score >= k; k = 4 or 5 separates perfectly
    k, f1 = peers.best_count(truth, scores)
    assert k == 4 and f1 == pytest.approx(1.0)


def test_cohen_kappa_known_values():
    a = np.array([1, 1, 0, 0])
    assert peers.cohen_kappa(a, a) == pytest.approx(1.0)
    assert peers.cohen_kappa(a, 1 - a) == pytest.approx(-1.0)
    assert peers.cohen_kappa(np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0])) == pytest.approx(0.0)


def test_every_candidate_says_why():
    assert all(c["note"] and c["package"] and "runs_here" in c for c in peers.CANDIDATES)


def test_intensity_figures_and_icc_drop():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 5, 400)
    reference = truth + rng.normal(0, 0.3, 400)
    noisy = reference + rng.normal(0, 0.6, 400)
    figures = accuracy.intensity_figures(truth, noisy, reference, 0.0, 5.0)
    assert figures["icc_vs_float"] < 1.0 and figures["mae_vs_float"] == pytest.approx(0.6 * 0.8, rel=0.2)
    assert sum(figures["confusion"][k] for k in ("tp", "fp", "fn", "tn")) == 400
    drop = accuracy.drop_interval("intensity", truth, reference, noisy, 0.0, resamples=200, seed=1)
    assert drop["metric"] == "icc31" and 0 < drop["low"] <= drop["estimate"] <= drop["high"]


def test_occurrence_truth_binarises_intensities_at_one():
    out = accuracy.occurrence_truth(np.array([0.0, 0.5, 1.0, 4.0, np.nan]))
    assert out[:4].tolist() == [0.0, 0.0, 1.0, 1.0] and np.isnan(out[4])


class _Bundle:
    def __init__(self, training: dict | None):
        self.manifest = {} if training is None else {"training": training}


def test_training_keypoints_follows_the_bundle():
    assert accuracy.training_keypoints(_Bundle({"keypoints": "detector"})) == "detector"
    assert accuracy.training_keypoints(_Bundle({"run": "r"})) == "labels"  # bundles made before the option
    assert accuracy.training_keypoints(_Bundle(None)) == "labels"


def test_peers_cut_crops_as_the_bundle_was_trained(monkeypatch, tmp_path):
    """A detector-keypoint bundle scored on label crops would be judged on crops it never saw."""
    seen: dict = {}

    class Stop(Exception):
        pass

    class FakeBundle(_Bundle):
        au_names = ("AU12",)
        root = tmp_path
        crop = object()

    def fake_load_crops(dataset, data_dir, aus, crop, **kwargs):
        seen.update(kwargs, dataset=dataset)
        raise Stop

    monkeypatch.setattr("auedge.edge.bundle.load_bundle", lambda path: FakeBundle({"keypoints": "detector"}))
    monkeypatch.setattr("auedge.train.data.load_crops", fake_load_crops)
    with pytest.raises(Stop):
        peers.run_peers(peers.PeersOptions(bundle=str(tmp_path), data_dir=str(tmp_path), out_dir=str(tmp_path)))
    assert seen == {"dataset": "mtfl", "keypoints": "detector"}


def test_zero_threads_give_one_line_and_exit_2(tiny_bundle, tmp_path, capsys):
    assert peers.main(["--bundle", str(tiny_bundle), "--threads", "0", "--data-dir", str(tmp_path),
                       "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "--threads" in err[0]
    assert not list(tmp_path.glob("*.json"))


def test_cascade_time_per_face_is_the_same_statistic_as_ours():
    """Ours is total time / faces (a mean); the cascade's must be too, with its median beside it."""
    times = peers.cascade_times(np.array([1.0, 1.0, 10.0]))
    assert times == {"ms_per_face": pytest.approx(4.0), "ms_per_face_median": pytest.approx(1.0)}
