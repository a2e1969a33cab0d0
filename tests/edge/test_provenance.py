"""Provenance from bundle.json ``training``: old and new keys, wrong types, the synthetic-only rule, the warning."""

from __future__ import annotations

import logging

import pytest
from auedge.edge import provenance
from auedge.edge.provenance import Provenance, warn_if_synthetic_only


@pytest.mark.parametrize(("training", "datasets", "synthetic_only"), [
    ({"dataset": "synthetic"}, ("synthetic",), True),  # the demo's bundles before datasets/synthetic existed
    ({"dataset": "mtfl"}, ("mtfl",), False),
    ({"dataset": "mtfl", "datasets": ["mtfl", "fer2013"], "synthetic": False}, ("mtfl", "fer2013"), False),
    ({"datasets": ["synthetic"], "synthetic": True}, ("synthetic",), True),
    ({"datasets": ["mtfl", "synthetic"], "synthetic": True}, ("mtfl", "synthetic"), False),  # has seen real faces
    ({"dataset": "manifest", "synthetic": True}, ("manifest",), False),
    ({"synthetic": True}, (), True),
    ({"datasets": "mtfl", "dataset": 3, "synthetic": "no"}, (), None),  # wrong types are ignored, not trusted
    ({}, (), None),
    (None, (), None),
    ("mtfl", (), None),
])
def test_datasets_and_synthetic_only(training, datasets, synthetic_only):
    found = Provenance.from_manifest({} if training is None else {"training": training})
    assert found.datasets == datasets and found.synthetic_only is synthetic_only


def test_recipe_seed_commit_are_shown_when_known():
    found = Provenance.from_manifest({"training": {"datasets": ["mtfl", "fer2013"], "seed": 7, "recipe": "r.toml",
                                                   "commit": "abc1234", "run": "mtfl_au12"}})
    assert found.summary() == "mtfl, fer2013 (real faces); recipe r.toml, seed 7, commit abc1234, run mtfl_au12"
    assert Provenance.from_manifest({"training": {"seed": True, "recipe": ""}}).seed is None
    assert "synthetic faces only" in Provenance.from_manifest({"training": {"dataset": "synthetic"}}).summary()
    assert "unknown dataset" in Provenance.from_manifest({}).summary()


def test_synthetic_bundle_warns_once_per_process_in_one_line(monkeypatch, caplog):
    monkeypatch.setattr(provenance, "_warned", set())
    synthetic = {"name": "demo-synthetic", "training": {"dataset": "synthetic"}}
    with caplog.at_level(logging.WARNING, logger="auedge.edge.provenance"):
        assert warn_if_synthetic_only(synthetic, "/b/demo", "a camera")
        assert not warn_if_synthetic_only(synthetic, "/b/demo", "a camera")
        assert not warn_if_synthetic_only({"training": {"dataset": "mtfl"}}, "/b/mtfl", "a camera")
        assert not warn_if_synthetic_only({}, "/b/old", "a camera")  # unknown data: no claim either way
    (record,) = caplog.records
    message = record.getMessage()
    assert "\n" not in message and "demo-synthetic" in message and "synthetic faces only" in message
    assert "a camera" in message
