"""Subject-disjoint splits and deterministic subsets.

A person seen in training and again in validation makes the validation score a memory test, so
whole SUBJECTS are assigned: each subject gets a rank from a hash of ``(salt, seed, subject)``
and subjects are taken in rank order until the target fraction of rows is reached. The hash
makes the assignment independent of row order and of Python's hash randomisation, and stable
when unrelated rows are added.
"""

from __future__ import annotations

import hashlib

import numpy as np


def subject_rank(subject: str, seed: int, salt: str) -> int:
    digest = hashlib.blake2b(f"{salt}:{seed}:{subject}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def carve_subjects(
    subjects: np.ndarray, pool: np.ndarray, fraction: float, seed: int = 0, salt: str = "val"
) -> np.ndarray:
    """Mask of pool rows whose subjects are chosen to hold about ``fraction`` of the pool's rows.

    At least one subject always stays in the pool, so a tiny pool is never emptied."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"split fraction must be in [0, 1), got {fraction}")
    subjects = np.asarray(subjects).astype(str)
    pool = np.asarray(pool, dtype=bool)
    chosen = np.zeros(len(subjects), dtype=bool)
    target = fraction * int(pool.sum())
    if target <= 0:
        return chosen
    names, counts = np.unique(subjects[pool], return_counts=True)
    order = sorted(range(len(names)), key=lambda i: subject_rank(str(names[i]), seed, salt))
    picked, taken = [], 0
    for i in order[:-1]:  # never the last subject: the rest of the pool must keep someone
        if taken >= target:
            break
        picked.append(names[i])
        taken += int(counts[i])
    chosen[pool] = np.isin(subjects[pool], picked)
    return chosen


def assign_validation(splits: np.ndarray, subjects: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Splits with ``val`` carved out of ``train`` by subject, unless the data already has a ``val`` split.

    ``test`` rows are never touched.
    """
    splits = np.asarray(splits).astype(str).copy()
    if (splits == "val").any() or fraction == 0:
        return splits
    splits[carve_subjects(subjects, splits == "train", fraction, seed, salt="val")] = "val"
    return splits


def limited_indices(splits: np.ndarray, strata: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices keeping at most ``limit`` rows per split, spread over the strata.

    Each stratum (e.g. a label value) gets a share proportional to its size (largest remainders
    get the leftover rows), rows are drawn with a seeded generator: a quick run sees the same
    label balance as the full data, and the same rows every time.
    """
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    splits = np.asarray(splits).astype(str)
    strata = np.asarray(strata)
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for split in sorted(set(splits.tolist())):
        rows = np.flatnonzero(splits == split)
        if len(rows) <= limit:
            keep.append(rows)
            continue
        values, inverse = np.unique(strata[rows], return_inverse=True)
        sizes = np.bincount(inverse, minlength=len(values))
        exact = sizes * limit / len(rows)
        quota = np.floor(exact).astype(int)
        leftover = limit - int(quota.sum())
        quota[np.argsort(-(exact - quota), kind="stable")[:leftover]] += 1
        for k in range(len(values)):
            members = rows[inverse == k]
            keep.append(rng.permutation(members)[: quota[k]])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=int)


def check_split_options(dataset: str, test_fraction: float, every: str | None) -> None:
    """The arguments of :func:`split_by_subject`, checked before a reader starts its work."""
    from auedge.train.data.manifest import SPLITS, DataError

    if not 0 <= test_fraction < 1:
        raise DataError(f"{dataset}: --test-fraction must be in [0, 1), got {test_fraction}")
    if every is not None and every not in SPLITS:
        raise DataError(f"{dataset}: split {every!r} is not one of {', '.join(SPLITS)}")


def split_by_subject(rows: list, test_fraction: float, seed: int, salt: str, every: str | None = None) -> None:
    """Set ``row.split`` of manifest rows of a dataset with no official split: whole subjects carved
    into ``test`` (about ``test_fraction`` of the rows, by the seeded hash above) and the rest
    ``train``; or ``every`` row in one split (``test`` for evaluation-only use)."""
    if every is not None:
        for row in rows:
            row.split = every
        return
    subjects = np.array([row.subject for row in rows])
    test = carve_subjects(subjects, np.ones(len(rows), dtype=bool), test_fraction, seed, salt=salt)
    for row, is_test in zip(rows, test):
        row.split = "test" if is_test else "train"
