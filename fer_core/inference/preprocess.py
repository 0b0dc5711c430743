"""Face crops: margin around a box, then the model's size and colour order; datasets cut to their faces."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from fer_core.data.datasets import Dataset
from fer_core.data.imageio import ensure_rgb
from fer_core.errors import ImageError
from fer_core.inference.card import FACE_MARGIN
from fer_core.inference.detection import Box, largest, make_detector


def crop_with_margin(image: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    """Cut ``box`` (x, y, w, h) grown by ``margin`` of its size on each side, clipped to the image."""
    x, y, w, h = box
    mx, my = int(round(w * margin)), int(round(h * margin))
    H, W = image.shape[:2]
    x0, y0 = max(0, x - mx), max(0, y - my)
    x1, y1 = min(W, x + w + mx), min(H, y + h + my)
    if x1 <= x0 or y1 <= y0:
        return image[0:1, 0:1]
    return image[y0:y1, x0:x1]


def framed_square(image: np.ndarray, box: tuple[int, int, int, int],
                  framing: tuple[float, float, float, float]) -> np.ndarray:
    """A square crop around ``box`` grown by ``framing`` (left, top, right, bottom, in box sizes).

    Why square and padded: the model sees square faces; a tall detector box squeezed to a square,
    or a crop clipped at the frame's edge and stretched, shows it faces it never saw in training.
    Parts outside the image repeat its edge pixels.
    """
    cx, cy, fside = _square(box, framing)
    side = int(fside)
    sx, sy = int(round(cx - side / 2)), int(round(cy - side / 2))
    H, W = image.shape[:2]
    x0c, y0c, x1c, y1c = max(0, sx), max(0, sy), min(W, sx + side), min(H, sy + side)
    if x1c <= x0c or y1c <= y0c:
        return image[0:1, 0:1]
    crop = image[y0c:y1c, x0c:x1c]
    pads = (y0c - sy, sy + side - y1c, x0c - sx, sx + side - x1c)  # top, bottom, left, right
    if any(pads):  # pad only the crop, never the whole frame (this runs on every live frame)
        crop = cv2.copyMakeBorder(np.ascontiguousarray(crop), *pads, cv2.BORDER_REPLICATE)
    return crop


def _square(box: tuple[int, int, int, int], framing: tuple[float, float, float, float]) -> tuple[float, float, float]:
    """Centre x, centre y and side of ``framed_square``'s square."""
    x, y, w, h = box
    left, top, right, bottom = framing
    x0, x1 = x - left * w, x + w + right * w
    y0, y1 = y - top * h, y + h + bottom * h
    return (x0 + x1) / 2, (y0 + y1) / 2, max(1.0, round(max(x1 - x0, y1 - y0)))


def levelled_square(image: np.ndarray, box: tuple[int, int, int, int],
                    framing: tuple[float, float, float, float], turn: float) -> np.ndarray:
    """``framed_square``'s square with the frame turned ``turn`` degrees (counter-clockwise on screen)
    about its centre first; one warp of the square only, never of the whole frame."""
    cx, cy, side = _square(box, framing)
    m = cv2.getRotationMatrix2D((cx, cy), float(turn), 1.0)
    m[0, 2] += side / 2 - cx
    m[1, 2] += side / 2 - cy
    n = int(side)
    return cv2.warpAffine(np.ascontiguousarray(image), m, (n, n), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def tilt_to_undo(roll: float | None, beyond: float | None) -> float:
    """Degrees to turn a face whose eyes lean ``roll`` so that at most ``beyond`` is left (0: as is).

    Why not level every face: the training faces lean a little themselves (FER2013: median 4
    degrees, a tenth past 12), and a model learns from that; only a tilt past it is foreign.
    """
    if roll is None or beyond is None or abs(roll) <= beyond:
        return 0.0
    return float(np.sign(roll) * (abs(roll) - beyond))


def crop_face(image: np.ndarray, box: Box, detector: object, margin: float) -> np.ndarray:
    """The face the model sees: the detector's framing when it has one, else ``box`` plus ``margin``.

    With framing, a head tilted past the detector's ``level_beyond`` is turned back by the excess
    (``tilt_to_undo``), from the eyes the detector found.
    """
    framing = getattr(detector, "framing", None)
    if framing is None:
        return crop_with_margin(image, box.as_tuple(), margin)
    turn = tilt_to_undo(box.roll, getattr(detector, "level_beyond", None))
    if turn:
        return levelled_square(image, box.as_tuple(), framing, turn)
    return framed_square(image, box.as_tuple(), framing)


def face_cropper(detector: str | None = None, margin: float | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A transform that cuts full-frame photos down to their largest face (``ImageError`` if none).

    Why here and not in ``fer_core.data``: the data layer reads images and knows no detector;
    cropping a dataset to its faces is the detector's work, laid over a dataset by ``with_face_crops``.
    """
    det = make_detector(detector)
    pad = FACE_MARGIN if margin is None else margin

    def crop(img: np.ndarray) -> np.ndarray:
        rgb = ensure_rgb(img)
        boxes = det.detect(rgb)
        big = largest(boxes)
        if big is None:
            raise ImageError("no face found in the photo")
        return np.ascontiguousarray(crop_face(rgb, boxes[big], det, pad))

    return crop


def with_face_crops(ds: Dataset, detector: str | None = None) -> Dataset:
    """The same dataset with every split cropped to the largest face on reading."""
    crop = face_cropper(detector)
    for split in ds.splits.values():
        split.transform = crop
    return ds


def convert_face(img: np.ndarray, size: tuple[int, int], color_mode: str) -> np.ndarray:
    """One face crop (gray or RGB uint8) to ``(H, W, C)`` uint8 in the model's colour order."""
    target = (size[1], size[0])
    if color_mode == "grayscale":
        gray = img if img.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_RGB2GRAY)
        interp = cv2.INTER_AREA if gray.shape[0] > size[0] else cv2.INTER_LINEAR
        return cv2.resize(gray, target, interpolation=interp)[:, :, None]
    rgb = np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img[:, :, :3]
    interp = cv2.INTER_AREA if rgb.shape[0] > size[0] else cv2.INTER_LINEAR
    out = cv2.resize(np.ascontiguousarray(rgb), target, interpolation=interp)
    return out[:, :, ::-1].copy() if color_mode == "bgr" else out


def zoom_batch(batch: np.ndarray, factor: float) -> np.ndarray:
    """Scale every image of ``(N, H, W, C)`` by ``factor`` about its centre, edges mirrored.

    Why: a test-time view. Faces from detectors and datasets are framed a little
    differently; averaging over a slightly tighter and a slightly looser framing makes
    the prediction less sensitive to that.
    """
    n, h, w, c = batch.shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), 0.0, float(factor))
    out = np.empty_like(batch)
    for i in range(n):
        warped = cv2.warpAffine(np.ascontiguousarray(batch[i]), m, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
        out[i] = warped.reshape(h, w, c)
    return out
