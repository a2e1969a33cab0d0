"""The exporter's safety rules, one defect each: --force replaces only a bundle, calibration and
validation see the run's occluders, intensity variants cannot hide an offset behind ICC, a degraded
model is never the default (and the device warns when it runs one), float 0-1 crops are refused,
and a NaN output is a failed variant instead of a crash."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from auedge.convert.bundle_writer import BundleStage
from auedge.convert.calibration import load_crop_file
from auedge.convert.errors import ExportError
from auedge.convert.export import ExportOptions, export_bundle, load_data, main
from auedge.convert.validation import TaskView, figures_for, judge
from auedge.convert.variants import VARIANTS, Tolerances, default_model_name
from auedge.edge.bundle import load_bundle

INTENSITY = TaskView(kind="intensity", aus=("AU12", "AU4"), thresholds=(0.5, 0.5), value_range=(0.0, 5.0))
OCCURRENCE = TaskView(kind="occurrence", aus=("AU12",), thresholds=(0.5,), value_range=(0.0, 5.0))


def run_cli(capsys, args: list) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(code: int, err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


def staging_leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.glob(".*") if ".partial-" in p.name or ".old-" in p.name)


# --- 1. --force replaces only a bundle ------------------------------------------------------------


def test_force_refuses_a_folder_that_is_not_a_bundle(run_dir, crop_files, tmp_path, capsys):
    dest = tmp_path / "bundles"  # meant "put it under bundles/": it holds other work
    (dest / "other_bundle").mkdir(parents=True)
    (dest / "other_bundle" / "bundle.json").write_text("{}")
    (dest / "notes.txt").write_text("precious")
    code, _, err = run_cli(capsys, ["--run", run_dir, "--out", dest, "--force", "--formats", "tflite-fp32",
                                    "--val-data", crop_files["val"]])
    assert_one_error_line(code, err, str(dest.absolute()), "not", "bundle", "--out")
    assert (dest / "notes.txt").read_text() == "precious"
    assert (dest / "other_bundle" / "bundle.json").read_text() == "{}"
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt", "other_bundle"]
    assert staging_leftovers(tmp_path) == []


def test_force_accepts_only_bundle_files(tmp_path):
    from auedge.convert.bundle_writer import not_a_bundle

    bundle = tmp_path / "b"
    bundle.mkdir()
    assert not_a_bundle(bundle) is None  # empty: nothing to lose
    (bundle / "model_fp32.tflite").write_bytes(b"x")
    assert "no bundle.json" in not_a_bundle(bundle)
    (bundle / "bundle.json").write_text(json.dumps({"models": [{"file": "custom_name.tflite"}]}))
    (bundle / "report.md").write_text("r")
    (bundle / "custom_name.tflite").write_bytes(b"x")  # listed by its own bundle.json
    assert not_a_bundle(bundle) is None
    (bundle / "notes.txt").write_text("mine")
    assert "notes.txt" in not_a_bundle(bundle)
    with pytest.raises(ExportError, match="--force replaces only a bundle folder.*notes.txt.*--out"), \
            BundleStage(bundle, force=True):
        pass
    (bundle / "notes.txt").unlink()
    (bundle / "sub").mkdir()
    assert "sub/" in not_a_bundle(bundle)
    assert (bundle / "custom_name.tflite").exists() and staging_leftovers(tmp_path) == []


# --- 2. the run's occluders on calibration and validation crops ----------------------------------


@pytest.fixture(scope="module")
def occluded_run(tmp_path_factory, trained_model, make_run) -> Path:
    """A tiny run trained, as far as its config says, with a weighted occluder mix on synthetic
    faces (which come with landmarks, so occluders can be pasted)."""
    base = tmp_path_factory.mktemp("occluded")
    root = make_run(base / "tiny_tmix", trained_model)
    config = json.loads((root / "config.json").read_text())
    config.update(dataset="synthetic", synthetic_sizes=[24, 16, 8], cache_dir=str(base / "cache"), seed=3,
                  occlude_train="mix", occlude_val="mix", mix_weights="mask-full=4")
    (root / "config.json").write_text(json.dumps(config))
    return root


def _run_and_data(run_root: Path, **options):
    from auedge.train.runs import load_run_crops, read_run

    run = read_run(run_root)
    opts = ExportOptions(run=str(run_root), calib_size=1000, val_size=1000, **options)
    calib, val = load_data(opts, run, 32, 1, True, log=lambda _line: None)
    return run, load_run_crops(run, progress=False), calib, val


def test_validation_crops_carry_the_trainers_validation_occluders(occluded_run):
    from auedge.train.augment import occlude_fixed

    run, data, _, val = _run_and_data(occluded_run)
    bare = data.where("val")
    # trainer.train_run: occlude_fixed(val.images, val.landmarks, cfg.occlude_val, seed=cfg.seed + 1)
    expected = occlude_fixed(bare.images, bare.landmarks, run.config.occlude_val, seed=run.config.seed + 1)
    assert np.array_equal(val.crops, expected)
    assert not np.array_equal(val.crops, bare.images)
    assert val.occluders == {"kind": "mix", "setting": "occlude_val", "seed": 4, "mix_weights": None}
    assert "occluders 'mix' (seed 4)" in val.source

    # A subset is pasted alone (the rest of the split is not), with the same pixels as in the whole.
    opts = ExportOptions(run=str(occluded_run), calib_size=1000, val_size=5, seed=7)
    few = load_data(opts, run, 32, 1, False, log=lambda _line: None)[1]
    chosen = np.sort(np.random.default_rng(8).choice(len(bare), size=5, replace=False))  # take(5, seed + 1)
    assert np.array_equal(few.crops, expected[chosen]) and np.array_equal(few.labels, bare.labels[chosen])

    _, data, _, test = _run_and_data(occluded_run, val_split="test")
    bare_test = data.where("test")  # the trainer's testing faces: seed + 2
    assert np.array_equal(test.crops, occlude_fixed(bare_test.images, bare_test.landmarks, "mix", seed=5))


def test_calibration_crops_carry_the_training_mix_deterministically(occluded_run):
    from auedge.train.augment import occlude_fixed

    _, data, calib, _ = _run_and_data(occluded_run)
    bare = data.where("train")
    changed = np.any(calib.crops != bare.images, axis=(1, 2, 3))
    assert changed.any() and not changed.all()  # the mix includes bare faces ("none")
    assert calib.occluders == {"kind": "mix", "setting": "occlude_train", "seed": 8, "mix_weights": "mask-full=4"}
    assert np.array_equal(calib.crops, _run_and_data(occluded_run)[2].crops)  # seeded: the same every export
    # The mix weights are honoured: the uniform draw with the same seed pastes other occluders.
    assert not np.array_equal(calib.crops, occlude_fixed(bare.images, bare.landmarks, "mix", seed=8))


def test_bundle_records_the_occluders_its_figures_were_computed_on(occluded_run, tmp_path):
    out = tmp_path / "b"
    result = export_bundle(ExportOptions(run=str(occluded_run), out=str(out), formats="tflite-fp32,tflite-int8",
                                         int8_floor=0.0), log=lambda _line: None)
    manifest = result.manifest
    record = {"kind": "mix", "setting": "occlude_val", "seed": 4, "mix_weights": None}
    assert all(m["validation"]["occluders"] == record for m in manifest["models"])
    assert manifest["export"]["val_occluders"] == record
    assert manifest["export"]["calib_occluders"]["setting"] == "occlude_train"
    assert "occluders: mix (occlude_val, seed 4)" in (out / "report.md").read_text()


def test_bare_run_records_no_occluders(run_dir, crop_files, tmp_path):
    result = export_bundle(ExportOptions(run=str(run_dir), out=str(tmp_path / "b"), formats="tflite-fp32",
                                         val_data=str(crop_files["val"])), log=lambda _line: None)
    assert result.manifest["models"][0]["validation"]["occluders"] == {"kind": "as supplied"}


# --- 3. intensity: ICC plus a bound on the mean absolute difference ------------------------------


def test_intensity_offset_fails_despite_perfect_icc():
    ref = np.random.default_rng(0).uniform(0, 3, size=(500, 2)).astype(np.float32)
    figures = figures_for(ref + 1.0, ref, None, INTENSITY)
    assert figures["icc_vs_float"] > 0.99  # ICC(3,1) cannot see the offset
    verdict = judge(VARIANTS["tflite-int8"], figures, INTENSITY, Tolerances())
    assert not verdict.passed
    assert verdict.failure == "int8: mean abs diff 1 exceeds 0.1 (0.02 of the output range)"
    assert figures["tolerance"]["mean_abs_diff"] == {"metric": "mean_abs_diff_worst_au", "limit": 0.1,
                                                     "fraction_of_range": 0.02}
    small = figures_for(ref + 0.05, ref, None, INTENSITY)
    assert judge(VARIANTS["tflite-int8"], small, INTENSITY, Tolerances()).passed


def test_intensity_mean_abs_diff_is_per_au_on_clipped_outputs():
    ref = np.random.default_rng(1).uniform(0, 3, size=(200, 2)).astype(np.float32)
    pred = ref.copy()
    pred[:, 1] += 0.3  # only AU4 is off: the worst AU decides
    pred[:, 0] = np.where(ref[:, 0] > 2.5, 9.0, ref[:, 0])  # beyond the range: the device clips to 5
    figures = figures_for(pred, ref, None, INTENSITY)
    assert figures["per_au"]["AU4"]["mean_abs_diff"] == pytest.approx(0.3, abs=1e-5)
    assert figures["mean_abs_diff_worst_au"] == pytest.approx(0.3, abs=1e-5)
    assert not judge(VARIANTS["onnx-int8"], figures, INTENSITY, Tolerances()).passed
    assert judge(VARIANTS["onnx-int8"], figures, INTENSITY, Tolerances(int8_floor=0.0, int8_mad_fraction=0.1)).passed


# --- 4. a degraded model is never the default --------------------------------------------------------


def test_default_model_skips_degraded_models():
    assert default_model_name(["fp32", "int8"], ["int8"]) == "fp32"
    assert default_model_name(["fp32", "fp16", "int8"], ["int8", "fp16"]) == "fp32"
    assert default_model_name(["fp32", "int8"]) == "int8"
    with pytest.raises(ExportError, match="every exported model is out of tolerance \\(int8\\)"):
        default_model_name(["int8"], ["int8"])


def test_all_degraded_export_fails_with_one_line(run_dir, crop_files, tmp_path, capsys):
    out = tmp_path / "b"
    code, _, err = run_cli(capsys, ["--run", run_dir, "--out", out, "--formats", "tflite-int8", "--calib-data",
                                    crop_files["calib"], "--val-data", crop_files["val"], "--int8-floor", "1.01",
                                    "--allow-degraded"])
    assert_one_error_line(code, err, "every exported model is out of tolerance", "--formats")
    assert not out.exists() and staging_leftovers(tmp_path) == []


# --- 6. NaN output: a failed variant, not a crash ---------------------------------------------------


def test_nan_output_fails_the_judge_without_crashing():
    ref = np.random.default_rng(2).uniform(0, 3, size=(50, 2)).astype(np.float32)
    pred = ref.copy()
    pred[3, 0] = np.nan
    verdict = judge(VARIANTS["tflite-fp16"], figures_for(pred, ref, None, INTENSITY), INTENSITY, Tolerances())
    assert not verdict.passed
    assert verdict.failure == "fp16: 1 output value(s) are NaN or infinite; max abs diff nan exceeds 0.01"
    probs = np.linspace(0.0, 1.0, 200, dtype=np.float32)[:, None]
    broken = probs.copy()
    broken[0, 0] = np.inf  # agreement alone would still read 0.995
    verdict = judge(VARIANTS["tflite-int8"], figures_for(broken, probs, None, OCCURRENCE), OCCURRENCE, Tolerances())
    assert not verdict.passed and verdict.failure.startswith("int8: 1 output value(s) are NaN or infinite")


def test_nan_from_the_float_model_stops_the_export(tmp_path):
    from auedge.convert.export import _check_reference

    _check_reference(np.zeros((3, 1), np.float32), tmp_path / "model.keras")
    with pytest.raises(ExportError, match="model.keras gives 1 NaN or infinite output value"):
        _check_reference(np.array([[0.1], [np.nan]], np.float32), tmp_path / "model.keras")


def _nan_in_fp16(monkeypatch_like) -> None:
    """Make the fp16 TFLite model's runner give one NaN (as a broken conversion would)."""
    from auedge.convert import validation

    real = validation.tflite_runner

    def runner(path, num_threads=1):
        run = real(path, num_threads)
        if "fp16" not in Path(path).name:
            return run

        def broken(inputs):
            out = run(inputs)
            out[0, 0] = np.nan
            return out

        return broken

    monkeypatch_like.setattr(validation, "tflite_runner", runner)


