"""The fused-BatchNorm training twin computes what the plain model computes, and never leaks."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from auedge.train.fused_batchnorm import training_twin
from auedge.train.models import build_model


def _grads(model, x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.binary_crossentropy(y, model(x, training=True)))
    return [np.asarray(g) for g in tape.gradient(loss, model.trainable_variables)]


@pytest.mark.parametrize("arch", ["mobilenetv2", "resnet50"])
def test_twin_matches_plain_model_in_training_mode(arch):
    keras.utils.set_random_seed(0)
    model = build_model(arch, "flat", "occurrence", input_size=48, dropout=0.0)
    twin, fused = training_twin(model)
    assert fused > 0
    assert [v.path for v in twin.trainable_variables] == [v.path for v in model.trainable_variables]
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (6, 48, 48, 3)).astype("float32")
    y = (rng.random((6, 1)) > 0.5).astype("float32")

    np.testing.assert_allclose(twin(x, training=True), model(x, training=True), atol=1e-5)
    for plain, fused_grad in zip(_grads(model, x, y), _grads(twin, x, y)):
        # The kernels sum in different orders; compare each gradient as a whole (measured: ~1e-5).
        size = float(np.linalg.norm(plain))
        if size > 1e-4:
            assert np.linalg.norm(fused_grad - plain) / size < 1e-2
    # Moving statistics move the same way (the fused kernel's variance is Bessel-corrected: n/(n-1)).
    for plain, fused_w in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(fused_w, plain, rtol=1e-2, atol=1e-4)
    np.testing.assert_allclose(twin(x), model(x), atol=1e-5)


def test_weights_copied_back_save_a_plain_model(tmp_path):
    model = build_model("mobilenetv2", "flat", "occurrence", input_size=48)
    twin, _ = training_twin(model)
    twin.compile(optimizer="adam", loss="binary_crossentropy")
    x = np.random.default_rng(1).uniform(-1, 1, (8, 48, 48, 3)).astype("float32")
    twin.fit(x, np.ones((8, 1), "float32"), epochs=1, verbose=0)
    model.set_weights(twin.get_weights())
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    assert {type(layer).__name__ for layer in loaded.layers} & {"FusedBatchNormalization"} == set()
    np.testing.assert_allclose(loaded(x), twin(x), atol=1e-5)
