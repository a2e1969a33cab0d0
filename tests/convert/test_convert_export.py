"""End-to-end export on a tiny trained run: every format, the bundle schema, int8 I/O, hashes,
the degraded logic, --force, and the bad inputs that must fail with one line and leave nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from auedge.convert.export import ExportOptions, export_bundle, main
from auedge.edge.bundle import BundleError, load_bundle, sha256_file

REPO = Path(__file__).resolve().parents[2]
ALL_NAMES = {"fp32", "fp16", "dynamic", "int8", "onnx-fp32", "onnx-int8"}


def leftovers(parent: Path) -> list[str]:
    """Staging or backup folders an export may have left next to the destination."""
    return sorted(p.name for p in parent.glob(".*") if ".partial-" in p.name or ".old-" in p.name)


def run_cli(capsys, args: list[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def bundle(run_dir, crop_files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "tiny"
    options = ExportOptions(run=str(run_dir), out=str(out), calib_data=str(crop_files["calib"]),
                            val_data=str(crop_files["val"]))
    lines: list[str] = []
    result = export_bundle(options, log=lines.append)
    assert result.bundle == out.absolute()
    assert any("[6/6] onnx-int8" in line for line in lines)  # progress per variant
    return out


def test_bundle_verifies_and_lists_every_variant(bundle):
    loaded = load_bundle(bundle)
    assert {m.name for m in loaded.models} == ALL_NAMES
    assert loaded.default_model == "int8"
    # The run trained without flip averaging, so the device must not average either.
    assert loaded.manifest["inference"] == {"flip_average": False}
    assert loaded.task_kind == "occurrence" and loaded.au_names == ["AU12"]
    assert loaded.input_size == (32, 32) and loaded.crop.size == 32
    assert loaded.outputs[0].threshold == 0.5
    assert loaded.face_detector is not None and loaded.face_detector.input_size == (128, 128)
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["schema_version"] == 1
    assert all(m["batch"] == "any" and m["degraded"] is False for m in manifest["models"])
    assert set(manifest["versions"]) >= {"tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "au-edge"}
    assert manifest["training"]["run"] == "tiny_au12" and manifest["training"]["threshold"] == 0.5
    assert leftovers(bundle.parent) == []
    report = (bundle / "report.md").read_text()
    assert "| int8 | model_int8.tflite |" in report and "| onnx-fp32 |" in report


def test_every_file_matches_its_sha256_and_size(bundle):
    manifest = json.loads((bundle / "bundle.json").read_text())
    for entry in [*manifest["models"], manifest["face_detector"]]:
        path = bundle / entry["file"]
        assert sha256_file(path) == entry["sha256"]
        assert path.stat().st_size == entry["size_bytes"]


def test_models_take_any_batch_and_int8_has_int8_io(bundle):
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    manifest = json.loads((bundle / "bundle.json").read_text())
    for entry in manifest["models"]:
        path = bundle / entry["file"]
        if entry["format"] == "onnx":
            shape = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
            assert not isinstance(shape[0], int) and list(shape[1:]) == [32, 32, 3]  # a named, open batch
            continue
        interpreter = Interpreter(model_path=str(path))
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        assert list(inp["shape_signature"]) == [-1, 32, 32, 3] and list(inp["shape"]) == [1, 32, 32, 3]
        if entry["name"] == "int8":
            assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
            quant = entry["quantization"]
            assert quant["input"]["dtype"] == "int8" and quant["output"]["dtype"] == "int8"
            assert np.isclose(quant["input"]["scale"], inp["quantization"][0])
            assert quant["input"]["zero_point"] == inp["quantization"][1]
            assert np.isclose(quant["output"]["scale"], out["quantization"][0])
        else:
            assert inp["dtype"] == np.float32 and entry["quantization"] == {"input": None, "output": None}


def test_every_variant_runs_a_crop_and_its_mirror_in_one_batch_as_two_runs(bundle):
    """The runtime's flip averaging feeds [crop, mirror] at once (Estimator.paired): each exported
    model must take that batch and give each row what a batch-1 run gives."""
    from auedge.edge.backends import create_backend

    rng = np.random.default_rng(7)
    for entry in json.loads((bundle / "bundle.json").read_text())["models"]:
        backend = create_backend(bundle / entry["file"], "auto", 1)
        info = backend.input
        if np.issubdtype(info.dtype, np.integer):
            crop = rng.integers(-128, 128, (1, 32, 32, 3)).astype(info.dtype)
        else:
            crop = rng.uniform(-1, 1, (1, 32, 32, 3)).astype(info.dtype)
        pair = np.concatenate([crop, crop[:, :, ::-1]])
        singles = [backend.run(np.ascontiguousarray(x[None]))[0][0] for x in pair]
        assert backend.set_batch(2), entry["name"]
        both = backend.run(pair)[0]
        assert both.shape[0] == 2, entry["name"]
        for got, want in zip(both, singles):
            np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=1e-5, err_msg=entry["name"])


def _conv_input_dtypes(model) -> list[str]:
    """The input dtype of every convolution, in graph order, read without delegates."""
    from auedge.convert.to_tflite import open_interpreter

    interpreter = open_interpreter(model, delegates=False)
    tensors = interpreter.get_tensor_details()
    return [np.dtype(tensors[op["inputs"][0]]["dtype"]).name for op in interpreter._get_ops_details()
            if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]


def test_int8_model_keeps_only_its_stem_in_float(bundle):
    """The default int8 export: int8 in and out, the first (3-channel) convolution in float, every
    other convolution int8; the bundle says so."""
    manifest = json.loads((bundle / "bundle.json").read_text())
    entry = next(m for m in manifest["models"] if m["name"] == "int8")
    assert entry["validation"]["conversion"]["float_convs"] == 1
    dtypes = _conv_input_dtypes(bundle / entry["file"])
    assert dtypes[0] == "float32" and len(dtypes) > 5
    assert set(dtypes[1:]) == {"int8"}
    assert {"DEQUANTIZE", "QUANTIZE"} <= set(entry["validation"]["conversion"]["ops"])


def test_int8_float_convs_sets_how_many_convolutions_stay_float(trained_model, tmp_path, make_patterned_crops):
    from auedge.convert.errors import ExportError
    from auedge.convert.to_tflite import convert_tflite, export_saved_model
    from auedge.edge.preprocess import normalize

    saved = export_saved_model(trained_model, 32, tmp_path / "saved")
    calib = normalize(make_patterned_crops(16, seed=4)[0])
    fully = _conv_input_dtypes(convert_tflite(saved, "int8", calib, float_convs=0))
    assert fully and set(fully) == {"int8"}
    three = _conv_input_dtypes(convert_tflite(saved, "int8", calib, float_convs=3))
    assert three[:3] == ["float32"] * 3 and set(three[3:]) == {"int8"} and len(three) == len(fully)
    with pytest.raises(ExportError, match="only 11 convolutions"):
        convert_tflite(saved, "int8", calib, float_convs=99)


def test_onnx_int8_weights_use_seven_bits(bundle):
    """reduce_range: every int8 weight tensor of the ONNX int8 model stays within [-64, 64], so ONNX
    Runtime's AVX2 kernels (VPMADDUBSW) cannot saturate their 16-bit pair sums."""
    import onnx
    from onnx import numpy_helper

    manifest = json.loads((bundle / "bundle.json").read_text())
    entry = next(m for m in manifest["models"] if m["name"] == "onnx-int8")
    assert entry["validation"]["conversion"]["weight_bits"] == 7
    model = onnx.load(str(bundle / entry["file"]))
    weights = [numpy_helper.to_array(init) for init in model.graph.initializer
               if init.data_type == onnx.TensorProto.INT8 and np.prod(init.dims) > 1]
    assert weights, "the int8 model stores int8 weights"
    assert max(int(np.abs(w.astype(np.int32)).max()) for w in weights) <= 64
    assert max(int(np.abs(w.astype(np.int32)).max()) for w in weights) >= 60  # the range is used


