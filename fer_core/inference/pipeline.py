"""The one pipeline: detect faces, mark the largest, classify crops. Used by every page and CLI.

Composed of small parts (a detector, a cropper, a classifier), so a page or benchmark can
swap any of them. Which folder a model name means is ``fer_core.model_folder``'s answer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.data.imageio import ensure_rgb
from fer_core.inference.calibration import CalibratedClassifier, Calibration
from fer_core.inference.card import FACE_MARGIN
from fer_core.inference.classifier import get_classifier
from fer_core.inference.detection import Box, FaceDetector, largest, make_detector
from fer_core.inference.preprocess import crop_face
from fer_core.model_folder import resolve_model_dir

log = logging.getLogger(__name__)


@dataclass
class Face:
    """One detected face and, when classified, its expression."""

    box: Box
    is_largest: bool
    probabilities: dict[str, float] = field(default_factory=dict)
    label: str | None = None
    score: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "box": list(self.box.as_tuple()),
            "detector_score": round(self.box.score, 4),
            "is_largest": self.is_largest,
            "label": self.label,
            "score": None if self.score is None else round(self.score, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
        }


def label_probs(class_names: list[str], probs: np.ndarray) -> tuple[str, float, dict[str, float]]:
    """Top label, its probability and the whole distribution as a dict."""
    idx = int(np.argmax(probs))
    return class_names[idx], float(probs[idx]), {c: float(p) for c, p in zip(class_names, probs)}


class Pipeline:
    """Detector + classifier. ``analyze`` is safe to call from several threads at once.

    With a ``calibration`` (one person's, see ``calibration.py``) every probability the pipeline
    gives, and every ``pipeline.classifier.predict`` a caller makes, is calibrated; ``CalibrationError``
    when it was fit for another model.
    """

    def __init__(self, classifier: Any, detector: FaceDetector | None = None, margin: float | None = None,
                 calibration: Calibration | None = None) -> None:
        self.plain_classifier = classifier  # the shared model, uncalibrated
        self.classifier = classifier if calibration is None else CalibratedClassifier(classifier, calibration)
        self.calibration = calibration
        self.detector = detector or make_detector()
        self.margin = margin if margin is not None else float(getattr(classifier.card, "face_margin", FACE_MARGIN))

    def with_calibration(self, calibration: Calibration | None) -> Pipeline:
        """This pipeline's detector and model seen through ``calibration`` (``None``: uncalibrated).

        Cheap: nothing is loaded; the shared pipeline itself is left as it is, so one person's
        calibration never reaches another's faces.
        """
        return Pipeline(self.plain_classifier, self.detector, self.margin, calibration)

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces without classification, the largest marked."""
        boxes = self.detector.detect(image)
        big = largest(boxes)
        faces = [Face(box=b, is_largest=(i == big)) for i, b in enumerate(boxes)]
        faces.sort(key=lambda f: (not f.is_largest, -f.box.area))
        return faces

    def crop(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The face as the model should see it (see ``preprocess.crop_face``)."""
        return crop_face(image, face.box, self.detector, self.margin)

    def classify(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """Fill label, score and probabilities of ``faces`` in one batched model call."""
        if not faces:
            return faces
        probs = self.classifier.predict([self.crop(image, f) for f in faces])
        for face, p in zip(faces, probs):
            face.label, face.score, face.probabilities = label_probs(self.classifier.class_names, p)
        return faces

    def whole(self, image: np.ndarray) -> Face:
        """The whole image as one classified face: for photos that are already face crops.

        Why: a detector often finds nothing in a tight crop (no forehead, chin or background
        around the face; YuNet misses about one in eleven of the film crops in ``../shared``),
        and a crop of a face is what the model takes. The image is used as given, as
        ``evaluate`` scores a folder of crops without ``--detect``.
        """
        h, w = image.shape[:2]
        face = Face(box=Box(0, 0, int(w), int(h), 1.0), is_largest=True)
        probs = self.classifier.predict([image])[0]  # as given: no margin, no detector framing
        face.label, face.score, face.probabilities = label_probs(self.classifier.class_names, probs)
        return face

    def analyze(self, image: np.ndarray, classify: str = "all") -> list[Face]:
        """Detect and classify. ``classify``: ``all`` faces, only the ``largest``, ``none``, or ``whole``
        (no detection: the image is one face, see ``whole``)."""
        rgb = ensure_rgb(image)
        if classify == "whole":
            return [self.whole(rgb)]
        faces = self.detect(rgb)
        if classify == "all":
            self.classify(rgb, faces)
        elif classify == "largest":
            self.classify(rgb, [f for f in faces if f.is_largest])
        elif classify != "none":
            raise ValueError("classify must be all, largest, none or whole")
        return faces


_default: dict[tuple[str, str], Pipeline] = {}
_default_lock = threading.Lock()


def get_pipeline(model: str | Path | None = None, detector: str | None = None,
                 calibration: Calibration | None = None) -> Pipeline:
    """A cached pipeline for a model directory and detector kind, shared by all callers; with a
    ``calibration``, that pipeline seen through it (``Pipeline.with_calibration``)."""
    if calibration is not None:
        return get_pipeline(model, detector).with_calibration(calibration)

    model_dir = resolve_model_dir(model)
    key = (str(model_dir.resolve()), detector or "auto")
    clf = get_classifier(model_dir)
    with _default_lock:
        pipe = _default.get(key)
        if pipe is None or pipe.classifier is not clf:
            pipe = Pipeline(clf, make_detector(detector))
            _default[key] = pipe
        return pipe


def analyze(image: np.ndarray, model: str | Path | None = None, detector: str | None = None,
            classify: str = "all") -> list[Face]:
    """Detect every face in an RGB (or gray) image and classify them with ``model``."""
    return get_pipeline(model, detector).analyze(image, classify=classify)
