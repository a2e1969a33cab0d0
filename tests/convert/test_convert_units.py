"""Unit tests of the exporter's pieces that need no conversion: figures, judging, data loading,
format parsing, thresholds, and the staging folder's clean-up."""

from __future__ import annotations

import numpy as np
import pytest
from auedge.convert.bundle_writer import BundleStage
from auedge.convert.calibration import CropData, load_crop_file, require_nonempty
from auedge.convert.errors import ExportError
from auedge.convert.export import thresholds_for
from auedge.convert.validation import TaskView, figures_for, flip_averaged, judge, keras_outputs
from auedge.convert.variants import VARIANTS, Tolerances, default_model_name, parse_formats
from PIL import Image

OCC = TaskView(kind="occurrence", aus=("AU12", "AU4"), thresholds=(0.5, 0.3), value_range=(0.0, 5.0))
INT = TaskView(kind="intensity", aus=("AU12",), thresholds=(0.5,), value_range=(0.0, 5.0))


def test_occurrence_figures_use_each_aus_threshold_and_worst_au():
    ref = np.array([[0.9, 0.2], [0.1, 0.4], [0.6, 0.36], [0.4, 0.1]], dtype=np.float32)
    pred = ref.copy()
    pred[2, 1] = 0.25  # crosses AU4's 0.3 threshold only
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=np.float32)
    fig = figures_for(pred, ref, labels, OCC)
    assert fig["per_au"]["AU12"]["agreement"] == 1.0
    assert fig["per_au"]["AU4"]["agreement"] == 0.75
    assert fig["agreement"] == 0.75  # the floor must hold for every AU
    assert fig["max_abs_diff"] == pytest.approx(0.11, abs=1e-6)
    assert fig["per_au"]["AU12"]["f1"] == 1.0
    assert fig["agreement_clear"] == 0.75  # 0.36 -> 0.25: the float value was 0.06 from AU4's threshold
    verdict = judge(VARIANTS["tflite-int8"], fig, OCC, Tolerances(int8_floor=0.98))
    assert not verdict.passed
    assert verdict.failure.startswith("int8: agreement 0.7500 on faces at least 0.05 from the threshold is below "
                                      "the floor 0.98; AU4 F1 0.6667 is more than 0.01 below the float model's 1.0000")


def test_flips_within_int8_reach_of_the_threshold_pass_while_f1_holds():
    """A weak output has many faces a few hundredths from its threshold; int8 flips some of them with no
    change in F1. Confident decisions must all hold, and F1 may not fall more than the limit."""
    rng = np.random.default_rng(0)
    labels = (rng.random((400, 2)) < 0.5).astype(np.float32)
    ref = np.clip(labels * 0.3 + rng.uniform(0.1, 0.6, size=(400, 2)), 0, 1).astype(np.float32)
    near = np.abs(ref[:, 1] - 0.3) < 0.02
    pred = ref.copy()
    pred[near, 1] = np.where(ref[near, 1] >= 0.3, 0.299, 0.301)  # every near decision on AU4 flips
    fig = figures_for(pred, ref, labels, OCC)
    assert fig["agreement"] < 0.98 and fig["agreement_clear"] == 1.0
    f1_drop = fig["per_au"]["AU4"]["f1_float"] - fig["per_au"]["AU4"]["f1"]
    tol = Tolerances(int8_floor=0.98, int8_f1_drop=0.01)
    assert judge(VARIANTS["tflite-int8"], fig, OCC, tol).passed == (f1_drop <= 0.01)
    strict = judge(VARIANTS["tflite-int8"], fig, OCC, Tolerances(int8_floor=0.98, int8_f1_drop=-1.0))
    assert not strict.passed and "AU4 F1" in strict.failure
    confident = pred.copy()
    confident[np.argmax(ref[:, 0]), 0] = 0.0  # a face at AU12 0.9 flips: that fails whatever F1 does
    assert not judge(VARIANTS["tflite-int8"], figures_for(confident, ref, labels, OCC), OCC, tol).passed


def test_intensity_figures_give_icc_vs_float_and_labels():
    rng = np.random.default_rng(0)
    labels = rng.uniform(0, 5, size=(200, 1)).astype(np.float32)
    ref = labels + rng.normal(0, 0.5, size=labels.shape).astype(np.float32)
    close = ref + rng.normal(0, 0.01, size=ref.shape).astype(np.float32)
    fig = figures_for(close, ref, labels, INT)
    assert fig["icc_vs_float"] > 0.99 and 0.8 < fig["icc_vs_labels"] < 0.99
    assert judge(VARIANTS["tflite-int8"], fig, INT, Tolerances()).passed
    shuffled = rng.permutation(ref)
    bad = figures_for(shuffled, ref, labels, INT)
    assert bad["icc_vs_float"] < 0.5
    verdict = judge(VARIANTS["onnx-int8"], bad, INT, Tolerances())
    assert not verdict.passed and verdict.failure.startswith("onnx-int8: icc vs float")