def test_validation_figures_are_recorded_and_within_tolerance(bundle):
    manifest = json.loads((bundle / "bundle.json").read_text())
    by_name = {m["name"]: m["validation"] for m in manifest["models"]}
    for figures in by_name.values():
        assert figures["n"] == 80 and figures["passed"] is True
        assert {"max_abs_diff", "mean_abs_diff", "agreement", "f1", "f1_float"} <= set(figures)
    assert by_name["fp32"]["max_abs_diff"] <= 1e-4 and by_name["onnx-fp32"]["max_abs_diff"] <= 1e-4
    assert by_name["fp16"]["max_abs_diff"] <= 1e-2
    assert by_name["int8"]["agreement"] >= 0.98
    assert by_name["onnx-int8"]["conversion"]["weights"] in ("per-channel", "per-tensor")
    assert "FULLY_CONNECTED" in by_name["int8"]["conversion"]["ops"]
    # The quantized models really differ from float (the check compares real outputs).
    assert by_name["int8"]["max_abs_diff"] > 0


def test_tampered_or_truncated_bundle_is_refused(bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    model = copy / "model_int8.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(copy)
    model.write_bytes(bytes(data[:100]))
    with pytest.raises(BundleError, match="truncated or modified"):
        load_bundle(copy)


def test_out_of_tolerance_fails_unless_allow_degraded(run_dir, crop_files, tmp_path, capsys):
    out = tmp_path / "b"
    common = ["--run", run_dir, "--out", out, "--formats", "tflite-fp32,tflite-int8", "--calib-data",
              crop_files["calib"], "--val-data", crop_files["val"], "--int8-floor", "1.01"]
    code, _, err = run_cli(capsys, common)
    assert_one_error_line(code, err, "int8", "agreement", "1.01", "--allow-degraded")
    assert not out.exists() and leftovers(tmp_path) == []

    code, stdout, err = run_cli(capsys, [*common, "--allow-degraded"])
    assert code == 0, err
    entry = load_bundle(out).model("int8")
    assert entry.degraded is True and entry.validation["passed"] is False
    assert load_bundle(out).default_model == "fp32"  # never the degraded int8
    assert "degraded" in stdout and "degraded" in (out / "report.md").read_text()

    code, _, err = run_cli(capsys, common[:6] + ["--calib-data", crop_files["calib"]])
    assert_one_error_line(code, err, "already exists", "--force")
    assert load_bundle(out).model("int8").degraded is True  # untouched


def test_force_replaces_an_existing_bundle(run_dir, crop_files, tmp_path, capsys):
    out = tmp_path / "b"
    out.mkdir()  # an older bundle: its manifest, report and a model file this export does not write
    (out / "bundle.json").write_text("{}")
    (out / "report.md").write_text("old")
    (out / "model_int8.tflite").write_bytes(b"old")
    code, _, err = run_cli(capsys, ["--run", run_dir, "--out", out, "--formats", "tflite-fp32", "--force",
                                    "--val-data", crop_files["val"], "--detector", "full-range"])
    assert code == 0, err
    assert not (out / "model_int8.tflite").exists() and (out / "report.md").read_text() != "old"
    loaded = load_bundle(out)
    assert [m.name for m in loaded.models] == ["fp32"] and loaded.default_model == "fp32"
    assert loaded.face_detector.kind == "blazeface-full-range" and loaded.face_detector.input_size == (192, 192)
    assert leftovers(tmp_path) == []


def _copy_run(run_dir: Path, dest: Path) -> Path:
    shutil.copytree(run_dir, dest)
    return dest


def test_non_keras_file_is_refused(run_dir, crop_files, tmp_path, capsys):
    bad = _copy_run(run_dir, tmp_path / "runs" / "bad")
    (bad / "model.keras").write_text("this is not a model")
    out = tmp_path / "out" / "b"
    code, _, err = run_cli(capsys, ["--model", bad / "model.keras", "--out", out, "--val-data", crop_files["val"]])
    assert_one_error_line(code, err, "not a Keras model file")
    assert not out.exists() and not out.parent.exists()


def test_wrong_input_size_is_refused(run_dir, crop_files, tmp_path, capsys):
    from auedge.train.models import build_model

    bad = _copy_run(run_dir, tmp_path / "runs" / "bad")
    build_model(input_size=40).save(bad / "model.keras")  # the run's crop is 32 px
    out = tmp_path / "b"
    code, _, err = run_cli(capsys, ["--run", bad, "--out", out, "--val-data", crop_files["val"]])
    assert_one_error_line(code, err, "40x40", "crop size is 32")
    assert not out.exists() and leftovers(tmp_path) == []


def test_empty_calibration_set_is_refused(run_dir, crop_files, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "b"
    code, _, err = run_cli(capsys, ["--run", run_dir, "--out", out, "--calib-data", empty,
                                    "--val-data", crop_files["val"]])
    assert_one_error_line(code, err, "calibration", "is empty")
    assert not out.exists() and leftovers(tmp_path) == []


def test_output_under_a_file_is_refused(run_dir, crop_files, tmp_path, capsys):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    code, _, err = run_cli(capsys, ["--run", run_dir, "--out", blocker / "b", "--val-data", crop_files["val"]])
    assert_one_error_line(code, err, "cannot write the bundle", "--out")
    assert blocker.read_text() == "x" and leftovers(tmp_path) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores read-only permissions")
def test_read_only_output_dir_is_refused(run_dir, crop_files, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = run_cli(capsys, ["--run", run_dir, "--out", locked / "b", "--val-data", crop_files["val"]])
    finally:
        locked.chmod(0o755)
    assert_one_error_line(code, err, "cannot write the bundle")
    assert list(locked.iterdir()) == []


def test_full_disk_mid_write_leaves_no_partial_bundle(run_dir, crop_files, tmp_path, capsys, monkeypatch):
    import auedge.convert.bundle_writer as writer

    def no_space(src, dst, *args, **kwargs):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(writer.shutil, "copyfile", no_space)
    out = tmp_path / "new" / "b"
    code, _, err = run_cli(capsys, ["--run", run_dir, "--out", out, "--formats", "tflite-fp32",
                                    "--val-data", crop_files["val"]])
    assert_one_error_line(code, err, "No space left on device")
    assert not out.exists() and not out.parent.exists()  # the parent it created is gone too


def test_script_without_runs_says_how_to_make_one(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "convert" / "export.py")], check=False, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: no trained run under runs")
    assert "python train/train.py" in proc.stderr
    assert not (tmp_path / "bundles").exists()


def test_default_data_comes_from_the_runs_own_splits(run_dir, tmp_path, capsys, monkeypatch, make_patterned_crops):
    from auedge.train import runs

    crops, labels = make_patterned_crops(60, seed=5)
    split = np.array(["train"] * 30 + ["val"] * 20 + ["test"] * 10)
    calls = []

    def fake_load_run_crops(run, **overrides):
        calls.append(run.root.name)
        return SimpleNamespace(images=crops, labels=labels, split=split)

    monkeypatch.setattr(runs, "load_run_crops", fake_load_run_crops)
    out = tmp_path / "b"
    code, _, err = run_cli(capsys, ["--run", run_dir, "--out", out, "--formats", "tflite-int8", "--val-split", "test"])
    assert code == 0, err
    assert calls == ["tiny_au12"]  # loaded once, then split
    export = load_bundle(out).manifest["export"]
    assert export["calib_size"] == 30 and "split 'train'" in export["calib_source"]
    assert export["val_size"] == 10 and "split 'test'" in export["val_source"]


def test_every_bundled_model_runs_on_the_edge_estimator(bundle, trained_model, make_crops):
    """The device's own code path (auedge.edge.Estimator: LUT normalisation, int8 quantization from
    bundle.json) reproduces the Keras outputs with every model of the bundle."""
    from auedge.edge.estimator import Estimator
    from auedge.edge.preprocess import normalize

    crops, _ = make_crops(12, seed=9)
    expected = np.asarray(trained_model(normalize(crops), training=False))
    limits = {"fp32": 1e-4, "onnx-fp32": 1e-4, "fp16": 1e-2}
    for name in sorted(ALL_NAMES):
        estimator = Estimator.from_bundle(bundle, model=name)
        try:
            got = estimator.estimate_aligned(crops)
        finally:
            estimator.close()
        assert np.max(np.abs(got - expected)) <= limits.get(name, 0.05), name


def test_missing_face_detector_file_is_refused(run_dir, tmp_path, capsys):
    code, _, err = run_cli(capsys, ["--run", run_dir, "--out", tmp_path / "b", "--face-detector", tmp_path / "nope.tflite"])
    assert_one_error_line(code, err, "face detector", "nope.tflite", "--face-detector")
    assert list(tmp_path.iterdir()) == []


def test_int8_probe_times_float_stem_variants_beside_the_bundle(bundle, run_dir, tmp_path, capsys):
    """benchmarks/int8_probe.py --float-convs re-converts the run's Keras model and times each."""
    from auedge.benchmarks import int8_probe

    code = int8_probe.main(["--bundle", str(bundle), "--float-convs", "0,1", "--keras", str(run_dir / "model.keras"),
                            "--runs", "3", "--out-dir", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    data = json.loads(next(tmp_path.glob("int8probe-*.json")).read_text())
    names = [row[0] for row in data["table"]["rows"]]
    assert {"fp32", "int8", "int8 float_convs=0", "int8 float_convs=1"} <= set(names)
    assert data["facts"]["int8 float_convs=1"]["ops"]["DEQUANTIZE"] >= 1
    assert "DEQUANTIZE" not in data["facts"]["int8 float_convs=0"]["ops"]
    assert int8_probe.main(["--bundle", str(bundle), "--float-convs", "one", "--out-dir", str(tmp_path)]) == 2
    assert "comma list of whole numbers" in capsys.readouterr().err
