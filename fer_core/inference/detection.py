"""Face detection behind one interface: OpenCV's Haar cascade and YuNet.

Both detect on a downscaled copy of large frames and map boxes back, so a 640x480
frame costs what a 320x240 one does. YuNet is used when its ONNX file is configured;
otherwise Haar, and the reason is logged once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from fer_core.settings import Settings, get_settings

log = logging.getLogger(__name__)
_warned: set[str] = set()

# The detectors' tuning, fixed here: bench/detectors.py weighs what other values cost.
HAAR_DEFAULTS: dict[str, float] = {"scale_factor": 1.1, "min_neighbors": 5, "min_size": 30}  # fer's own values
DETECT_MAX_SIDE = 320  # frames are detected on a copy no larger than this: a 640x480 frame costs a 320x240 one
YUNET_SCORE = 0.7  # YuNet's confidence threshold
# YuNet faces whose eyes lean more than this many degrees are turned back to it before the crop.
# FER2013's own faces lean too (median about 4 degrees, up to about 12), and the networks learned
# them so: only the tilt beyond what the training faces show is undone (docs/models.md).
LEVEL_EYES_BEYOND = 8.0


@dataclass(frozen=True)
class Box:
    """A face box in full-frame pixels, with the detector's confidence (1.0 for Haar).

    ``eyes``: the centres of the person's right and left eye (x, y, x, y in full-frame pixels)
    where the detector finds landmarks (YuNet), else ``None``.
    """

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0
    eyes: tuple[float, float, float, float] | None = None

    @property
    def area(self) -> int:
        return self.w * self.h

    @property
    def roll(self) -> float | None:
        """Degrees the line through the eyes is turned from level (clockwise on screen is positive)."""
        if self.eyes is None:
            return None
        rx, ry, lx, ly = self.eyes
        return float(np.degrees(np.arctan2(ly - ry, lx - rx)))

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


class FaceDetector(Protocol):
    """Anything that finds face boxes in an RGB uint8 frame.

    A detector may carry ``framing`` (left, top, right, bottom margins in box sizes): the square
    crop around its boxes that matches the training faces' framing; without it the pipeline
    crops the box with the model card's uniform ``face_margin``. One that finds eyes may carry
    ``level_beyond`` (degrees, or ``None``): head tilt past it is turned back before the crop
    (``preprocess.crop_face``).
    """

    name: str

    def detect(self, image: np.ndarray) -> list[Box]: ...


def _downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    side = max(h, w)
    if max_side <= 0 or side <= max_side:
        return image, 1.0
    scale = max_side / side
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return small, scale


def _clip(box: Box, width: int, height: int) -> Box | None:
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(width, box.x + box.w), min(height, box.y + box.h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return Box(x0, y0, x1 - x0, y1 - y0, box.score, box.eyes)


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, as in the original project."""

    name = "haar"

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 30,
                 max_side: int = DETECT_MAX_SIDE, cascade: str = "haarcascade_frontalface_default.xml") -> None:
        if scale_factor <= 1.0:
            raise ValueError("scale_factor must be greater than 1.0")
        path = Path(cv2.data.haarcascades) / cascade  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"Haar cascade {path} could not be loaded (opencv-python-headless < 5 ships it)")
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size = int(min_size)
        self.max_side = int(max_side)
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> list[Box]:
        gray = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)
        small, scale = _downscale(gray, self.max_side)
        min_side = max(8, int(round(self.min_size * scale)))
        with self._lock:  # CascadeClassifier is not documented as thread-safe
            found = self._cascade.detectMultiScale(
                small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(min_side, min_side)
            )
        H, W = gray.shape[:2]
        boxes = []
        for x, y, w, h in (found if len(found) else []):
            b = _clip(Box(int(x / scale), int(y / scale), int(round(w / scale)), int(round(h / scale))), W, H)
            if b is not None:
                boxes.append(b)
        return boxes


# YuNet's eye landmarks follow a tilted head only on faces this wide (pixels of the copy it detects
# on); on smaller faces they stay near level whatever the tilt, so those get no eyes and no
# levelling (docs/models.md, "The crop the model sees").
EYES_MIN_PX = 140


