"""bundle.json verification: schema, sha256 of every file, clear refusals."""

import json

import pytest
from auedge.edge.bundle import BundleError, load_bundle, sha256_file


def make_bundle(root):
    root.mkdir()
    (root / "model_int8.tflite").write_bytes(b"\x00model-bytes" * 100)
    (root / "face.tflite").write_bytes(b"detector" * 50)
    manifest = {
        "schema_version": 1,
        "name": "t",
        "task": {"name": "au12-occurrence", "kind": "occurrence", "aus": ["AU12"]},
        "outputs": [{"au": "AU12", "index": 0, "kind": "occurrence", "range": [0, 1], "threshold": 0.42}],
        "input": {"size": [160, 160], "channels": 3, "layout": "NHWC",
                  "normalization": {"mean": [127.5] * 3, "std": [127.5] * 3}},
        "crop": {"size": 160, "eye_scale": 2.4, "center_below_eyes": 0.5, "border": "replicate", "method": "eyes"},
        "face_detector": {"file": "face.tflite", "sha256": sha256_file(root / "face.tflite"),
                          "kind": "blazeface-short-range", "input_size": [128, 128]},
        "models": [{"name": "int8", "format": "tflite", "precision": "int8", "file": "model_int8.tflite",
                    "sha256": sha256_file(root / "model_int8.tflite"), "size_bytes": 1200,
                    "quantization": {"input": {"scale": 0.0078, "zero_point": 0, "dtype": "int8"},
                                     "output": {"scale": 0.0039, "zero_point": -128, "dtype": "int8"}}}],
        "default_model": "int8",
    }
    (root / "bundle.json").write_text(json.dumps(manifest))
    return manifest


def test_good_bundle_loads(tmp_path):
    make_bundle(tmp_path / "b")
    b = load_bundle(tmp_path / "b")
    assert b.au_names == ["AU12"] and b.outputs[0].threshold == pytest.approx(0.42)
    assert b.model().input_quant.zero_point == 0 and b.model().output_quant.zero_point == -128
    assert b.crop.size == 160 and b.face_detector.input_size == (128, 128)


def test_truncated_or_tampered_model_is_refused(tmp_path):
    make_bundle(tmp_path / "b")
    model = tmp_path / "b" / "model_int8.tflite"
    model.write_bytes(model.read_bytes()[:-10])
    with pytest.raises(BundleError, match="does not match its sha256"):
        load_bundle(tmp_path / "b")


def test_schema_and_missing_files(tmp_path):
    manifest = make_bundle(tmp_path / "b")
    (tmp_path / "b" / "face.tflite").unlink()
    with pytest.raises(BundleError, match="face detector file .* is missing"):
        load_bundle(tmp_path / "b")
    manifest["schema_version"] = 99
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="schema version 99"):
        load_bundle(tmp_path / "b")
    (tmp_path / "b" / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tmp_path / "b")
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nowhere")


def test_file_outside_bundle_is_refused(tmp_path):
    manifest = make_bundle(tmp_path / "b")
    manifest["models"][0]["file"] = "../evil.tflite"
    (tmp_path / "evil.tflite").write_bytes(b"x")
    (tmp_path / "b" / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="outside the bundle"):
        load_bundle(tmp_path / "b")


def test_every_output_says_what_its_value_is():
    from auedge.edge.bundle import OutputSpec

    assert OutputSpec("AU4", 0, "occurrence", (0.0, 1.0)).value_meaning == "probability that AU4 is present"
    assert "intensity on a 0-5 scale" in OutputSpec("AU4", 0, "intensity", (0.0, 5.0)).value_meaning
    assert OutputSpec("AU4", 0, "occurrence", (0.0, 1.0), meaning="as bundle.json says").value_meaning == "as bundle.json says"
