"""Shared by the daemon-loop tests: a config that writes JSONL under tmp_path, and its records."""

from __future__ import annotations

import json
from pathlib import Path

from auedge.edge.daemon_config import DaemonConfig


def config(tmp_path: Path, source: str = "images:unused", backoff_max_s: float = 0.05, **kw) -> DaemonConfig:
    """No HTTP, records to ``tmp_path/out/records.jsonl``, short reopen waits; ``kw`` overrides fields."""
    cfg = DaemonConfig(device="testdev", source=source, target_fps=0, stall_timeout_s=5.0,
                       reopen_backoff_s=0.01, reopen_backoff_max_s=backoff_max_s)
    cfg.http.enabled = False
    cfg.jsonl.path = str(tmp_path / "out" / "records.jsonl")
    for key, value in kw.items():
        setattr(cfg, key, value)
    return cfg


def records(cfg: DaemonConfig) -> list[dict]:
    return [json.loads(line) for line in Path(cfg.jsonl.path).read_text().splitlines()]
