"""Line-based progress on stderr: readable in a terminal, a CI log and a redirected file alike."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Prints ``label: done/total (pct) elapsed`` about every 10 % or every ``every_s`` seconds."""

    def __init__(self, label: str, total: int, enabled: bool = True, stream: TextIO | None = None,
                 every_s: float = 5.0) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.every_s = every_s
        self.start = self.last_time = time.perf_counter()
        self.last_step = 0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def say(self, text: str) -> None:
        if self.enabled:
            print(f"{self.label}: {text}", file=self.stream, flush=True)

    def update(self, done: int) -> None:
        now = time.perf_counter()
        step = 10 * done // max(self.total, 1)
        if done < self.total and (step > self.last_step or now - self.last_time >= self.every_s):
            self.last_step, self.last_time = step, now
            self.say(f"{done}/{self.total} ({100 * done // max(self.total, 1)}%) {self.elapsed:.1f}s")
