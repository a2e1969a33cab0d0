"""bundle.json says what a model learned from, which code made it, and what its values mean."""

from __future__ import annotations

import json
import subprocess

from auedge.convert.export import _outputs, training_record
from auedge.train.config import build_config
from auedge.train.runs import read_run


def make_run(tmp_path, provenance=None, **overrides):
    cfg = build_config(None, {"dataset": "mtfl+fer2013", "data_dir": "d", "task": "au12+au4-occurrence",
                              "emotion_aus": {"au4": ["angry"], "au12": ["happy"]}, "seed": 3} | overrides)
    dump = cfg.to_dict() | ({"provenance": provenance} if provenance else {})
    (tmp_path / "config.json").write_text(json.dumps(dump))
    (tmp_path / "metrics.json").write_text(json.dumps({
        "parameters": 1234, "threshold": 0.4,
        "test": {"f1": 0.8, "groups": {"pose=3": {}}, "per_au": {"au12": {"f1": 0.8}},
                 "by_dataset": {"mtfl": {"f1": 0.81, "per_au": {"au12": {"f1": 0.81, "roc_auc": 0.9}}}}}}))
    return read_run(tmp_path)


def test_training_record_names_every_dataset_the_seed_and_the_commit(tmp_path):
    run = make_run(tmp_path, {"commit": "abc123", "dirty": False, "recipe": "train/configs/x.toml"})
    record = training_record(run)
    assert record["datasets"] == ["mtfl", "fer2013"] and record["synthetic"] is False
    assert record["seed"] == 3 and record["commit"] == "abc123" and record["recipe"] == "train/configs/x.toml"
    assert record["emotion_aus"] == {"au4": ["angry"], "au12": ["happy"]}
    test = record["metrics"]["test"]
    assert test["by_dataset"]["mtfl"]["per_au"]["au12"]["roc_auc"] == 0.9 and "groups" not in test


def test_runs_without_provenance_still_export_and_synthetic_is_said(tmp_path):
    run = make_run(tmp_path, None, dataset="synthetic", task="au12-occurrence", data_dir=None)
    record = training_record(run)
    assert record["synthetic"] is True and record["commit"] is None


def test_every_output_says_what_its_value_means():
    outputs = _outputs("occurrence", ["AU12", "AU4"], [0.5, 0.4, 0.3, 0.2], ["AU12_occluded", "AU4_occluded"])
    assert "probability that AU4 is present" in outputs[1]["meaning"]
    assert "not a FACS" in outputs[0]["meaning"] and "covered" in outputs[3]["meaning"]
    assert "0-5" in _outputs("intensity", ["AU4"], [])[0]["meaning"]


def test_a_source_checkout_names_its_commit_and_an_installed_copy_does_not(tmp_path, monkeypatch):
    import re

    from auedge.train import trainer

    here = trainer.source_provenance("r.toml")
    assert re.fullmatch(r"[0-9a-f]{40}", here["commit"]) and here["recipe"] == "r.toml"
    # A copy of the package whose folder is not a repository's top (site-packages inside a repo's venv).
    fake = tmp_path / "site-packages" / "auedge" / "train"
    fake.mkdir(parents=True)
    monkeypatch.setattr(trainer, "__file__", str(fake / "trainer.py"))
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "other project"], check=True)
    assert trainer.source_provenance()["commit"] is None
