"""train/research/flag_thresholds.py: one AU threshold per occlusion-flag state, chosen on validation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from auedge.train.research import flag_thresholds as FT

REPO = Path(__file__).resolve().parents[2]


def _faces(rng, n, cut):
    """n faces whose AU score separates the classes around ``cut``."""
    y = rng.integers(0, 2, n).astype(np.float32)
    s = np.clip(np.where(y == 1, cut + 0.1, cut - 0.1) + rng.normal(0, 0.03, n), 0, 1)
    return y, s


def test_each_state_gets_its_own_cut_and_beats_one_threshold():
    rng = np.random.default_rng(0)
    y_clear, s_clear = _faces(rng, 400, 0.7)
    y_cov, s_cov = _faces(rng, 200, 0.3)
    y, s = np.concatenate([y_clear, y_cov]), np.concatenate([s_clear, s_cov])
    covered = np.r_[np.zeros(400, bool), np.ones(200, bool)]
    chosen = FT.state_thresholds(y, s, covered, fallback=0.5)
    assert 0.6 <= chosen["clear"] <= 0.8 and 0.2 <= chosen["covered"] <= 0.4
    r = FT.score_states(y, s, covered, chosen, single=0.5)
    assert r["f1_by_state"] > 0.99 > r["f1_single"] and r["flagged"] == pytest.approx(1 / 3)
    assert r["n"] == 600


def test_a_thin_or_one_class_state_keeps_the_single_threshold_and_nan_labels_are_ignored():
    rng = np.random.default_rng(1)
    y, s = _faces(rng, 300, 0.7)
    covered = np.zeros(300, bool)
    covered[:10] = True  # 10 < MIN_STATE_FACES
    assert FT.state_thresholds(y, s, covered, fallback=0.42)["covered"] == 0.42
    ones = np.ones(300, np.float32)
    assert FT.state_thresholds(ones, s, np.zeros(300, bool), fallback=0.42)["clear"] == 0.42
    y_nan = y.copy()
    y_nan[:50] = np.nan
    r = FT.score_states(y_nan, s, covered, {"clear": 0.7, "covered": 0.7}, single=0.7)
    assert r["n"] == 250 and r["flagged"] == 0.0


def test_refuses_a_run_without_flags(tmp_path, capsys):
    assert FT.main(["--run", str(tmp_path / "nothing")]) == 2
    assert "not found" in capsys.readouterr().err
    assert FT.main(["--run", str(tmp_path), "--occlude", "scarf"]) == 2
    assert "--occlude 'scarf'" in capsys.readouterr().err


def test_end_to_end_on_a_tiny_flag_run(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--limit", "48", "--batch-size", "16", "--input-size", "64", "--task", "au12-occurrence",
              "--threads", "1", "--cache-dir", str(tmp_path / "cache")]
    done = subprocess.run([sys.executable, str(REPO / "train" / "train.py"), "--epochs", "1", *common,
                           "--occlude-train", "mix", "--occlusion-flags", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    score = subprocess.run([sys.executable, str(REPO / "train" / "research" / "flag_thresholds.py"), "--run", str(out),
                            "--occlude", "none,mask-full", "--threads", "1"],
                           capture_output=True, text=True, timeout=600, check=False)
    assert score.returncode == 0, score.stderr[-3000:]
    res = json.loads((out / "flag_thresholds_val.json").read_text())
    assert set(res["scores"]) == {"none", "mask-full"} and set(res["thresholds"]) == {"AU12"}
    assert set(res["thresholds"]["AU12"]) == {"clear", "covered"}
    for r in res["scores"].values():
        assert r["AU12"]["n"] > 0 and 0.0 <= r["AU12"]["f1_by_state"] <= 1.0
    assert "| mask-full | AU12 |" in score.stdout

    plain = tmp_path / "plain"  # the same run as if trained without flags: refused before any scoring
    shutil.copytree(out, plain)
    cfg = json.loads((plain / "config.json").read_text())
    (plain / "config.json").write_text(json.dumps(cfg | {"occlusion_flags": False, "flags": []}))
    assert FT.main(["--run", str(plain)]) == 2
    assert "--occlusion-flags" in capsys.readouterr().err
