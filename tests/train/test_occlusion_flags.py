"""Occlusion-flag outputs from training to the device: targets, metrics, bundle outputs, Estimator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from auedge.train.augment import AugmentSpec, augment_one_with_kind, occlude_fixed_with_kinds, occlusion_flags
from auedge.train.config import ConfigError, TrainConfig
from auedge.train.occluders import OCCLUDER_KINDS, region_covered

REPO = Path(__file__).resolve().parents[2]


def test_flag_targets_follow_the_covered_regions():
    assert region_covered("au12", "mask-full") and region_covered("AU12", "mask-small")
    assert not region_covered("au12", "glasses-big") and not region_covered("au12", "none")
    assert region_covered("au4", "glasses-eyehole") and not region_covered("au4", "mask-half")
    flags = occlusion_flags(["none", "mask-half", "glasses-big"], ("au12", "au4"))
    assert flags.tolist() == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]] and flags.dtype == np.float32
    with pytest.raises(ValueError, match="au99"):
        region_covered("au99", "mask-full")


def test_mix_reports_the_kind_it_drew():
    from auedge.train.data import synthetic

    faces = synthetic.generate(12, seed=4, image_size=96)
    images, kinds = occlude_fixed_with_kinds(faces.images, faces.landmarks, "mix", seed=1)
    assert set(kinds) <= {"none", *OCCLUDER_KINDS} and len(set(kinds)) >= 3
    for image, bare, kind in zip(images, faces.images, kinds):
        assert (kind == "none") == np.array_equal(image, bare)  # pixels change exactly when something was drawn
    spec = AugmentSpec(hflip=True, occluder="mix")
    rng = np.random.default_rng(0)
    drawn = {augment_one_with_kind(faces.images[0], faces.landmarks[0], spec, rng)[1] for _ in range(40)}
    assert drawn == {"none", *OCCLUDER_KINDS}


def test_flags_need_the_mix_occluder():
    with pytest.raises(ConfigError, match="mix"):
        TrainConfig(occlusion_flags=True, occlude_train="mask-full").validate()
    cfg = TrainConfig(occlusion_flags=True, occlude_train="mix", task="au12+au4-intensity").validate()
    assert cfg.flag_names == ["AU12_occluded", "AU4_occluded"]
    assert TrainConfig().flag_names == []


def test_flags_train_export_and_reach_the_estimator(tmp_path):
    """A tiny synthetic run with flags: metrics.json reports them, the bundle lists them as outputs
    after the AU, and the edge Estimator turns them into ``observable``."""
    pytest.importorskip("ai_edge_litert")
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, str(REPO / "train" / "train.py"), "--epochs", "1", "--limit", "48", "--batch-size", "16",
         "--input-size", "64", "--task", "au12-occurrence", "--occlude-train", "mix", "--occlusion-flags",
         "--threads", "1", "--out", str(out), "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "occlusion flags: AU12_occluded val F1" in done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    flags = metrics["occlusion_flags"]
    assert set(flags["thresholds"]) == {"AU12_occluded"}
    assert set(metrics["thresholds"]) == {"AU12", "AU12_occluded"}
    for block in ("val_mix", "test_mix"):
        assert {"f1", "precision", "recall", "roc_auc"} <= set(flags[block]["AU12_occluded"])
    assert set(flags["test_mix_flagged_by_kind"]) <= {"none", *OCCLUDER_KINDS}
    assert 0.0 <= flags["test_bare_flagged"]["AU12_occluded"] <= 1.0
    assert json.loads((out / "config.json").read_text())["flags"] == ["AU12_occluded"]

    from auedge.convert.export import ExportOptions, export_bundle
    from auedge.edge.estimator import Estimator

    bundle = tmp_path / "bundle"
    export_bundle(ExportOptions(run=str(out), out=str(bundle), formats="tflite-fp32", val_size=32), log=lambda _: None)
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert [(o["au"], o["index"], o["kind"]) for o in manifest["outputs"]] == [
        ("AU12", 0, "occurrence"), ("AU12_occluded", 1, "occurrence")]
    assert manifest["outputs"][1]["threshold"] == pytest.approx(flags["thresholds"]["AU12_occluded"])
    assert manifest["task"]["aus"] == ["AU12"]
    est = Estimator.from_bundle(bundle)
    image = np.full((200, 200, 3), 128, np.uint8)
    face = est.estimate_with_landmarks(image, np.array([80.0, 90.0]), np.array([120.0, 90.0]))
    assert set(face.aus) == {"AU12"} and set(face.observable) == {"AU12"}


def test_drop_covered_targets_leaves_exactly_the_covered_aus_out_of_the_loss():
    """With drop_covered_targets an AU's target is NaN (masked_loss skips it) on the faces whose
    occluder covers its region, and stays on every other face; the flag targets are untouched."""
    from auedge.edge.preprocess import Normalization
    from auedge.train.data import synthetic
    from auedge.train.trainer import CropSequence

    faces = synthetic.generate(64, seed=3, image_size=96)
    targets = np.ones((64, 2), np.float32)
    norm = Normalization(mean=(127.5,) * 3, std=(127.5,) * 3)
    spec = AugmentSpec(occluder="mix")
    aus = ("au12", "au4")

    def batch(drop: tuple[str, ...]):
        seq = CropSequence(faces.images, faces.landmarks, targets, spec, norm, 64, seed=5, flag_aus=aus, drop_aus=drop)
        return seq.batch_at(0)[1]

    dropped, kept = batch(aus), batch(())
    flags = kept[:, 2:]
    assert np.isnan(kept[:, :2]).sum() == 0  # off: every target stays
    assert flags.sum(axis=0).min() >= 1  # the draw covered each AU at least once
    np.testing.assert_array_equal(np.isnan(dropped[:, :2]), flags > 0.5)
    np.testing.assert_array_equal(dropped[:, 2:], flags)
    assert targets.sum() == 128  # the dataset's own targets are not changed in place


def test_drop_covered_targets_needs_an_occluder():
    with pytest.raises(ConfigError, match="drop_covered_targets"):
        TrainConfig(drop_covered_targets=True).validate()
    assert TrainConfig(drop_covered_targets=True, occlude_train="mix").validate().drop_covered_targets
