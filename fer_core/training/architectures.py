"""Network builders: our compact CNN, MobileNetV2 and ResNet50 with a new head.

Follows the keras-io fine-tuning recipe: ``build_model`` puts a fresh head on a backbone,
``unfreeze_model`` opens its top layers for fine-tuning while batch norm stays frozen.
TensorFlow/Keras is imported inside functions so that importing this module is cheap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.inference.card import Normalization

log = logging.getLogger(__name__)

BACKBONES: tuple[str, ...] = ("fer_cnn", "mobilenet_v2", "resnet50")
PRETRAINABLE: tuple[str, ...] = ("mobilenet_v2", "resnet50")
MEMBER_PREFIX = "member_"  # an ensemble's member networks are named member_0, member_1, ...
TORCHVISION_MEAN = [0.485, 0.456, 0.406]
TORCHVISION_STD = [0.229, 0.224, 0.225]


@dataclass(frozen=True)
class BackboneSpec:
    """How a backbone wants its input: colour order and normalisation."""

    name: str
    color_mode: str
    normalization: Normalization
    default_size: int


def backbone_spec(name: str, weights: str = "none") -> BackboneSpec:
    """Input conventions of ``name`` when started from ``weights`` (imagenet, a file, or none)."""
    if name == "fer_cnn":
        return BackboneSpec(name, "grayscale", Normalization(1 / 255.0, [0.0], [1.0]), 48)
    if name == "mobilenet_v2":
        if weights == "imagenet":  # Keras' own checkpoint: inputs in [-1, 1]
            return BackboneSpec(name, "rgb", Normalization(1 / 127.5, [1.0], [1.0]), 96)
        # The shared weights file (and 'none') use torchvision's normalisation.
        return BackboneSpec(name, "rgb", Normalization(1 / 255.0, TORCHVISION_MEAN, TORCHVISION_STD), 96)
    if name == "resnet50":  # Keras' caffe convention: BGR, ImageNet means subtracted, no scaling
        return BackboneSpec(name, "bgr", Normalization(1.0, [103.939, 116.779, 123.68], [1.0, 1.0, 1.0]), 96)
    raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")


def _conv_block(x: Any, filters: int, layers: Any, name: str) -> Any:
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def build_fer_cnn(input_shape: tuple[int, int, int], width: int = 32, name: str = "backbone") -> Any:
    """A VGG-style stack for 48x48 gray faces: four stages of two 3x3 convs, widths w..8w."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for stage, mult in enumerate((1, 2, 4, 8), start=1):
        x = _conv_block(x, width * mult, layers, f"stage{stage}")
        x = layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
        x = layers.SpatialDropout2D(0.05 * stage, name=f"stage{stage}_drop")(x)
    return keras.Model(inputs, x, name=name)


def build_backbone(name: str, input_shape: tuple[int, int, int], weights: str = "none", width: int = 32) -> Any:
    """The feature extractor ``name`` (no head), with ``weights`` 'imagenet', a file path, or 'none'."""
    import keras

    if name == "fer_cnn":
        model = build_fer_cnn(input_shape, width=width)
        if weights not in ("none", "", None):
            model.load_weights(str(weights))
        return model
    app = {"mobilenet_v2": keras.applications.MobileNetV2, "resnet50": keras.applications.ResNet50}.get(name)
    if app is None:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    if weights in ("imagenet", "none", "", None):
        start = None if weights in ("none", "", None) else "imagenet"
        model = app(include_top=False, weights=start, input_shape=input_shape)
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"backbone weights {path} not found")
        model = app(include_top=False, weights=str(path), input_shape=input_shape)
    return keras.Model(model.input, model.output, name="backbone")  # single tensors: build_model reads .output.shape


