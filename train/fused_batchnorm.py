"""Train with TensorFlow's fused BatchNorm kernel, save the plain Keras model.

Keras 3 normalises a batch with separate moments, subtract and scale ops, each a full pass over
activations that are tens of MB at 80x80x96; TensorFlow's ``FusedBatchNormV3`` does the forward
and the backward pass in one kernel each. On this project's 2-core CPU that takes a MobileNetV2
training step (batch 64, 160 px) from 2.27 s to 1.81 s. The arithmetic is the same batch
normalisation: same batch statistics, and moving statistics updated with ``1 - momentum``.

The fused layers live only in a *training twin* of the model. Its weights are copied back to the
plain model, which is the one that is checkpointed and exported, so no custom layer ever reaches
a ``.keras`` file, the exporter or a device.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def fused_batchnorm_class() -> type:
    """The fused layer class (built on first use so importing this module needs no Keras)."""
    import keras
    import tensorflow as tf

    class FusedBatchNormalization(keras.layers.BatchNormalization):
        """BatchNormalization over the last axis of NHWC input, fused when training."""

        def call(self, inputs, training=None, mask=None):
            if not training or len(inputs.shape) != 4 or inputs.dtype != tf.float32:
                return super().call(inputs, training=training, mask=mask)
            channels = inputs.shape[-1]
            scale = self.gamma if self.scale else tf.ones([channels], tf.float32)
            offset = self.beta if self.center else tf.zeros([channels], tf.float32)
            y, moving_mean, moving_variance, *_ = tf.raw_ops.FusedBatchNormV3(
                x=inputs, scale=scale, offset=offset, mean=self.moving_mean, variance=self.moving_variance,
                epsilon=self.epsilon, exponential_avg_factor=1.0 - self.momentum, data_format="NHWC",
                is_training=True,
            )
            self.moving_mean.assign(moving_mean)
            self.moving_variance.assign(moving_variance)
            return y

    return FusedBatchNormalization


def _fusable(layer: Any) -> bool:
    import keras

    if type(layer) is not keras.layers.BatchNormalization:
        return False
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    rank = len(layer.input.shape) if hasattr(layer, "input") else 0
    return rank == 4 and list(axis) in ([3], [-1])


def training_twin(model: Any) -> tuple[Any, int]:
    """A copy of ``model`` (same weights, same order) whose 4-D BatchNorm layers are fused.

    Returns the twin and how many layers were swapped. With the TensorFlow backend only; with none
    to swap (or another backend) the model itself comes back, so callers need no special case.
    """
    import keras

    if keras.backend.backend() != "tensorflow" or not any(_fusable(layer) for layer in model.layers):
        return model, 0
    fused_cls = fused_batchnorm_class()
    swapped = 0

    def clone(layer):
        nonlocal swapped
        if _fusable(layer):
            swapped += 1
            return fused_cls.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    twin = keras.models.clone_model(model, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin, swapped
