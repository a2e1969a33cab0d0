"""--model fastest: every runnable model is timed once at start-up and the quickest is kept."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from auedge.edge import model_choice
from auedge.edge.bundle import BundleError, load_bundle
from auedge.edge.cli import main
from auedge.edge.estimator import Estimator
from auedge.edge.model_choice import ModelChoiceOptions, choose_fastest
from edge_runtime_helpers import detector_file, expected_aus, write_bundle


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return write_bundle(tmp_path_factory.mktemp("bundle"), detector_file())


def _fixed_medians(monkeypatch, medians: dict[str, float]) -> None:
    monkeypatch.setattr(model_choice, "_median_times", lambda loaded, options: {n: medians[n] for n in loaded})


def test_fastest_runs_the_chosen_model_and_times_every_candidate(bundle_dir):
    est = Estimator.from_bundle(bundle_dir, model="fastest")
    choice = est.model_choice
    assert choice is not None and est.model is choice.model and est.backend is choice.backend
    assert {t.name for t in choice.timings} == {"onnx-fp32", "onnx-int8"}
    assert all(t.median_ms is not None and t.median_ms > 0 for t in choice.timings)
    crop = np.full((160, 160, 3), 200, dtype=np.uint8)
    np.testing.assert_allclose(est.estimate_aligned(crop)[0], expected_aus(crop), atol=3 / 256)
    assert choice.model.name in choice.summary() and "ms" in choice.summary()


def test_a_clearly_faster_model_replaces_the_default(bundle_dir, monkeypatch):
    _fixed_medians(monkeypatch, {"onnx-int8": 2.0, "onnx-fp32": 1.5})  # default int8 is 25 % slower
    choice = choose_fastest(load_bundle(bundle_dir))
    assert choice.model.name == "onnx-fp32" and choice.backend.input.dtype == np.float32


def test_the_default_stays_unless_another_beats_it_by_the_margin(bundle_dir, monkeypatch):
    _fixed_medians(monkeypatch, {"onnx-int8": 1.00, "onnx-fp32": 0.97})  # 3 % is within timing noise
    assert choose_fastest(load_bundle(bundle_dir)).model.name == "onnx-int8"
    assert choose_fastest(load_bundle(bundle_dir), ModelChoiceOptions(margin=0.0)).model.name == "onnx-fp32"


def test_degraded_models_are_not_candidates(bundle_dir, tmp_path, monkeypatch):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    manifest = json.loads((copy / "bundle.json").read_text())
    for entry in manifest["models"]:
        entry["degraded"] = entry["name"] == "onnx-fp32"
    (copy / "bundle.json").write_text(json.dumps(manifest), encoding="utf-8")
    _fixed_medians(monkeypatch, {"onnx-int8": 9.0, "onnx-fp32": 0.1})
    choice = choose_fastest(load_bundle(copy))
    assert choice.model.name == "onnx-int8"
    skipped = [t for t in choice.timings if t.median_ms is None]
    assert [t.name for t in skipped] == ["onnx-fp32"] and "degraded" in skipped[0].describe()


def test_no_runnable_model_is_one_clear_error(bundle_dir):
    with pytest.raises(BundleError, match="no model can run here for --model fastest.*cannot run"):
        choose_fastest(load_bundle(bundle_dir), ModelChoiceOptions(backend="litert"))  # ONNX-only bundle


def test_cli_reports_the_timed_choice(bundle_dir, tmp_path, capsys):
    import cv2

    image = tmp_path / "blank.png"
    cv2.imwrite(str(image), np.full((120, 160, 3), 90, dtype=np.uint8))
    assert main(["infer", "--bundle", str(bundle_dir), "--model", "fastest", str(image)]) == 0
    out = capsys.readouterr().out
    assert "# fastest model: onnx-" in out and "onnx-fp32 on onnxruntime:" in out and "onnx-int8 on onnxruntime:" in out
