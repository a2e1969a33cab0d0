"""Statistics the benchmark tables quote: latency percentiles and paired bootstrap intervals.

Why its own module: the numbers in REPORT.md must be reproducible from the raw samples, so the
definitions (linear-interpolated percentiles, percentile bootstrap with a fixed seed) live in one
place that the tests check on data with known answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class LatencySummary:
    """Latency of one configuration in milliseconds over ``runs`` timed calls (after warm-up)."""

    runs: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize_latency(samples_ms: Sequence[float] | np.ndarray) -> LatencySummary:
    """Median, p90, p99 (numpy's linear interpolation), mean, min and max of timed samples."""
    x = np.asarray(samples_ms, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("no latency samples to summarise")
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    return LatencySummary(
        runs=int(x.size), median_ms=float(p50), p90_ms=float(p90), p99_ms=float(p99),
        mean_ms=float(x.mean()), min_ms=float(x.min()), max_ms=float(x.max()),
    )


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile-bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    level: float = 0.95
    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.estimate:+.4f} [{self.low:+.4f}, {self.high:+.4f}]"


def paired_bootstrap(
    statistic: Callable[..., float],
    arrays: Sequence[np.ndarray],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> Interval:
    """Percentile bootstrap CI of ``statistic(*arrays)``, resampling the same rows of every array.

    Paired: float and int8 predictions of one face stay together, so the interval reflects the
    difference between the two models on the same faces, not two independent samples. Resamples
    on which the statistic is undefined (NaN) are dropped.
    """
    columns = [np.asarray(a) for a in arrays]
    n = len(columns[0])
    if n == 0 or any(len(a) != n for a in columns):
        raise ValueError(f"paired bootstrap needs equally long, non-empty arrays, got {[len(a) for a in columns]}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    estimate = float(statistic(*columns))
    rng = np.random.default_rng(seed)
    values = np.empty(resamples, dtype=np.float64)
    for r in range(resamples):
        pick = rng.integers(0, n, size=n)
        values[r] = statistic(*(a[pick] for a in columns))
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Interval(estimate, float("nan"), float("nan"), level, resamples, seed)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return Interval(estimate, float(low), float(high), level, resamples, seed)


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference``, or None when either is missing or the reference is zero."""
    if value is None or reference is None or reference == 0:
        return None
    return float(value) / float(reference)
