"""The report's truncated backbones with small heads.

MobileNetV2 is cut after ``block_3_depthwise_relu`` (160x160 input, 20x20x144 features) and gets
Flatten, Dropout 0.4 and one Dense unit: 80,513 parameters for one output. ResNet50 is cut after
``conv2_block2_1_relu`` (150x150 input, 38x38x64 features) and gets Flatten and Dense: 195,777
parameters. The "max" head puts a 2x2 max-pooling before the dense layer. Cutting this early is
what makes the models fit a phone: the expensive late blocks are never computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auedge.edge.preprocess import Normalization

ARCHS = ("mobilenetv2", "resnet50")
LOGITS_LAYER = "au_logits"
HEADS = ("flat", "max")
KINDS = ("occurrence", "intensity")


@dataclass(frozen=True)
class ArchSpec:
    application: str
    cut_layer: str
    input_size: int
    dropout: float


ARCH_SPECS = {
    "mobilenetv2": ArchSpec("MobileNetV2", "block_3_depthwise_relu", 160, 0.4),
    "resnet50": ArchSpec("ResNet50", "conv2_block2_1_relu", 150, 0.0),
}

# ResNet50's ImageNet weights expect Caffe preprocessing: BGR minus the ImageNet mean. The bundle
# stays RGB: the mean is given in RGB order and the first convolution's input channels are
# reversed once when the weights are loaded, which is exactly equivalent.
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)


class ModelError(ValueError):
    """A model that cannot be built as asked; the message says which flag to change."""


def normalization_for(arch: str, weights: str) -> Normalization:
    """The input normalisation a backbone was (or will be) trained with."""
    if arch == "resnet50" and weights == "imagenet":
        return Normalization(mean=CAFFE_MEAN_RGB, std=(1.0, 1.0, 1.0))
    return Normalization()


def default_input_size(arch: str) -> int:
    return _spec(arch).input_size


def _spec(arch: str) -> ArchSpec:
    if arch not in ARCH_SPECS:
        raise ModelError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    return ARCH_SPECS[arch]


def _load_backbone(arch: str, input_size: int, weights: str):
    import keras

    spec = _spec(arch)
    application = getattr(keras.applications, spec.application)
    shape = (input_size, input_size, 3)
    if weights == "none":
        return application(input_shape=shape, include_top=False, weights=None)
    if weights == "imagenet":
        try:
            return application(input_shape=shape, include_top=False, weights="imagenet")
        except Exception as exc:  # urllib errors, HTTP errors, DNS failures all mean the same here
            raise ModelError(
                f"could not fetch ImageNet weights for {arch} ({type(exc).__name__}); offline? "
                "pass --weights none to train from scratch, or --weights PATH to a weights file"
            ) from exc
    path = Path(weights)
    if not path.is_file():
        raise ModelError(f"weights file {path} not found; pass --weights none, imagenet or an existing file")
    try:
        return application(input_shape=shape, include_top=False, weights=str(path))
    except Exception as exc:
        raise ModelError(f"weights file {path} does not fit {arch} without top ({exc}); pass --weights none") from exc


def _reverse_first_conv_channels(backbone) -> None:
    conv = backbone.get_layer("conv1_conv")
    kernel, *rest = conv.get_weights()
    conv.set_weights([kernel[:, :, ::-1, :], *rest])


def build_model(
    arch: str = "mobilenetv2",
    head: str = "flat",
    kind: str = "occurrence",
    outputs: int = 1,
    input_size: int | None = None,
    weights: str = "none",
    bn_momentum: float | None = None,
    dropout: float | None = None,
    output_rows: dict[int, int] | None = None,
):
    """Build a truncated backbone plus head as an uncompiled Keras model.

    ``kind`` "occurrence" ends in a sigmoid per AU; "intensity" in a linear unit per AU whose
    target range is 0-5 (clipped at inference, not in the graph, so gradients never vanish).
    ``bn_momentum`` defaults to 0.9 when training from scratch: with Keras' 0.999 the moving
    statistics of a randomly initialised MobileNetV2 lag so far behind that inference collapses
    to a constant.

    ``output_rows`` ({output index: N}) makes an output read only the top N rows of the truncated
    backbone's feature map. The features of row r see input rows up to about 8r + 23 (MobileNetV2's
    receptive field at the cut is 27 px, stride 8), so an output limited to the rows above the
    mouth cannot be moved by anything drawn below them: a mask, a beard, a smile. That is how AU4 (a
    brow movement) is kept from learning "not smiling" from emotion-proxy labels.
    """
    import keras

    spec = _spec(arch)
    if head not in HEADS:
        raise ModelError(f"unknown head {head!r}; choose one of {', '.join(HEADS)}")
    if kind not in KINDS:
        raise ModelError(f"unknown task kind {kind!r}; choose one of {', '.join(KINDS)}")
    if outputs < 1:
        raise ModelError(f"a model needs at least one output, got {outputs}")
    size = input_size or spec.input_size
    if size < 32:
        raise ModelError(f"input size {size} is too small for {arch} (need >= 32)")

    backbone = _load_backbone(arch, size, weights)
    if arch == "resnet50" and weights == "imagenet":
        _reverse_first_conv_channels(backbone)
    momentum = bn_momentum if bn_momentum is not None else (0.9 if weights == "none" else None)
    if momentum is not None:
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = momentum

    features = backbone.get_layer(spec.cut_layer).output
    rate = spec.dropout if dropout is None else dropout
    rows = _check_output_rows(output_rows, outputs, features.shape[1])
    if rows:
        units = _row_limited_units(keras, features, head, rate, outputs, rows)
    else:
        units = _head_features(keras, features, head, rate, "")
    if kind == "occurrence":
        # The sigmoid is its own layer so that training can compute the loss on the logits
        # (trainer.logit_model): on probabilities Keras clips at 1e-7 and a saturated output gets no
        # gradient ever again (seen: an AU4_occluded flag stuck at 0 after the first steps).
        logits = units if rows else keras.layers.Dense(outputs, name=LOGITS_LAYER)(units)
        y = keras.layers.Activation("sigmoid", name="au_output")(logits)
    elif rows:
        y = keras.layers.Activation("linear", name="au_output")(units)
    else:
        y = keras.layers.Dense(outputs, activation=None, name="au_output")(units)
    return keras.Model(backbone.input, y, name=f"{arch}_{head}_{kind}")


def _head_features(keras, features, head: str, rate: float, suffix: str):
    """Pooling (``max`` head), Flatten and Dropout over a feature map: what a head's dense units read."""
    x = features
    if head == "max":
        x = keras.layers.MaxPooling2D(pool_size=2, name=f"head_maxpool{suffix}")(x)
    x = keras.layers.Flatten(name=f"head_flatten{suffix}")(x)
    if rate > 0:
        x = keras.layers.Dropout(rate, name=f"head_dropout{suffix}")(x)
    return x