class YuNetDetector:
    """OpenCV's YuNet CNN detector (``cv2.FaceDetectorYN``): finds turned, dark and small faces Haar misses."""

    name = "yunet"
    # FER2013's framing around a YuNet box (left, top, right, bottom, in box widths): the training
    # faces reach 15% of the box width beyond each side and match the box top and bottom, while
    # YuNet's box is taller than wide and FER2013's frames are square. Cutting that square, rather
    # than a uniform margin squeezed to a square, shows the model faces framed as it learned them
    # (docs/models.md, "The crop the model sees").
    framing: tuple[float, float, float, float] = (0.15, 0.0, 0.15, 0.0)

    def __init__(self, model_path: str | Path, score_threshold: float = YUNET_SCORE, max_side: int = DETECT_MAX_SIDE,
                 nms_threshold: float = 0.3, level_beyond: float | None = LEVEL_EYES_BEYOND) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"YuNet model {path} not found")
        self._model_path = str(path)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.max_side = int(max_side)
        # Head tilt past this many degrees is turned back before the crop (None: never); see LEVEL_EYES_BEYOND.
        self.level_beyond = None if level_beyond is None else float(level_beyond)
        self._local = threading.local()  # one cv2 detector per thread: it keeps per-call state
        self._new_detector()

    def _new_detector(self) -> cv2.FaceDetectorYN:
        det = cv2.FaceDetectorYN.create(self._model_path, "", (320, 320), self.score_threshold, self.nms_threshold,
                                        5000)
        self._local.detector = det
        self._local.size = (320, 320)
        return det

    def detect(self, image: np.ndarray) -> list[Box]:
        rgb = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        small, scale = _downscale(np.ascontiguousarray(rgb[:, :, :3]), self.max_side)
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        det = getattr(self._local, "detector", None) or self._new_detector()
        size = (bgr.shape[1], bgr.shape[0])
        if self._local.size != size:
            det.setInputSize(size)
            self._local.size = size
        _, faces = det.detect(bgr)
        H, W = rgb.shape[:2]
        boxes = []
        for row in faces if faces is not None else []:
            if not (np.isfinite(row[:4]).all() and np.isfinite(row[-1])) or row[2] <= 0 or row[3] <= 0:
                continue  # YuNet returns inf/NaN boxes on tiny or flat images
            x, y, w, h = (float(v) / scale for v in row[:4])
            eyes = _eyes(row, scale)
            b = _clip(Box(int(round(x)), int(round(y)), int(round(w)), int(round(h)), float(row[-1]), eyes), W, H)
            if b is not None:
                boxes.append(b)
        return boxes


def _eyes(row: np.ndarray, scale: float) -> tuple[float, float, float, float] | None:
    """YuNet's two eye landmarks in full-frame pixels, or None where they are too coarse to read a tilt from.

    Below ``EYES_MIN_PX`` in the detection copy the landmarks barely follow head roll (see ``EYES_MIN_PX``).
    """
    if row[2] < EYES_MIN_PX or not np.isfinite(row[4:8]).all():
        return None
    rx, ry, lx, ly = (float(v) / scale for v in row[4:8])
    return rx, ry, lx, ly


def yunet_available(settings: Settings | None = None) -> bool:
    """Whether the YuNet ONNX file is configured and present."""
    s = settings or get_settings()
    return bool(s.yunet_path) and Path(s.yunet_path).is_file()  # type: ignore[arg-type]


def make_detector(kind: str | None = None, settings: Settings | None = None, **overrides: float) -> FaceDetector:
    """Build a detector: ``auto`` (the default) prefers YuNet and falls back to Haar (logged once).

    ``overrides``: ``max_side``, YuNet's ``score_threshold``, or the Haar keys of ``HAAR_DEFAULTS``.
    """
    s = settings or get_settings()
    kind = (kind or "auto").lower()
    max_side = int(overrides.get("max_side", DETECT_MAX_SIDE))
    if kind in ("auto", "yunet"):
        if yunet_available(s):
            return YuNetDetector(s.yunet_path, score_threshold=float(overrides.get("score_threshold",  # type: ignore[arg-type]
                                 YUNET_SCORE)), max_side=max_side)
        reason = (f"YuNet model not found at {s.yunet_path}" if s.yunet_path else "no YuNet model configured "
                  "(FER_YUNET_PATH)")
        if reason not in _warned:
            _warned.add(reason)
            log.warning("%s; using the Haar cascade instead", reason)
        if kind == "yunet":
            log.info("requested YuNet is unavailable; Haar used")
    elif kind != "haar":
        raise ValueError(f"unknown detector {kind!r}: use auto, yunet or haar")
    haar = {**HAAR_DEFAULTS, **{k: v for k, v in overrides.items() if k in HAAR_DEFAULTS}}
    return HaarDetector(scale_factor=float(haar["scale_factor"]), min_neighbors=int(haar["min_neighbors"]),
                        min_size=int(haar["min_size"]), max_side=max_side)


def largest(boxes: list[Box]) -> int | None:
    """Index of the largest box (ties: the first), or ``None`` for no boxes."""
    if not boxes:
        return None
    return max(range(len(boxes)), key=lambda i: (boxes[i].area, -i))
