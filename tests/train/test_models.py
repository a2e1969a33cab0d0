"""The report's architectures, by their parameter counts, and the weights/BatchNorm rules."""

import pytest

pytest.importorskip("keras")

from auedge.train.models import ModelError, build_model


def test_mobilenetv2_flat_binary_has_80513_parameters():
    model = build_model("mobilenetv2", "flat", "occurrence")
    assert model.count_params() == 80_513
    assert tuple(model.input.shape[1:]) == (160, 160, 3)
    assert model.layers[-1].activation.__name__ == "sigmoid"


def test_resnet50_flat_binary_has_195777_parameters():
    model = build_model("resnet50", "flat", "occurrence")
    assert model.count_params() == 195_777
    assert tuple(model.input.shape[1:]) == (150, 150, 3)


def test_max_head_and_intensity_output():
    model = build_model("mobilenetv2", "max", "intensity", outputs=2)
    # 10x10x144 after 2x2 max pooling: 14,400 * 2 + 2 dense weights on top of the 22,912 backbone.
    assert model.count_params() == 22_912 + 14_400 * 2 + 2
    assert model.layers[-1].activation.__name__ == "linear"
    assert model.output.shape[-1] == 2


def test_scratch_batchnorm_momentum_is_0_9():
    import keras

    model = build_model("mobilenetv2", "flat", "occurrence", weights="none")
    moms = {l.momentum for l in model.layers if isinstance(l, keras.layers.BatchNormalization)}
    assert moms == {0.9}


def test_imagenet_offline_fails_with_one_clear_line(monkeypatch):
    import keras

    def offline(*args, **kwargs):
        if kwargs.get("weights") == "imagenet":
            raise OSError("URL fetch failure: [Errno -3] Temporary failure in name resolution")
        raise AssertionError("unexpected call")

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)
    with pytest.raises(ModelError, match="--weights none") as info:
        build_model("mobilenetv2", "flat", "occurrence", weights="imagenet")
    assert "\n" not in str(info.value)


def test_bad_arch_head_weights_are_refused(tmp_path):
    with pytest.raises(ModelError, match="unknown arch"):
        build_model("vgg16")
    with pytest.raises(ModelError, match="unknown head"):
        build_model("mobilenetv2", "avg")
    with pytest.raises(ModelError, match="not found"):
        build_model("mobilenetv2", weights=str(tmp_path / "missing.h5"))


def test_occurrence_models_train_on_logits_so_a_saturated_output_still_learns():
    """Keras' BCE on probabilities clips at 1e-7: a sigmoid pushed to 0 gets no gradient again (an
    AU4_occluded flag stayed at 0 for a whole run). On the logits it does."""
    import numpy as np
    import tensorflow as tf
    from auedge.train.models import build_model, logit_model
    from auedge.train.trainer import masked_loss

    model = build_model("mobilenetv2", "flat", "occurrence", outputs=2, input_size=32)
    logits = logit_model(model)
    assert logits is not None and len(logits.weights) == len(model.weights)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    z = np.asarray(logits(x, training=False))
    assert np.allclose(np.asarray(model(x, training=False)), 1 / (1 + np.exp(-z)), atol=1e-6)
    assert logit_model(build_model("mobilenetv2", "flat", "intensity", outputs=1, input_size=32)) is None
    saturated = tf.constant([[-120.0, 0.0]])
    target = tf.constant([[1.0, np.nan]])
    for from_logits, pred in ((True, saturated), (False, tf.sigmoid(saturated))):
        with tf.GradientTape() as tape:
            tape.watch(saturated)
            value = masked_loss("occurrence", from_logits=from_logits)(target, tf.sigmoid(saturated) if not from_logits
                                                                      else saturated)
        grad = tape.gradient(value, saturated).numpy()
        assert (abs(grad[0, 0]) > 0.5) == from_logits



def test_an_output_limited_to_the_top_rows_cannot_see_below_them():
    """AU4 reading the top 5 of 20 feature rows (input rows up to about 55): anything drawn below
    row 56, a mask or a smile, leaves it exactly as it was, while the outputs on every row move."""
    import numpy as np

    model = build_model("mobilenetv2", "flat", "occurrence", outputs=4, output_rows={1: 5})
    dense = 20 * 20 * 144 * 3 + 5 * 20 * 144 + 4  # three full-map units, one on the top 5 rows, biases
    assert model.count_params() == 22_912 + dense
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 160, 160, 3)).astype("float32")
    lower = x.copy()
    lower[:, 56:] = rng.normal(size=lower[:, 56:].shape)
    diff = np.abs(np.asarray(model(x, training=False)) - np.asarray(model(lower, training=False))).max(axis=0)
    assert diff[1] == 0.0
    assert (diff[[0, 2, 3]] > 0).all()
    upper = x.copy()
    upper[:, :40] = rng.normal(size=upper[:, :40].shape)
    assert np.abs(np.asarray(model(x, training=False)) - np.asarray(model(upper, training=False)))[:, 1].max() > 0


def test_output_rows_out_of_range_are_refused():
    with pytest.raises(ModelError, match="output 4"):
        build_model("mobilenetv2", outputs=2, input_size=32, output_rows={4: 1})
    with pytest.raises(ModelError, match="1 to 4 feature rows"):
        build_model("mobilenetv2", outputs=2, input_size=32, output_rows={0: 9})
