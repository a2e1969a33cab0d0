"""Pose-balanced sampling: the weights, the epochs they draw, and the refusal on data without poses."""

import numpy as np
import pytest
from auedge.edge.preprocess import Normalization
from auedge.train.augment import AugmentSpec
from auedge.train.sampling import balance_weights, group_shares

GROUPS = np.array(["3"] * 800 + ["2"] * 150 + ["1"] * 50)


def test_power_zero_is_uniform_and_power_one_equalises_groups():
    np.testing.assert_allclose(balance_weights(GROUPS, 0.0), np.full(len(GROUPS), 1 / len(GROUPS)))
    shares = group_shares(GROUPS, balance_weights(GROUPS, 1.0))
    assert shares == pytest.approx({"1": 1 / 3, "2": 1 / 3, "3": 1 / 3})


def test_half_power_gives_shares_proportional_to_root_counts():
    shares = group_shares(GROUPS, balance_weights(GROUPS, 0.5))
    roots = {"1": 50**0.5, "2": 150**0.5, "3": 800**0.5}
    total = sum(roots.values())
    assert shares == pytest.approx({g: r / total for g, r in roots.items()})


@pytest.mark.parametrize("power", [-0.1, 1.5])
def test_power_outside_unit_interval_is_refused(power):
    with pytest.raises(ValueError, match="power"):
        balance_weights(GROUPS, power)


def test_empty_training_set_is_refused():
    with pytest.raises(ValueError, match="empty"):
        balance_weights(np.array([]), 0.5)


def make_sequence(weights, seed=3):
    pytest.importorskip("keras")
    from auedge.train.trainer import CropSequence

    n = len(GROUPS)
    images = np.zeros((n, 8, 8, 3), np.uint8)
    landmarks = np.zeros((n, 5, 2), np.float32)
    targets = np.zeros((n, 1), np.float32)
    norm = Normalization(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    return CropSequence(images, landmarks, targets, AugmentSpec(), norm, 64, seed, sample_weights=weights)


def test_balanced_epochs_draw_rare_poses_as_often_as_the_weights_say():
    seq = make_sequence(balance_weights(GROUPS, 1.0))
    drawn = []
    for _ in range(6):
        assert len(seq.order) == len(GROUPS)
        drawn.append(GROUPS[seq.order])
        seq.next_epoch()
    drawn = np.concatenate(drawn)
    assert np.mean(drawn == "1") == pytest.approx(1 / 3, abs=0.03)  # 5 % of the faces, a third of the draws


def test_unweighted_epochs_stay_permutations_and_draws_are_reproducible():
    plain = make_sequence(None)
    assert sorted(plain.order.tolist()) == list(range(len(GROUPS)))
    a, b = make_sequence(balance_weights(GROUPS, 0.5)), make_sequence(balance_weights(GROUPS, 0.5))
    np.testing.assert_array_equal(a.order, b.order)
    first = a.order.copy()
    a.next_epoch()
    assert not np.array_equal(first, a.order)


def test_pose_balance_on_data_without_poses_is_one_config_error(tmp_path):
    pytest.importorskip("tensorflow")
    from auedge.train import trainer
    from auedge.train.config import ConfigError, build_config

    cfg = build_config(None, {"epochs": 1, "limit": 16, "input_size": 64, "task": "au12-occurrence", "threads": 0,
                              "pose_balance": 0.5, "cache_dir": str(tmp_path / "cache")})
    with pytest.raises(ConfigError, match="pose label"):
        trainer.fit(cfg, tmp_path / "run")


def test_pose_balance_outside_range_is_a_config_error():
    from auedge.train.config import ConfigError, build_config

    with pytest.raises(ConfigError, match="pose_balance"):
        build_config(None, {"pose_balance": 2.0})