def build_head(feature_shape: tuple[int, ...], n_classes: int, dropout: float, name: str = "head") -> Any:
    """Pooling, dropout and a softmax layer; float32 output even under mixed precision."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=feature_shape, name="features")
    x = inputs
    if len(feature_shape) == 3:
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    x = layers.Dropout(dropout, name="head_drop")(x)
    x = layers.Dense(256, use_bias=False, name="head_fc")(x)
    x = layers.BatchNormalization(name="head_bn")(x)
    x = layers.Activation("relu", name="head_relu")(x)
    x = layers.Dropout(dropout, name="head_drop2")(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def build_model(
    backbone: str,
    n_classes: int,
    input_size: tuple[int, int],
    weights: str = "none",
    dropout: float = 0.4,
    width: int = 32,
) -> Any:
    """Backbone plus a fresh head: the network the card describes (normalised input in, probabilities out)."""
    import keras

    spec = backbone_spec(backbone, weights)
    channels = 1 if spec.color_mode == "grayscale" else 3
    shape = (input_size[0], input_size[1], channels)
    base = build_backbone(backbone, shape, weights=weights, width=width)
    head = build_head(tuple(base.output.shape[1:]), n_classes, dropout)
    inputs = keras.Input(shape=shape, name="image")
    outputs = head(base(inputs))
    return keras.Model(inputs, outputs, name=f"fer_{backbone}")


def set_backbone_trainable(model: Any, trainable: bool) -> None:
    """Freeze or unfreeze the whole backbone (the head stays trainable)."""
    model.get_layer("backbone").trainable = trainable


def unfreeze_model(model: Any, n_layers: int) -> int:
    """Unfreeze the top ``n_layers`` of the backbone, keeping batch norm frozen; return how many opened."""
    from keras import layers

    base = model.get_layer("backbone")
    base.trainable = True
    inner = base.layers
    cut = max(0, len(inner) - n_layers) if n_layers >= 0 else 0
    opened = 0
    for i, layer in enumerate(inner):
        trainable = i >= cut and not isinstance(layer, layers.BatchNormalization)
        layer.trainable = trainable
        opened += int(trainable and bool(layer.weights))
    return opened


def normalization_layer(norm: Normalization, channels: int) -> Any:
    """A Keras layer doing ``(x * scale - mean) / std``, for the training graph only."""
    from keras import layers

    mean = np.resize(np.asarray(norm.mean, dtype="float32"), channels) / norm.scale
    std = np.resize(np.asarray(norm.std, dtype="float32"), channels) / norm.scale
    return layers.Normalization(axis=-1, mean=mean, variance=std**2, name="normalize")


def first_member(model: Any) -> Any:
    """The model itself, or an ensemble's first member: the network fine-tuning starts from."""
    names = [layer.name for layer in model.layers]
    if "backbone" in names:
        return model
    for layer in model.layers:
        if layer.name.startswith(MEMBER_PREFIX):
            return layer
    return model


def transfer_weights(src: Any, net: Any, src_classes: list[str], class_names: list[str]) -> int:
    """Copy ``src``'s backbone and head into ``net``, the output rows of the classes both know; return how many.

    ``ValueError`` when the backbones differ in shape. A head layer ``src`` lacks keeps its fresh weights.
    """
    try:
        net.get_layer("backbone").set_weights(src.get_layer("backbone").get_weights())
    except Exception as exc:  # noqa: BLE001 - Keras reports a shape mismatch in several types
        raise ValueError(f"its backbone does not match {net.name} ({exc})") from None
    src_head, dst_head = src.get_layer("head"), net.get_layer("head")
    for layer in dst_head.layers:
        if not layer.weights or layer.name == "probabilities":
            continue
        try:
            layer.set_weights(src_head.get_layer(layer.name).get_weights())
        except Exception:  # noqa: BLE001 - a head layer the source lacks keeps its fresh weights
            pass
    kernel, bias = src_head.get_layer("probabilities").get_weights()
    new_kernel, new_bias = dst_head.get_layer("probabilities").get_weights()
    shared = 0
    for j, name in enumerate(class_names):
        if name in src_classes:
            i = src_classes.index(name)
            new_kernel[:, j], new_bias[j] = kernel[:, i], bias[i]
            shared += 1
    dst_head.get_layer("probabilities").set_weights([new_kernel, new_bias])
    return shared