def _check_output_rows(output_rows: dict[int, int] | None, outputs: int, feature_rows: int) -> dict[int, int]:
    """``output_rows`` checked: output indices in range, row counts from 1 to the feature map's height."""
    rows = dict(output_rows or {})
    for index, count in rows.items():
        if not 0 <= index < outputs:
            raise ModelError(f"output_rows names output {index}, but the model has {outputs} outputs")
        if not 1 <= count <= feature_rows:
            raise ModelError(f"output {index} may read 1 to {feature_rows} feature rows, got {count}")
    return {i: n for i, n in rows.items() if n < feature_rows}


def _row_limited_units(keras, features, head: str, rate: float, outputs: int, rows: dict[int, int]):
    """The logits when some outputs read only the top rows of the feature map (see :func:`build_model`).

    One dense unit per output, concatenated in output order as the layer named :data:`LOGITS_LAYER`;
    outputs that read every row share one Flatten/Dropout, each row count gets its own."""
    height = features.shape[1]
    inputs: dict[int, object] = {}
    for count in sorted(set(rows.values()) | ({height} if len(rows) < outputs else set())):
        part = features
        suffix = ""
        if count < height:
            part = keras.layers.Cropping2D(((0, height - count), (0, 0)), name=f"head_rows{count}")(features)
            suffix = f"_rows{count}"
        inputs[count] = _head_features(keras, part, head, rate, suffix)
    units = [keras.layers.Dense(1, name=f"au_unit{i}")(inputs[rows.get(i, height)]) for i in range(outputs)]
    return keras.layers.Concatenate(name=LOGITS_LAYER)(units)


def logit_model(model):
    """The same layers up to the occurrence logits (before the sigmoid), or None when ``model`` has
    none (intensity models, and occurrence models built before the sigmoid was a layer of its own)."""
    import keras

    try:
        layer = model.get_layer(LOGITS_LAYER)
    except ValueError:
        return None
    return keras.Model(model.input, layer.output, name=f"{model.name}_logits")
