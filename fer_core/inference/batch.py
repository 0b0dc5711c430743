"""A batch of uploaded photos: decode, analyse, annotate, and one table for all of them.

Why: the upload page (and any script) needs per-file results where a bad file becomes a
one-line error and the other files still get their result, plus a CSV of the whole batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fer_core.data import imageio
from fer_core.data.csvout import table_csv
from fer_core.data.imageio import decode_image, image_pixels
from fer_core.data.labels import label_score
from fer_core.errors import FerError, ImageError
from fer_core.inference.draw import draw_faces, draw_whole_face
from fer_core.memory import reserve_pixels
from fer_core.settings import get_settings

log = logging.getLogger(__name__)

KEPT_MAX_SIDE = 1600  # annotated pictures are kept (in the visitor's session) no larger than this
BATCH_PIXELS_TIMES = 2  # one upload batch holds at most this many times imageio.MAX_PIXELS, all files together
BASE_COLUMNS = ("file", "face", "largest", "label", "confidence", "x", "y", "w", "h", "error")


@dataclass
class UploadResult:
    """One uploaded file: its faces (largest first) and annotated picture, or the error."""

    name: str
    faces: list[Any] = field(default_factory=list)
    annotated: np.ndarray | None = None
    error: str | None = None
    width: int = 0
    height: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def largest(self) -> Any | None:
        return next((f for f in self.faces if f.is_largest), None)

    @property
    def label(self) -> str | None:
        """The largest face's expression (``None``: error, no face, or not classified)."""
        top = self.largest
        return None if top is None else top.label

    def caption(self) -> str:
        """``name: happy 87%``, ``name: no face found`` or ``name: 3 faces, largest happy 87%``."""
        if self.error:
            return f"{self.name}: {self.error}"
        top = self.largest
        if top is None:
            return f"{self.name}: no face found"
        what = label_score(top.label, top.score) if top.label is not None else "not classified"
        if len(self.faces) > 1:
            return f"{self.name}: {len(self.faces)} faces, largest {what}"
        return f"{self.name}: {what}"


def analyze_upload(name: str, data: bytes, pipeline: Any, classify: str = "all",
                   max_bytes: int | None = None) -> UploadResult:
    """Decode (EXIF rotation honoured), detect and classify one upload. Never raises for bad input."""
    t0 = time.perf_counter()
    limit = max_bytes if max_bytes is not None else get_settings().max_upload_mb * 1024 * 1024
    result = UploadResult(name=name)
    try:
        if len(data) > limit:
            raise ImageError(f"{name}: {len(data) / 2**20:.1f} MB is larger than the limit of "
                             f"{limit / 2**20:.0f} MB")
        with reserve_pixels(image_pixels(data), name):
            image = decode_image(data, name=name)
            result.height, result.width = int(image.shape[0]), int(image.shape[1])
            result.faces = pipeline.analyze(image, classify=classify)
            drawn = (draw_whole_face(image, result.faces[0]) if classify == "whole"
                     else draw_faces(image, result.faces, numbered=len(result.faces) > 1))
            del image
            result.annotated = shrink(drawn, KEPT_MAX_SIDE)
    except FerError as exc:
        result.error = str(exc)
    except Exception as exc:  # a model or detector failure on one file must not lose the batch
        log.exception("analysing %s failed", name)
        result.error = f"{name}: analysis failed ({type(exc).__name__}: {str(exc)[:120]})"
    result.seconds = time.perf_counter() - t0
    return result


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` no larger than ``max_side`` on its longer side (a copy of its own, not a view)."""
    import cv2

    height, width = image.shape[:2]
    factor = max_side / max(height, width)
    if factor >= 1.0:
        return image
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class BatchPixels:
    """The pixels of one upload batch, all files together: the per-image limit bounds one picture, this
    bounds what one visitor asks of the server at once."""

    def __init__(self, limit: int | None = None) -> None:
        self.per_image = imageio.MAX_PIXELS  # read now, so the limit in force is the one counted
        self.limit = limit if limit is not None else BATCH_PIXELS_TIMES * self.per_image
        self.total = 0

    def refusal(self, name: str, data: bytes) -> str | None:
        """None when ``data`` still fits in this batch (and count it), else the one-line reason. A picture
        over the per-image limit is left to ``decode_image``, which refuses it in its own words."""
        pixels = image_pixels(data)
        if pixels > self.per_image:
            return None
        if self.total + pixels > self.limit:
            return (f"{name}: skipped, this batch of photos is already {self.total / 1e6:.0f} of "
                    f"{self.limit / 1e6:.0f} megapixels; upload it with fewer or smaller photos")
        self.total += pixels
        return None


def analyze_uploads(files: Iterable[tuple[str, bytes]], pipeline: Any, classify: str = "all",
                    progress: Any = None) -> list[UploadResult]:
    """``analyze_upload`` for each ``(name, bytes)``; ``progress(done, total, result)`` after each."""
    items = list(files)
    out = []
    tally = BatchPixels()
    for i, (name, data) in enumerate(items, start=1):
        refused = tally.refusal(name, data)
        out.append(UploadResult(name=name, error=refused) if refused else
                   analyze_upload(name, data, pipeline, classify=classify))
        if progress is not None:
            progress(i, len(items), out[-1])
    return out


def results_table(results: Iterable[UploadResult], class_names: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per face (a file without faces or with an error gets one row), probabilities as columns."""
    rows: list[dict[str, Any]] = []
    for r in results:
        if r.error or not r.faces:
            rows.append({"file": r.name, "face": None, "largest": None, "label": None, "confidence": None,
                         "x": None, "y": None, "w": None, "h": None,
                         "error": r.error or "no face found"})
            continue
        for i, f in enumerate(r.faces, start=1):
            row: dict[str, Any] = {
                "file": r.name, "face": i, "largest": bool(f.is_largest), "label": f.label,
                "confidence": None if f.score is None else round(float(f.score), 4),
                "x": f.box.x, "y": f.box.y, "w": f.box.w, "h": f.box.h, "error": None,
            }
            for c in class_names or list(f.probabilities):
                row[f"p_{c}"] = round(float(f.probabilities[c]), 4) if c in f.probabilities else None
            rows.append(row)
    return rows


def table_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The base columns, then probability columns in first-seen order; ``error`` only when a row has one
    (a column of empty errors is noise)."""
    extra: list[str] = []
    for row in rows:
        for k in row:
            if k not in BASE_COLUMNS and k not in extra:
                extra.append(k)
    base = [c for c in BASE_COLUMNS if c != "error" or any(row.get("error") for row in rows)]
    return base + extra


def results_csv(results: Iterable[UploadResult], class_names: list[str] | None = None,
                model: str | None = None) -> bytes:
    """The results table as UTF-8 CSV (empty cells for missing values); with ``model``, a first column
    naming the model that gave the labels, so a saved file still says where its figures came from."""
    rows = results_table(results, class_names)
    columns = table_columns(rows)
    if model is not None:
        rows = [{"model": model, **row} for row in rows]
        columns = ["model", *columns]
    return table_csv(rows, columns)


__all__ = ["UploadResult", "analyze_upload", "analyze_uploads", "results_csv", "results_table", "table_columns"]
