"""The model card (``model_folder.CARD_FILE``): everything needed to feed and describe a model.

Why: the classifier must never assume an input size, colour mode or normalisation;
a model directory carries them, so any model trained here or elsewhere plugs in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.errors import ModelError
from fer_core.model_folder import CARD_FILE, MODEL_FILE, read_card_data, write_card

COLOR_MODES = ("grayscale", "rgb", "bgr")
TTA_CHOICES = ("hflip", "zoom:F")  # zoom:F views the input scaled by F about its centre, 0.5 <= F <= 2
# Share of the box width added on each side when a detector gives no framing of its own: the
# training faces show the whole head, not only the features a detector boxes.
FACE_MARGIN = 0.15


def _valid_tta(entry: str) -> bool:
    if entry == "hflip":
        return True
    kind, _, value = entry.partition(":")
    try:
        return kind == "zoom" and 0.5 <= float(value) <= 2.0
    except ValueError:
        return False


def tta_zooms(tta: list[str]) -> list[float]:
    """The zoom factors a card's ``tta`` list asks for, in order."""
    return [float(t.partition(":")[2]) for t in tta if t.startswith("zoom:")]


def view_count(tta: list[str]) -> int:
    """Model runs per face a ``tta`` list costs: the face and each zoom, each mirrored with ``hflip``."""
    return (1 + len(tta_zooms(tta))) * (2 if "hflip" in tta else 1)


@dataclass
class Normalization:
    """``x = (pixel * scale - mean) / std`` per channel."""

    scale: float = 1.0 / 255.0
    mean: list[float] = field(default_factory=lambda: [0.0])
    std: list[float] = field(default_factory=lambda: [1.0])

    def apply(self, batch: np.ndarray) -> np.ndarray:
        """Normalise a float or uint8 batch ``(N, H, W, C)`` to float32."""
        x = batch.astype(np.float32) * np.float32(self.scale)
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        return (x - mean) / std


@dataclass
class ModelCard:
    """What a model folder's ``model.json`` holds: every choice the classifier needs to feed the network
    as in training."""

    name: str
    class_names: list[str]
    input_size: tuple[int, int]  # (height, width)
    color_mode: str = "grayscale"
    normalization: Normalization = field(default_factory=Normalization)
    backbone: str = "fer_cnn"
    weights: str = "none"
    trained_on: str = ""
    face_margin: float = FACE_MARGIN
    tta: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    created: str = ""
    model_file: str = MODEL_FILE
    format_version: int = 1

    @property
    def channels(self) -> int:
        return 1 if self.color_mode == "grayscale" else 3

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_size"] = list(self.input_size)
        return data

    def save(self, directory: str | Path) -> Path:
        return write_card(directory, self)

    @classmethod
    def from_json(cls, data: Any, source: str = CARD_FILE) -> ModelCard:
        """Validate and build a card; raise ``ModelError`` naming the bad field."""
        if not isinstance(data, dict):
            raise ModelError(f"{source}: the card must be a JSON object")

        def need(key: str, kind: type | tuple[type, ...]) -> Any:
            if key not in data:
                raise ModelError(f"{source}: missing field {key!r}")
            value = data[key]
            if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
                raise ModelError(f"{source}: field {key!r} has the wrong type")
            return value

        class_names = need("class_names", list)
        if not class_names or not all(isinstance(c, str) and c.strip() for c in class_names):
            raise ModelError(f"{source}: class_names must be a non-empty list of names")
        if len(set(class_names)) != len(class_names):
            raise ModelError(f"{source}: class_names has duplicates")
        size = need("input_size", list)
        if len(size) != 2 or not all(isinstance(s, int) and 8 <= s <= 1024 for s in size):
            raise ModelError(f"{source}: input_size must be [height, width] between 8 and 1024")
        color = data.get("color_mode", "grayscale")
        if color not in COLOR_MODES:
            raise ModelError(f"{source}: color_mode must be one of {COLOR_MODES}")
        norm_raw = data.get("normalization", {}) or {}
        if not isinstance(norm_raw, dict):
            raise ModelError(f"{source}: normalization must be an object")
        for key in ("mean", "std"):
            if key in norm_raw and not isinstance(norm_raw[key], list):
                raise ModelError(f"{source}: normalization.{key} must be a list of numbers")
        try:
            norm = Normalization(
                scale=float(norm_raw.get("scale", 1.0 / 255.0)),
                mean=[float(v) for v in norm_raw.get("mean", [0.0])],
                std=[float(v) for v in norm_raw.get("std", [1.0])],
            )
        except (TypeError, ValueError):
            raise ModelError(f"{source}: normalization values must be numbers") from None
        channels = 1 if color == "grayscale" else 3
        for key in ("mean", "std"):
            values = getattr(norm, key)
            if len(values) not in (1, channels) or not all(np.isfinite(values)):
                raise ModelError(f"{source}: normalization.{key} must have 1 or {channels} finite numbers")
        if any(v == 0 for v in norm.std) or not np.isfinite(norm.scale):
            raise ModelError(f"{source}: normalization.std must not be zero")
        model_file = data.get("model_file", MODEL_FILE)
        if not isinstance(model_file, str) or Path(model_file).name != model_file or not model_file.endswith(
            (".keras",)
        ):
            raise ModelError(f"{source}: model_file must be a plain .keras file name inside the model folder")
        tta = data.get("tta", []) or []
        if not isinstance(tta, list) or not all(isinstance(t, str) and _valid_tta(t) for t in tta) or len(tta) > 8:
            raise ModelError(f"{source}: tta may only list {TTA_CHOICES} (at most 8 entries)")
        margin = data.get("face_margin", FACE_MARGIN)
        if not isinstance(margin, (int, float)) or not 0 <= margin <= 1:
            raise ModelError(f"{source}: face_margin must be between 0 and 1")
        return cls(
            name=str(data.get("name", "")),
            class_names=[str(c) for c in class_names],
            input_size=(int(size[0]), int(size[1])),
            color_mode=color,
            normalization=norm,
            backbone=str(data.get("backbone", "unknown")),
            weights=str(data.get("weights", "unknown")),
            trained_on=str(data.get("trained_on", "")),
            face_margin=float(margin),
            tta=list(tta),
            metrics=data.get("metrics", {}) if isinstance(data.get("metrics", {}), dict) else {},
            training=data.get("training", {}) if isinstance(data.get("training", {}), dict) else {},
            notes=str(data.get("notes", "")),
            created=str(data.get("created", "")),
            model_file=model_file,
            format_version=_int_field(data, "format_version", 1, source),
        )


def _int_field(data: dict[str, Any], key: str, default: int, source: str) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ModelError(f"{source}: field {key!r} must be a whole number")
    return value


def load_card(directory: str | Path) -> ModelCard:
    """Read and validate the card in ``directory``; raise ``ModelError`` with the reason."""
    d = Path(directory)
    path, data = read_card_data(d)
    card = ModelCard.from_json(data, source=str(path))
    if not card.name:
        card.name = d.name
    return card