def test_nan_output_fails_the_export_with_one_line(run_dir, crop_files, tmp_path, capsys, monkeypatch):
    _nan_in_fp16(monkeypatch)
    out = tmp_path / "b"
    code, stdout, err = run_cli(capsys, ["--run", run_dir, "--out", out, "--formats", "tflite-fp32,tflite-fp16",
                                         "--val-data", crop_files["val"]])
    assert_one_error_line(code, err, "fp16", "NaN", "max abs diff nan", "--allow-degraded")
    assert "max abs diff nan" in stdout  # the progress line too
    assert not out.exists() and staging_leftovers(tmp_path) == []


@pytest.fixture(scope="module")
def degraded_bundle(run_dir, crop_files, tmp_path_factory) -> Path:
    """fp32 sound, fp16 giving a NaN, bundled with --allow-degraded."""
    out = tmp_path_factory.mktemp("degraded") / "b"
    with pytest.MonkeyPatch.context() as mp:
        _nan_in_fp16(mp)
        export_bundle(ExportOptions(run=str(run_dir), out=str(out), formats="tflite-fp32,tflite-fp16",
                                    val_data=str(crop_files["val"]), allow_degraded=True), log=lambda _line: None)
    return out


def test_allow_degraded_marks_a_nan_variant_and_keeps_a_sound_default(degraded_bundle):
    bundle = load_bundle(degraded_bundle)
    assert bundle.model("fp16").degraded and bundle.model("fp16").validation["non_finite"] == 1
    assert not bundle.model("fp32").degraded
    assert bundle.default_model == "fp32"  # fp16 comes before fp32 in the default order, but is degraded