def test_exact_variants_are_judged_by_max_abs_diff():
    ref = np.zeros((4, 1), np.float32)
    fig = figures_for(ref + 5e-3, ref, None, INT)
    assert judge(VARIANTS["tflite-fp16"], dict(fig), INT, Tolerances()).passed
    verdict = judge(VARIANTS["onnx-fp32"], dict(fig), INT, Tolerances())
    assert not verdict.passed and "onnx-fp32: max abs diff 0.005 exceeds 0.0001" == verdict.failure


def test_crop_files_folder_and_npz(tmp_path):
    folder = tmp_path / "crops"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 40, 3), 50 * i, np.uint8)).save(folder / f"{i}.png")
    data = load_crop_file(folder, size=32, outputs=1)
    assert data.crops.shape == (3, 32, 32, 3) and data.crops.dtype == np.uint8 and data.labels is None

    npz = tmp_path / "c.npz"
    np.savez(npz, images=np.zeros((5, 32, 32, 3), np.uint8), y=np.arange(5, dtype=np.float32))
    data = load_crop_file(npz, size=32, outputs=1)
    assert data.labels.shape == (5, 1) and len(data.take(3)) == 3
    with pytest.raises(ExportError, match="32x32 but the model takes 48x48"):
        load_crop_file(npz, size=48, outputs=1)
    with pytest.raises(ExportError, match="expected \\[5, 2\\]"):
        load_crop_file(npz, size=32, outputs=2)
    with pytest.raises(ExportError, match="not found"):
        load_crop_file(tmp_path / "missing.npz", size=32, outputs=1)
    empty = CropData(np.zeros((0, 32, 32, 3), np.uint8), None, "x.npz")
    with pytest.raises(ExportError, match="calibration set from x.npz is empty"):
        require_nonempty(empty, "calibration", "--calib-data")


def test_formats_and_default_model():
    assert [v.name for v in parse_formats("all")] == ["fp32", "fp16", "dynamic", "int8", "onnx-fp32", "onnx-int8"]
    assert [v.name for v in parse_formats("onnx-int8, tflite-fp32")] == ["fp32", "onnx-int8"]
    with pytest.raises(ExportError, match="unknown format 'tflite-int4'"):
        parse_formats("tflite-int4")
    assert default_model_name(["fp32", "int8"]) == "int8"
    assert default_model_name(["onnx-fp32", "fp16"]) == "fp16"


def test_thresholds_from_metrics():
    assert thresholds_for({}, ["AU12"]) == [0.5]
    assert thresholds_for({"threshold": 0.42}, ["AU12", "AU4"]) == [0.42, 0.42]
    assert thresholds_for({"threshold": 0.4, "thresholds": {"AU12": 0.3, "AU4": 0.6}}, ["AU12", "AU4"]) == [0.3, 0.6]
    with pytest.raises(ExportError, match="2 values for 1 AU"):
        thresholds_for({"threshold": [0.1, 0.2]}, ["AU12"])


def test_stage_removes_itself_and_created_parents_on_error(tmp_path):
    dest = tmp_path / "a" / "b" / "bundle"
    with pytest.raises(RuntimeError), BundleStage(dest) as stage:
        stage.write_text("model.tflite", "half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_flip_averaging_judges_the_mean_of_crop_and_mirror():
    """A model that looks only at the image-left half: averaging must see both halves, in float32."""
    x = np.zeros((3, 4, 4, 3), np.float32)
    x[:, :, :2] = 1.0  # left half bright
    x[1, :, :2] = 0.0
    x[1, :, 2:] = 1.0  # face 1: right half bright

    def left_half(batch: np.ndarray) -> np.ndarray:
        return batch[:, :, :2].mean(axis=(1, 2, 3))[:, None].astype(np.float32)

    plain = left_half(x)
    averaged = flip_averaged(left_half, x)
    assert plain.ravel().tolist() == [1.0, 0.0, 1.0]
    assert averaged.ravel().tolist() == [0.5, 0.5, 0.5] and averaged.dtype == np.float32

    class Model:  # keras_outputs calls model(x, training=False)
        def __call__(self, batch, training=False):
            assert training is False
            return left_half(batch)

    assert np.array_equal(keras_outputs(Model(), x, batch=2), plain)
    assert np.array_equal(keras_outputs(Model(), x, batch=2, flip_average=True), averaged)


def test_input_rows_read_finds_the_rows_each_output_depends_on():
    """bundle.json's ``input_rows`` comes from the model itself: an output that reads rows 0-9 of 32
    is found to, and one that reads every row is not limited."""
    from auedge.convert.validation import input_rows_read

    class Model:
        def __call__(self, x, training=False):
            return np.stack([x[:, :10].sum(axis=(1, 2, 3)), x.sum(axis=(1, 2, 3))], axis=1)

    assert input_rows_read(Model(), 32, 2) == [10, 32]


def test_a_row_limited_output_says_so_in_bundle_json():
    from auedge.convert.export import _outputs

    outs = _outputs("occurrence", ["AU12", "AU4"], [0.5, 0.3, 0.6, 0.7], ["AU12_occluded", "AU4_occluded"],
                    rows_read=[160, 53], size=160)
    assert "input_rows" not in outs[0] and outs[1]["input_rows"] == [0, 52]
    assert "top 53 of the crop's 160 rows" in outs[1]["meaning"] and "mask" in outs[1]["meaning"]
    assert all("input_rows" not in o for o in outs[2:])
