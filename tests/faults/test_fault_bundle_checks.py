"""Issue 36 items 6 and 7: ``bundle-info`` runs the runtime's checks (each model and the detector
load, the detector's settings are in range) and exits non-zero when ``infer`` would refuse the
bundle; a ``schema_version`` that is not an integer is named as such."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from auedge.edge.cli import main


def _rewrite(bundle, change) -> None:
    path = bundle / "bundle.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("au-edge: ")]
    assert len(err) == 1, err
    return err[0]


def test_bundle_info_passes_a_good_bundle(write_tiny_bundle, capsys):
    assert main(["bundle-info", str(write_tiny_bundle())]) == 0
    out = capsys.readouterr().out
    assert out.count("loads: ok on onnxruntime") == 2 and "hashes   ok" in out


def test_model_of_random_bytes_rehashed_fails_bundle_info(write_tiny_bundle, capsys):
    bundle = write_tiny_bundle()
    model = bundle / "au_int8.onnx"
    model.write_bytes(os.urandom(model.stat().st_size))

    def rehash(manifest):
        entry = next(m for m in manifest["models"] if m["file"] == model.name)
        entry["sha256"] = _sha(model)

    _rewrite(bundle, rehash)
    image = bundle / "au_fp32.onnx"  # any file: infer refuses the bundle before reading it
    assert main(["infer", "--bundle", str(bundle), str(image)]) == 2
    capsys.readouterr()
    assert main(["bundle-info", str(bundle)]) == 2
    captured = capsys.readouterr()
    assert "hashes   ok" not in captured.out
    line = captured.err.strip()
    assert line.startswith("error: ") and "au_int8.onnx" in line and "\n" not in line


@pytest.mark.parametrize(("key", "value"), [("score_threshold", 5), ("score_threshold", 0), ("nms_iou", 1.5)])
def test_detector_settings_out_of_range_fail_bundle_info(write_tiny_bundle, capsys, key, value):
    bundle = write_tiny_bundle()
    _rewrite(bundle, lambda manifest: manifest["face_detector"].__setitem__(key, value))
    assert main(["bundle-info", str(bundle)]) == 2
    line = _error_line(capsys)
    assert f"face_detector.{key}" in line and str(value) in line


def test_corrupt_detector_fails_bundle_info(write_tiny_bundle, capsys):
    bundle = write_tiny_bundle()
    detector = bundle / "face_detector.tflite"
    detector.write_bytes(os.urandom(4096))
    _rewrite(bundle, lambda manifest: manifest["face_detector"].__setitem__("sha256", _sha(detector)))
    assert main(["bundle-info", str(bundle)]) == 2
    assert "face_detector.tflite" in _error_line(capsys)


@pytest.mark.parametrize("version", ["1", 1.0, True])
def test_schema_version_must_be_an_integer(write_tiny_bundle, capsys, version):
    bundle = write_tiny_bundle()
    _rewrite(bundle, lambda manifest: manifest.__setitem__("schema_version", version))
    assert main(["bundle-info", str(bundle)]) == 2
    line = _error_line(capsys)
    assert "schema_version must be an integer" in line and "reads 1" not in line
