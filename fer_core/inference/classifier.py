"""Expression classifier: a Keras model plus its card, fed exactly as the card says.

Why: every input choice (size, colour order, normalisation, flip averaging) comes from
``model.json``, so any model directory works without code changes. Loading is strict
(``safe_mode=True``, card and model checked against each other) because a model folder
may come from elsewhere.
"""

from __future__ import annotations

import logging
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.errors import ModelError
from fer_core.inference.card import ModelCard, load_card, tta_zooms
from fer_core.inference.preprocess import convert_face, zoom_batch
from fer_core.model_folder import stamp
from fer_core.paths import is_within

log = logging.getLogger(__name__)

MAX_MODEL_BYTES = 200 * 1024 * 1024
MAX_UNPACKED_BYTES = 4 * MAX_MODEL_BYTES  # a zip bomb inside a .keras file
_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


def load_keras_model(directory: Path, card: ModelCard) -> Any:
    """Load ``<directory>/<card.model_file>`` with Keras safe mode; ``ModelError`` on any problem."""
    path = Path(directory) / card.model_file
    if not path.is_file():
        raise ModelError(f"{directory}: model file {card.model_file} is missing")
    if not is_within(directory, path):
        raise ModelError(f"{path}: is a link that leads outside the model folder; refused")
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise ModelError(f"{path}: larger than {MAX_MODEL_BYTES // 2**20} MB; refused")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: not a Keras .keras archive")
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable .keras archive ({exc})") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise ModelError(f"{path}: unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB; refused")
    import keras

    try:
        model = keras.models.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad archive
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: the model could not be loaded safely ({first[:200]})") from None
    in_shape = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else ()
    want = (card.input_size[0], card.input_size[1], card.channels)
    if in_shape and tuple(in_shape) != want:
        raise ModelError(f"{directory}: the model takes {in_shape} but the card says {want}")
    out_dim = model.output_shape[-1]
    if out_dim != len(card.class_names):
        raise ModelError(f"{directory}: the model has {out_dim} outputs but the card names "
                         f"{len(card.class_names)} classes")
    return model


class Classifier:
    """A loaded model directory. Thread-safe: one instance serves every session."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.card = load_card(self.directory)
        self.model = load_keras_model(self.directory, self.card)
        self._lock = threading.Lock()
        self._fn: Any = None
        self.class_names: list[str] = list(self.card.class_names)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.card.input_size

    def prepare(self, crops: list[np.ndarray]) -> np.ndarray:
        """Face crops (RGB or gray uint8, any size) to the normalised batch the model takes."""
        batch = np.stack([convert_face(c, self.card.input_size, self.card.color_mode) for c in crops])
        return self.card.normalization.apply(batch)

    def _compiled(self) -> Any:
        if self._fn is None:
            with self._lock:
                if self._fn is None:
                    self._fn = self._graph_function()
        return self._fn

    def _graph_function(self) -> Any:
        """The model as a traced TensorFlow function; on another Keras backend (PyTorch on a lent GPU
        machine, which has no TensorFlow), the model called eagerly and its output brought to numpy."""
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            return tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)
        return lambda x: keras.ops.convert_to_numpy(self.model(x, training=False))

    def predict_batch(self, x: np.ndarray, tta: list[str] | None = None) -> np.ndarray:
        """Probabilities for an already prepared batch, averaged over the card's test-time views.

        ``tta`` overrides the card's list (the trainer uses it to choose one on validation data).
        """
        n = len(x)
        if n == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        tta = self.card.tta if tta is None else tta
        views = [x] + [zoom_batch(x, f) for f in tta_zooms(tta)]
        if "hflip" in tta:
            views += [v[:, :, ::-1, :] for v in views]
        xx = np.concatenate(views) if len(views) > 1 else x
        biggest = _BUCKETS[-1]
        out = np.concatenate([self._run(xx[i:i + biggest]) for i in range(0, len(xx), biggest)])
        return out.reshape(len(views), n, -1).mean(axis=0).astype(np.float32)

    def _run(self, x: np.ndarray) -> np.ndarray:
        if len(x) not in _BUCKETS:
            bucket = next(b for b in _BUCKETS if b >= len(x))
            padded = np.zeros((bucket,) + x.shape[1:], np.float32)
            padded[: len(x)] = x
            return self._run(padded)[: len(x)]
        return np.asarray(self._compiled()(np.ascontiguousarray(x, dtype=np.float32)))

    def predict(self, crops: list[np.ndarray], tta: list[str] | None = None) -> np.ndarray:
        """Probabilities ``(N, classes)`` for face crops (``tta=[]``: one view, when the server is busy)."""
        if not crops:
            return np.zeros((0, len(self.class_names)), np.float32)
        return self.predict_batch(self.prepare(crops), tta=tta)

    def warm_up(self) -> None:
        """Trace the graph once so the first real frame is not slow."""
        h, w = self.card.input_size
        self.predict([np.zeros((h, w, 3), np.uint8)])


_cache: dict[Path, Classifier] = {}
_cache_lock = threading.Lock()


def get_classifier(directory: str | Path) -> Classifier:
    """A process-wide cached ``Classifier`` per model directory (reloaded if the file changed)."""
    key = Path(directory).resolve()
    with _cache_lock:
        clf = _cache.get(key)
        if clf is not None and stamp(key, clf.card.model_file) == getattr(clf, "_stamp", None):
            return clf
        clf = Classifier(key)
        clf._stamp = stamp(key, clf.card.model_file)  # type: ignore[attr-defined]
        _cache[key] = clf
        return clf


def forget_classifier(directory: str | Path) -> None:
    """Drop a cached model (after a model directory was deleted or replaced)."""
    with _cache_lock:
        _cache.pop(Path(directory).resolve(), None)
