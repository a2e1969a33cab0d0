"""A real int8 TFLite AU model through LiteRT: quantization read from the model, checked vs bundle.json.

The tiny model (mean colour -> dense -> sigmoid, the same maths as the ONNX fixture) is converted
with TensorFlow inside the test session, so this file skips where TensorFlow is absent (devices).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from auedge.edge.bundle import BundleError
from auedge.edge.estimator import Estimator

pytestmark = pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")
from edge_runtime_helpers import BIAS, WEIGHTS, expected_aus, write_bundle


def _convert_tiny_int8(path):
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TensorFlow already initialised by another test: keep its settings
    inputs = keras.Input((160, 160, 3))
    dense = keras.layers.Dense(2, activation="sigmoid")
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(inputs)))
    dense.set_weights([WEIGHTS, BIAS])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    # Calibrate on flat colours across the whole range, so the mean-colour layer gets a wide range.
    levels = np.linspace(-1, 1, 9)
    converter.representative_dataset = lambda: (
        [np.broadcast_to(rng.permutation(levels)[:3], (1, 160, 160, 3)).astype(np.float32)] for _ in range(16)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="module")
def tflite_bundle(tmp_path_factory):
    root = write_bundle(tmp_path_factory.mktemp("tflite_bundle"), detector=None, with_int8=False)
    model = _convert_tiny_int8(root / "au_int8.tflite")
    manifest = json.loads((root / "bundle.json").read_text())
    manifest["models"].append(
        {
            "name": "int8",
            "format": "tflite",
            "precision": "int8",
            "file": model.name,
            "size_bytes": model.stat().st_size,
            "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
            "quantization": {"input": None, "output": None},
        }
    )
    manifest["default_model"] = "int8"
    (root / "bundle.json").write_text(json.dumps(manifest))
    return root


def test_int8_tflite_values_follow_the_float_maths(tflite_bundle):
    est = Estimator.from_bundle(tflite_bundle, backend="litert")
    assert est.backend.name == "litert" and est.backend.input.dtype == np.int8
    assert est._input_quant is not None and est._input_quant == est.backend.input.quant  # from the model itself
    rng = np.random.default_rng(3)
    crops = np.stack([np.full((160, 160, 3), v, dtype=np.uint8) for v in (20, 128, 240)]
                     + [rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)])
    values = est.estimate_aligned(crops)
    np.testing.assert_allclose(values, [expected_aus(c) for c in crops], atol=0.03)


def test_bundle_quantization_must_agree_with_the_model(tflite_bundle, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(tflite_bundle, root)
    est = Estimator.from_bundle(root)
    real = est.backend.input.quant
    manifest = json.loads((root / "bundle.json").read_text())
    manifest["models"][-1]["quantization"]["input"] = {"scale": real.scale, "zero_point": real.zero_point}
    (root / "bundle.json").write_text(json.dumps(manifest))
    Estimator.from_bundle(root)  # agreeing figures are accepted
    manifest["models"][-1]["quantization"]["input"] = {"scale": real.scale * 2, "zero_point": real.zero_point}
    (root / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="bundle.json says"):
        Estimator.from_bundle(root)
