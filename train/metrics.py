"""Evaluation metrics as plain numpy functions, computed on a whole set (never averaged over batches).

ICC(3,1) follows Shrout & Fleiss (1979): two-way mixed model, consistency, single rater, with the
prediction and the truth as the two raters. The AU literature (DISFA, BP4D, the report behind this
project) quotes this form for intensity.
"""

from __future__ import annotations

import numpy as np


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"truth and prediction differ in length: {t.size} vs {p.size}")
    keep = np.isfinite(t) & np.isfinite(p)
    return t[keep], p[keep]


def icc_anova(ratings: np.ndarray) -> float:
    """ICC(3,1) of an (n targets x k raters) matrix."""
    x = np.asarray(ratings, dtype=np.float64)
    n, k = x.shape
    if n < 2 or k < 2:
        return float("nan")
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_total = np.sum((x - grand) ** 2)
    bms = ss_rows / (n - 1)
    ems = (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1))
    denom = bms + (k - 1) * ems
    return float((bms - ems) / denom) if denom > 0 else float("nan")


def icc31(y_true, y_pred) -> float:
    """ICC(3,1) between truth and prediction (two raters)."""
    t, p = _pair(y_true, y_pred)
    return icc_anova(np.stack([t, p], axis=1))


def mae(y_true, y_pred) -> float:
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p))) if t.size else float("nan")


def pearson(y_true, y_pred) -> float:
    t, p = _pair(y_true, y_pred)
    if t.size < 2 or t.std() == 0 or p.std() == 0:
        return float("nan")
    return float(np.corrcoef(t, p)[0, 1])


def confusion(y_true, y_pred_binary) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) for 0/1 arrays."""
    t, p = _pair(y_true, y_pred_binary)
    t, p = t > 0.5, p > 0.5
    return int(np.sum(t & p)), int(np.sum(~t & p)), int(np.sum(t & ~p)), int(np.sum(~t & ~p))


def binary_scores(y_true, y_pred_binary) -> dict[str, float]:
    """F1, precision, recall and accuracy of 0/1 decisions against 0/1 truth."""
    tp, fp, fn, tn = confusion(y_true, y_pred_binary)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    total = tp + fp + fn + tn
    return {
        "f1": float(f1),
        "precision": float(precision),
        "recall": float(recall),
        "accuracy": float((tp + tn) / total) if total else float("nan"),
        "n": float(total),
        "positives": float(tp + fn),
    }


def f1_score(y_true, y_pred_binary) -> float:
    return binary_scores(y_true, y_pred_binary)["f1"]


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties counted half."""
    t, s = _pair(y_true, scores)
    pos, neg = t > 0.5, t <= 0.5
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def best_threshold(y_true, scores, grid: np.ndarray | None = None, f1_within: float = 0.0) -> tuple[float, float]:
    """The decision threshold chosen on validation (only); returns (threshold, its F1).

    ``f1_within`` 0: the threshold that maximises F1. Above 0: the highest threshold whose F1 is
    within that much of the best. Why: where half the faces are positive (FER2013's AU4 proxy), F1
    peaks at a low threshold that calls the AU present on about half of all faces; a bedside user
    reads those as false alarms, and a slightly higher threshold buys much specificity for a little F1.
    """
    return thresholds_by_rule(y_true, scores, f1_within, grid)[1]


def thresholds_by_rule(y_true, scores, f1_within: float = 0.0,
                       grid: np.ndarray | None = None) -> tuple[tuple[float, float], tuple[float, float]]:
    """((F1-best threshold, its F1), (threshold by the ``f1_within`` rule, its F1)) from one sweep of
    the grid: a run's record names both (best_threshold says why they differ)."""
    t, s = _pair(y_true, scores)
    candidates = np.linspace(0.05, 0.95, 91) if grid is None else np.asarray(grid)
    f1s = [f1_score(t, s >= thr) for thr in candidates]
    best = (0.5, -1.0)
    for thr, f1 in zip(candidates, f1s):
        if f1 > best[1] + 1e-12:
            best = (float(thr), float(f1))
    chosen = best
    if f1_within > 0 and best[1] >= 0:
        floor = best[1] - f1_within - 1e-12
        chosen = max(((float(thr), float(f1)) for thr, f1 in zip(candidates, f1s) if f1 >= floor),
                     key=lambda pair: pair[0])
    return best, chosen


def occurrence_metrics(y_true, scores, threshold: float) -> dict[str, float]:
    """Everything reported for an occurrence output at a fixed threshold."""
    t, s = _pair(y_true, scores)
    out = binary_scores(t, s >= threshold)
    out["roc_auc"] = roc_auc(t, s)
    out["all_positive_f1"] = f1_score(t, np.ones_like(t))
    out["threshold"] = float(threshold)
    return out


def intensity_metrics(y_true, y_pred, lo: float = 0.0, hi: float = 5.0) -> dict[str, float]:
    """ICC(3,1), MAE and Pearson r of predictions clipped to the label range."""
    t, p = _pair(y_true, y_pred)
    p = np.clip(p, lo, hi)
    return {"icc31": icc31(t, p), "mae": mae(t, p), "pearson": pearson(t, p), "n": float(t.size)}
