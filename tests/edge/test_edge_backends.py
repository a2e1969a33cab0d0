"""Interpreter backends: loading, tensor details, choice by extension, and clear errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from auedge.edge.backends import BackendError, TensorInfo, available_backends, choose_backend, create_backend
from auedge.edge.preprocess import QuantParams
from edge_runtime_helpers import INPUT_QUANT, detector_file, run_blocked, write_tiny_onnx


def test_litert_loads_blazeface_and_runs():
    backend = create_backend(detector_file(), "litert", num_threads=1)
    assert backend.name == "litert"
    info = backend.input
    assert info.shape == (1, 128, 128, 3) and info.dtype == np.float32 and info.quant is None
    outputs = backend.run(np.zeros((1, 128, 128, 3), dtype=np.float32))
    assert sorted(o.shape for o in outputs) == [(1, 896, 1), (1, 896, 16)]
    assert [o.shape for o in outputs] == [tuple(d.shape) for d in backend.output_details]


def test_auto_picks_by_extension(tmp_path):
    assert choose_backend(tmp_path / "m.onnx") == "onnxruntime"
    assert choose_backend(tmp_path / "m.tflite") in {"litert", "tflite-runtime", "tensorflow"}
    assert choose_backend(tmp_path / "m.tflite", "ai-edge-litert") == "litert"
    assert "litert" in available_backends()


def test_unknown_or_mismatched_backend_is_refused(tmp_path):
    with pytest.raises(BackendError, match="unknown backend 'coreml'"):
        choose_backend(tmp_path / "m.tflite", "coreml")
    with pytest.raises(BackendError, match="cannot run"):
        choose_backend(tmp_path / "m.onnx", "litert")


def test_onnx_int8_model_details_and_run(tmp_path):
    path = write_tiny_onnx(tmp_path / "tiny.onnx", int8=True)
    backend = create_backend(path, num_threads=1)
    assert backend.name == "onnxruntime"
    assert backend.input.dtype == np.int8 and backend.input.quant is None  # ONNX carries no input scale
    (out,) = backend.run(np.zeros((1, 160, 160, 3), dtype=np.int8))
    assert out.dtype == np.int8 and out.shape == (1, 2)
    with pytest.raises(BackendError, match="expects int8 input"):
        backend.run(np.zeros((1, 160, 160, 3), dtype=np.float32))
    with pytest.raises(BackendError, match="expects input shape"):
        backend.run(np.zeros((1, 128, 128, 3), dtype=np.int8))


@pytest.mark.parametrize("suffix", [".tflite", ".onnx"])
def test_garbage_and_truncated_models_name_the_file(tmp_path, suffix):
    garbage = tmp_path / f"garbage{suffix}"
    garbage.write_bytes(b"this is not a model" * 10)
    with pytest.raises(BackendError, match=f"garbage{suffix}.*copy the bundle again"):
        create_backend(garbage)
    source = detector_file() if suffix == ".tflite" else write_tiny_onnx(tmp_path / "whole.onnx")
    truncated = tmp_path / f"truncated{suffix}"
    truncated.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(BackendError, match=f"truncated{suffix}"):
        create_backend(truncated)


def test_missing_and_empty_model_files(tmp_path):
    with pytest.raises(BackendError, match="not found"):
        create_backend(tmp_path / "absent.tflite")
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(BackendError, match="empty"):
        create_backend(empty)


def test_quantization_cross_check():
    from auedge.edge.backends import resolve_quant

    model_quant = QuantParams(scale=0.0078125, zero_point=-1)
    info = TensorInfo("input", (1, 160, 160, 3), np.dtype(np.int8), model_quant)
    path = "m.tflite"
    assert resolve_quant(info, None, "input", path) == model_quant
    assert resolve_quant(info, QuantParams(scale=0.0078125, zero_point=-1), "input", path) == model_quant
    with pytest.raises(BackendError, match="bundle.json says"):
        resolve_quant(info, QuantParams(scale=0.01, zero_point=-1), "input", path)
    onnx_like = TensorInfo("input", (1, 160, 160, 3), np.dtype(np.int8), None)
    assert resolve_quant(onnx_like, QuantParams.from_dict(INPUT_QUANT), "input", path).scale == INPUT_QUANT["scale"]
    with pytest.raises(BackendError, match="neither the model nor bundle.json"):
        resolve_quant(onnx_like, None, "input", path)
    float_info = TensorInfo("input", (1, 160, 160, 3), np.dtype(np.float32), None)
    assert resolve_quant(float_info, model_quant, "input", path) is None


def test_missing_interpreter_says_how_to_install():
    code = (
        "from auedge.edge.backends import create_backend, BackendError\n"
        "try:\n    create_backend('model.tflite')\n"
        "except BackendError as exc:\n    print('MESSAGE', exc)\n"
    )
    done = run_blocked(code, {"ai_edge_litert", "tflite_runtime", "tensorflow"})
    assert done.returncode == 0, done.stderr
    assert "MESSAGE" in done.stdout and "pip install au-edge[edge]" in done.stdout


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="tensorflow is not installed")
def test_tensorflow_fallback_matches_litert():
    image = np.random.default_rng(0).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    expected = create_backend(detector_file(), "litert").run(image)
    got = create_backend(detector_file(), "tensorflow").run(image)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(a, b, atol=1e-3)
