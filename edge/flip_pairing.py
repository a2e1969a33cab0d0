"""Flip averaging as one batch-2 run or as two batch-1 runs: measured on this device at start-up.

A model exported with an open batch can take the crop and its mirror in one call. Whether that is
quicker depends on the CPU and the interpreter, not on the model: on an AMD EPYC core with AVX2 and
no VNNI, LiteRT ran the MobileNetV2 cut's pair 7 % (fp32) and 4 % (int8) slower than two
consecutive single runs (``benchmarks/batch_pair.py``, 2026-12-07), while a smoke test on the same
CPU had suggested the opposite when a pair was compared with twice a cold single run. So the
estimator times both here, a few rounds of each in alternation, and keeps the pair only when it is
quicker by more than ``margin``; both give the same values (tests/edge/test_edge_tracking.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from auedge.edge.backends import Backend


@dataclass(frozen=True)
class PairTiming:
    """Median milliseconds for the crop and its mirror: as one pair, and as two runs."""

    pair_ms: float
    two_runs_ms: float

    @property
    def ratio(self) -> float:
        return self.two_runs_ms / self.pair_ms if self.pair_ms > 0 else float("inf")


def _times_ms(call, runs: int) -> list[float]:
    """Milliseconds of each of ``runs`` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def time_pair_and_two_runs(backend: Backend, rounds: int = 3, runs: int = 8) -> PairTiming | None:
    """Both ways on zeros, ``rounds`` alternating blocks of ``runs``; ``None`` if the model cannot
    take a pair. The backend is left at batch 1."""
    shape = backend.input.shape[1:]
    dtype = backend.input.dtype
    if not backend.set_batch(2):
        return None
    pair, single = np.zeros((2, *shape), dtype), np.zeros((1, *shape), dtype)
    pair_times: list[float] = []
    two_times: list[float] = []
    for _ in range(rounds):
        backend.set_batch(2)
        backend.run(pair)  # the first run after a resize prepares the interpreter
        pair_times += _times_ms(lambda: backend.run(pair), runs)
        backend.set_batch(1)
        backend.run(single)
        two_times += _times_ms(lambda: (backend.run(single), backend.run(single)), runs)
    return PairTiming(float(np.median(pair_times)), float(np.median(two_times)))


def choose_pairing(backend: Backend, setting: bool | None, margin: float = 0.02) -> tuple[bool, PairTiming | None]:
    """Whether flip averaging runs as a pair, with the timing that decided it (``None``: not timed).

    ``setting``: True pairs whenever the model can, False never, None times both (see module doc).
    The backend is left at the batch chosen."""
    if setting is False:
        return False, None
    if setting is True:
        return backend.set_batch(2), None
    timing = time_pair_and_two_runs(backend)
    paired = timing is not None and timing.ratio > 1.0 + margin
    if paired:
        backend.set_batch(2)
    return paired, timing