def test_estimator_warns_once_when_running_a_degraded_model(degraded_bundle, caplog):
    from auedge.edge.estimator import Estimator

    for name, warnings in (("fp16", 1), ("fp32", 0)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="auedge.edge.estimator"):
            estimator = Estimator.from_bundle(degraded_bundle, model=name)
            estimator.close()
        records = [r for r in caplog.records if r.name == "auedge.edge.estimator"]
        assert len(records) == warnings, name
        if warnings:
            assert "fp16" in records[0].getMessage() and "degraded" in records[0].getMessage()
            assert "default model fp32" in records[0].getMessage()


# --- 5. .npz crops must be pixels 0-255 ------------------------------------------------------------


def test_npz_float_crops_in_0_1_are_refused(tmp_path):
    npz = tmp_path / "c.npz"
    np.savez(npz, crops=np.random.default_rng(0).uniform(0, 1, size=(4, 32, 32, 3)).astype(np.float32))
    with pytest.raises(ExportError, match="uint8 RGB crops 0-255 are expected") as info:
        load_crop_file(npz, size=32, outputs=1)
    assert str(npz) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, np.float32, np.float64])
def test_npz_whole_pixel_values_of_any_numeric_dtype_are_accepted(tmp_path, dtype):
    pixels = np.random.default_rng(1).integers(0, 256, size=(3, 32, 32, 3))
    npz = tmp_path / "c.npz"
    np.savez(npz, crops=pixels.astype(dtype))
    data = load_crop_file(npz, size=32, outputs=1)
    assert data.crops.dtype == np.uint8 and np.array_equal(data.crops, pixels)


@pytest.mark.parametrize("values", [np.full((2, 32, 32, 3), 256, np.int16), np.full((2, 32, 32, 3), -1.0),
                                    np.full((2, 32, 32, 3), np.nan), np.full((2, 32, 32, 3), 12.5),
                                    np.ones((2, 32, 32, 3), bool)])
def test_npz_non_pixel_values_are_refused(tmp_path, values):
    npz = tmp_path / "c.npz"
    np.savez(npz, crops=values)
    with pytest.raises(ExportError, match="uint8 RGB crops 0-255 are expected"):
        load_crop_file(npz, size=32, outputs=1)
