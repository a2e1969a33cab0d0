"""Subject-disjoint validation split and the deterministic per-split limit."""

from __future__ import annotations

import numpy as np
from auedge.train.data.splits import assign_validation, carve_subjects, limited_indices


def dataset(n_subjects=300, seed=0):
    rng = np.random.default_rng(seed)
    per_subject = rng.integers(1, 8, n_subjects)
    subjects = np.repeat([f"p{i}" for i in range(n_subjects)], per_subject)
    rng.shuffle(subjects)
    splits = np.where(np.char.endswith(subjects, "7"), "test", "train")
    return subjects, splits


def test_no_subject_in_both_train_and_val():
    subjects, splits = dataset()
    out = assign_validation(splits, subjects, 0.15, seed=0)
    train, val = set(subjects[out == "train"]), set(subjects[out == "val"])
    assert val and train and train.isdisjoint(val)
    pool = (splits == "train").sum()
    assert 0.15 * pool <= (out == "val").sum() < 0.15 * pool + 8  # stops at the first subject past the target
    np.testing.assert_array_equal(out[splits == "test"], "test")  # test untouched


def test_assignment_is_deterministic_order_free_and_seeded():
    subjects, splits = dataset()
    first = assign_validation(splits, subjects, 0.2, seed=1)
    order = np.random.default_rng(5).permutation(len(subjects))
    again = assign_validation(splits[order], subjects[order], 0.2, seed=1)
    np.testing.assert_array_equal(first[order], again)
    other = assign_validation(splits, subjects, 0.2, seed=2)
    assert set(subjects[first == "val"]) != set(subjects[other == "val"])


def test_existing_val_split_is_kept():
    splits = np.array(["train", "val", "train", "test"])
    subjects = np.array(["a", "b", "c", "d"])
    np.testing.assert_array_equal(assign_validation(splits, subjects, 0.5), splits)
    assert not carve_subjects(subjects, splits == "train", 0.0).any()


def test_limit_keeps_label_balance_per_split():
    splits = np.array(["train"] * 1000 + ["test"] * 100 + ["val"] * 10)
    labels = np.concatenate([np.repeat([0.0, 1.0, np.nan], [700, 200, 100]), np.zeros(110)])
    picked = limited_indices(splits, np.nan_to_num(labels, nan=-1), 50, seed=0)
    assert [(splits[picked] == s).sum() for s in ("train", "test", "val")] == [50, 50, 10]
    train_labels = np.nan_to_num(labels[picked][splits[picked] == "train"], nan=-1)
    assert [(train_labels == v).sum() for v in (0, 1, -1)] == [35, 10, 5]
    np.testing.assert_array_equal(picked, limited_indices(splits, np.nan_to_num(labels, nan=-1), 50, seed=0))
    assert np.all(np.diff(picked) > 0)


def test_a_tiny_pool_keeps_a_training_subject():
    splits = np.array(["train"] * 3 + ["test"])
    out = assign_validation(splits, np.array(["a", "a", "b", "c"]), 0.9)
    assert sorted(out[:3]) in (["train", "train", "val"], ["train", "val", "val"])
    np.testing.assert_array_equal(assign_validation(splits, np.array(["a", "a", "a", "c"]), 0.5)[:3], "train")
