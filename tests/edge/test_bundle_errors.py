"""Bad input is one clear line, never a traceback: malformed bundle.json, settings the runtime does
not implement, output indices or quantization that do not fit the model, unreadable configs, and
a closed stdout pipe."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from auedge.edge.backends import BackendError
from auedge.edge.bundle import BundleError, load_bundle
from auedge.edge.cli import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, main
from auedge.edge.daemon_config import ConfigError, load_toml
from auedge.edge.estimator import Estimator
from edge_runtime_helpers import CROP, OUTPUT_QUANT, expected_aus, write_bundle, write_tiny_onnx

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def base_bundle(tmp_path_factory) -> Path:
    """ONNX fp32 + int8 models, no detector: every test copies it and edits its bundle.json."""
    return write_bundle(tmp_path_factory.mktemp("base"), detector=None)


def _edited(base: Path, target: Path, mutate: Mutation) -> Path:
    shutil.copytree(base, target)
    manifest = json.loads((target / "bundle.json").read_text(encoding="utf-8"))
    mutate(manifest)
    (target / "bundle.json").write_text(json.dumps(manifest), encoding="utf-8")
    return target


def _set(path: str, value: Any) -> Mutation:
    """A mutation setting ``a.b.0.c`` (list indices as numbers) in the manifest."""

    def mutate(manifest: dict[str, Any]) -> None:
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        node: Any = manifest
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _duplicate_first_output(manifest: dict[str, Any]) -> None:
    manifest["outputs"].append(dict(manifest["outputs"][0], index=1))


MALFORMED = {
    "size_scalar": (_set("input.size", 32), r"input\.size must be \[H, W\], got 32"),
    "outputs_strings": (_set("outputs", ["AU12"]), r"outputs\[0\] must be a JSON object"),
    "outputs_empty": (_set("outputs", []), r"outputs must be a non-empty list"),
    "task_string": (_set("task", "au12"), r"task must be a JSON object"),
    "crop_list": (_set("crop", [160]), r"crop must be a JSON object"),
    "file_null": (_set("models.0.file", None), r"models\[0\]\.file must be a non-empty string, got None"),
    "threshold_text": (_set("outputs.0.threshold", "high"), r"outputs\[0\]\.threshold must be a number, got 'high'"),
    "index_text": (_set("outputs.0.index", "0"), r"outputs\[0\]\.index must be an integer"),
    "index_negative": (_set("outputs.0.index", -1), r"outputs\[0\]\.index must be an integer >= 0"),
    "range_reversed": (_set("outputs.0.range", [1.0, 0.0]), r"outputs\[0\]\.range must be \[lo, hi\] with lo < hi"),
    "range_equal": (_set("outputs.1.range", [0.5, 0.5]), r"outputs\[1\]\.range .*lo < hi"),
    "range_scalar": (_set("outputs.0.range", 1.0), r"outputs\[0\]\.range must be \[lo, hi\]"),
    "output_kind": (_set("outputs.0.kind", "binary"), r"outputs\[0\]\.kind must be one of occurrence, intensity"),
    "duplicate_au": (_duplicate_first_output, r"outputs name AU12 more than once"),
    "quant_without_zero_point": (
        _set("models.1.quantization.input", {"scale": 0.1}), r"models\[1\]\.quantization\.input: .*zero_point"
    ),
    "quant_not_object": (_set("models.1.quantization", [0.1, 0]), r"models\[1\]\.quantization must be a JSON object"),
    "quant_float_dtype": (
        _set("models.1.quantization.output.dtype", "float32"), r"models\[1\]\.quantization\.output: .*not an integer type"
    ),
    "quant_zero_point_range": (
        _set("models.1.quantization.input.zero_point", 300), r"models\[1\]\.quantization\.input: .*zero_point"
    ),
    "validation_list": (_set("models.0.validation", [1]), r"models\[0\]\.validation must be a JSON object"),
    "degraded_text": (_set("models.0.degraded", "no"), r"models\[0\]\.degraded must be true or false"),
    "model_name_null": (_set("models.0.name", None), r"models\[0\]\.name must be a non-empty string"),
    "detector_string": (_set("face_detector", "face.tflite"), r"face_detector must be a JSON object"),
    "flip_average_text": (_set("inference", {"flip_average": "yes"}), r"inference\.flip_average must be true or false"),
    "layout_nchw": (_set("input.layout", "NCHW"), r"input\.layout must be 'NHWC'"),
    "channels_one": (_set("input.channels", 1), r"input\.channels must be 3"),
    "mean_two": (_set("input.normalization.mean", [0.0, 0.0]), r"normalization mean must be three numbers"),
    "std_text": (_set("input.normalization.std", "127.5"), r"normalization std must be three numbers"),
    # bug 5: the runtime always feeds RGB 0-255, so anything else is refused instead of ignored
    "color_bgr": (_set("input.normalization.color", "BGR"), r"normalization color 'BGR' is not supported"),
    "pixel_range_unit": (_set("input.normalization.pixel_range", [0, 1]), r"pixel_range \[0, 1\] is not supported"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_manifest_is_a_bundle_error_naming_file_and_key(base_bundle, tmp_path, case):
    mutate, pattern = MALFORMED[case]
    bundle = _edited(base_bundle, tmp_path / case, mutate)
    with pytest.raises(BundleError, match=pattern) as info:
        load_bundle(bundle)
    assert str(bundle / "bundle.json") in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("case", ["size_scalar", "outputs_strings", "file_null", "threshold_text", "color_bgr"])
def test_cli_reports_a_malformed_manifest_in_one_line(base_bundle, tmp_path, capsys, case):
    bundle = _edited(base_bundle, tmp_path / case, MALFORMED[case][0])
    assert main(["bundle-info", str(bundle)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "bundle.json" in err[0]


def test_old_bundle_without_color_still_loads_and_info_prints_the_real_values(base_bundle, tmp_path, capsys):
    def drop_color(manifest: dict[str, Any]) -> None:
        del manifest["input"]["normalization"]["color"], manifest["input"]["normalization"]["pixel_range"]

    bundle = _edited(base_bundle, tmp_path / "no_color", drop_color)
    assert load_bundle(bundle).normalization.color == "RGB"
    assert main(["bundle-info", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert f"input    {CROP}x{CROP} RGB 0-255, mean [127.5, 127.5, 127.5]" in out


# --- bug 6: output indices are checked against the model when it is loaded ------------------------


def test_output_index_beyond_the_model_fails_at_load(base_bundle, tmp_path, capsys):
    bundle = _edited(base_bundle, tmp_path / "index5", _set("outputs.1.index", 5))
    load_bundle(bundle)  # the manifest alone is well formed: only the model knows it has 2 values
    with pytest.raises(BundleError, match=r"gives 2 value\(s\) per face, but bundle.json maps AU4 to output index 5"):
        Estimator.from_bundle(bundle, model="onnx-fp32")
    assert main(["bundle-info", str(bundle)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "output index 5" in err[0]


def test_bundle_info_notes_a_model_no_interpreter_here_runs(base_bundle, monkeypatch, capsys):
    from auedge.edge import backends

    real_installed = backends._installed
    monkeypatch.setattr(backends, "_installed", lambda package: package != "onnxruntime" and real_installed(package))
    assert main(["bundle-info", str(base_bundle)]) == 0
    assert "loads: not checked here (onnxruntime is not installed to run au_fp32.onnx)" in capsys.readouterr().out


def test_bundle_info_checks_each_model(base_bundle, capsys):
    assert main(["bundle-info", str(base_bundle)]) == 0
    assert capsys.readouterr().out.count("loads: ok on onnxruntime") == 2


# --- bug 7: an integer input's dtype must be the bundle's quantization dtype ----------------------


def _with_uint8_model(base: Path, target: Path, input_quant: dict[str, Any]) -> Path:
    """The base bundle plus a model ``onnx-uint8`` whose input tensor is uint8."""

    def add(manifest: dict[str, Any]) -> None:
        path = write_tiny_onnx(target / "au_uint8.onnx", int8=True, uint8_input=True)
        manifest["models"].append({
            "name": "onnx-uint8", "format": "onnx", "precision": "int8", "file": path.name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "quantization": {"input": input_quant, "output": OUTPUT_QUANT},
        })

    return _edited(base, target, add)


def test_uint8_input_with_the_default_int8_dtype_is_refused_at_load(base_bundle, tmp_path):
    # zero point 0 fits int8, so the manifest alone is fine; only the tensor says uint8
    bundle = _with_uint8_model(base_bundle, tmp_path / "u8", {"scale": 2.0 / 255.0, "zero_point": 0})
    with pytest.raises(BundleError, match=r"input of .*au_uint8.onnx is uint8, but bundle.json gives .* dtype as int8"):
        Estimator.from_bundle(bundle, model="onnx-uint8")


def _crops() -> np.ndarray:
    rng = np.random.default_rng(7)
    uniform = [np.full((CROP, CROP, 3), v, dtype=np.uint8) for v in (0, 60, 200, 255)]
    return np.stack(uniform + [rng.integers(0, 256, (CROP, CROP, 3), dtype=np.uint8)])


def test_uint8_input_model_sees_each_crop(base_bundle, tmp_path):
    quant = {"scale": 2.0 / 255.0, "zero_point": 128, "dtype": "uint8"}
    est = Estimator.from_bundle(_with_uint8_model(base_bundle, tmp_path / "u8", quant), model="onnx-uint8")
    crops = _crops()
    values = est.estimate_aligned(crops)
    np.testing.assert_allclose(values, [expected_aus(c) for c in crops], atol=3 / 256)
    assert len({tuple(v) for v in np.round(values, 4)}) == len(crops)  # not one value for every face


def test_run_crop_feeds_what_the_table_gives_never_a_stale_buffer(base_bundle):
    est = Estimator.from_bundle(base_bundle, model="onnx-int8")
    est._lut = est._lut.astype(np.uint8)  # a table that no longer fits the int8 buffer
    with pytest.raises(BackendError, match="expects int8 input, got uint8"):
        est.estimate_aligned(_crops()[:1])


# --- daemon config files that cannot be read -------------------------------------------------------


def test_config_that_is_a_directory_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"is a directory: pass --config with a TOML file") as info:
        load_toml(tmp_path)
    assert "\n" not in str(info.value)


def test_config_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('bundle = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.toml: not UTF-8 text .*save the file as UTF-8") as info:
        load_toml(path)
    assert "\n" not in str(info.value)


# --- a reader that stops early: `au-edge ... | head -1` --------------------------------------------


def test_closed_stdout_pipe_exits_quietly(base_bundle):
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: the first write fails with EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "auedge.edge.cli", "bundle-info", str(base_bundle)],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    finally:
        os.close(write_end)
    assert done.returncode == EXIT_BROKEN_PIPE and "Traceback" not in done.stderr and done.stderr.strip() == ""


class _GoneStdout:
    """A stdout whose reader has left and which has no file descriptor (as under pytest)."""

    def write(self, _text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        raise OSError("no file descriptor")


def test_broken_pipe_without_a_real_stdout_still_returns(base_bundle, monkeypatch):
    monkeypatch.setattr(sys, "stdout", _GoneStdout())
    assert main(["bundle-info", str(base_bundle)]) == EXIT_BROKEN_PIPE
