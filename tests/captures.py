"""A tiny 'own captures' folder made from a real face photo, as the capture page would write it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fer_core.inference.detection import largest, make_detector
from fer_core.inference.preprocess import crop_with_margin


def face_crop(photo: np.ndarray) -> np.ndarray:
    """The largest face of ``photo`` with the usual margin (RGB uint8)."""
    boxes = make_detector().detect(photo)
    assert boxes, "no face found in the photo"
    return crop_with_margin(photo, boxes[largest(boxes)].as_tuple(), 0.15)


def write_captures(root: Path, photo: np.ndarray, classes: tuple[str, ...] = ("happy", "sad", "wink"),
                   per_class: int = 6, seed: int = 0) -> Path:
    """``root/<class>/*.jpg``: RGB face crops of varied sizes, flipped and re-lit differently per class."""
    rng = np.random.default_rng(seed)
    face = face_crop(photo).astype(np.float32)
    for c, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = face[:, ::-1] if i % 2 else face.copy()
            img = img * (0.55 + 0.25 * c + 0.1 * rng.random())  # each class its own brightness
            if c == 2:
                img[: img.shape[0] // 3] *= 0.5  # and a darker band on the third
            side = int(rng.integers(60, 200))
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).resize((side, side)).save(folder / f"c{i}.jpg")
    return root
