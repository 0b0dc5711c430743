"""Capturing your own expression images from a camera stream, one face crop every few seconds.

Why: teaching the model your own expressions needs labelled pictures of you. A
``CaptureSession`` receives every camera frame (``offer(rgb, now)``, called from the video
thread), decides from the clock when the next picture is due, finds the largest face, and
saves its crop as ``<root>/<class>/<file>.jpg`` (optionally the whole frame under
``<root>/.frames/<class>/``). The class is either the one the user named, or (auto-label
mode) the class the current model predicts when it is confident enough, else ``unsorted``.
The suggestion of the model is kept up to date either way, for the page to show.

Thread safety: ``offer`` runs in streamlit-webrtc's worker thread while the page reads
``snapshot()`` and changes settings with ``configure``/``start``/``stop``; all shared state
is guarded by one lock, and the slow part (detect, classify, write) runs outside it.

It sits above both layers: it composes the data layer (class folders, labels) with inference
(a pipeline's faces, boxes drawn on the frame), and the data layer knows no detector.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from fer_core.data.curation import FRAMES_DIR, UNSORTED, class_folder_name
from fer_core.data.labels import label_score
from fer_core.inference.detection import Box
from fer_core.inference.draw import draw_box
from fer_core.owners import QuotaError
from fer_core.paths import safe_join

log = logging.getLogger(__name__)

MODES = ("fixed", "auto")
JPEG_QUALITY = 95


@dataclass(frozen=True)
class CaptureConfig:
    """What the capture page's controls set."""

    mode: str = "fixed"  # fixed: every capture goes to class_name; auto: to the model's confident guess
    class_name: str | None = None  # folder name (already validated by ``class_folder_name``)
    interval: float = 2.0  # seconds between two saved pictures
    count: int = 20  # pictures per run (``start`` to ``stop``)
    threshold: float = 0.6  # auto mode: minimum top probability to trust the model's label
    save_frame: bool = False  # also keep the whole camera frame
    suggest_interval: float = 0.5  # how often the live suggestion is refreshed between captures


@dataclass(frozen=True)
class Captured:
    """One saved picture."""

    path: Path
    class_name: str
    frame_path: Path | None
    label: str | None  # the model's suggestion for this face
    score: float | None
    at: float  # the ``now`` it was taken at


@dataclass
class CaptureStatus:
    """A copy of the session's state for the page."""

    armed: bool = False
    saved: int = 0  # in the current (or last) run
    target: int = 0
    per_class: dict[str, int] = field(default_factory=dict)  # saved by this session, by class
    last: Captured | None = None
    label: str | None = None  # the live suggestion
    score: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    face: Box | None = None
    faces_seen: bool = False
    frames: int = 0
    next_in: float | None = None  # seconds to the next capture (when armed)
    message: str = ""
    error: str | None = None


def route(config: CaptureConfig, label: str | None, score: float | None) -> str:
    """The class folder a capture goes to: the fixed class, or the model's label if confident, else unsorted."""
    if config.mode == "fixed":
        if not config.class_name:
            raise ValueError("no class chosen")
        return config.class_name
    if label is not None and score is not None and score >= config.threshold:
        try:
            return class_folder_name(label)
        except ValueError:  # a model class that is not a safe folder name
            return UNSORTED
    return UNSORTED


def _check(config: CaptureConfig) -> CaptureConfig:
    if config.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if config.class_name is not None:
        config = replace(config, class_name=class_folder_name(config.class_name))
    if not (config.interval >= 0):
        raise ValueError("the interval must be 0 s or more")
    if config.count < 1:
        raise ValueError("the count must be at least 1")
    if not 0.0 <= config.threshold <= 1.0:
        raise ValueError("the threshold must be between 0 and 1")
    return config


class CaptureSession:
    """Turns a camera stream into saved face crops (see the module docstring)."""

    def __init__(self, root: str | Path, pipeline: Any, config: CaptureConfig | None = None,
                 room: Callable[[int], None] | None = None) -> None:
        self.root = Path(root)
        self._room = room  # raises QuotaError when the owner's captures cannot take more bytes
        self._pipeline = pipeline
        self._config = _check(config or CaptureConfig())
        self._lock = threading.Lock()
        self._busy = False
        self._status = CaptureStatus(target=self._config.count)
        self._last_capture: float | None = None  # ``now`` of the last saved picture
        self._next_try = float("-inf")  # ``now`` before which no analysis runs
        self._last_now = 0.0  # ``now`` of the newest frame
        self._seq = 0

    # ------------------------------------------------------------------ control (page thread)
    @property
    def config(self) -> CaptureConfig:
        with self._lock:
            return self._config

    def configure(self, **changes: Any) -> CaptureConfig:
        """Change settings (validated; ``ValueError`` with a user-facing message leaves them as they were)."""
        with self._lock:
            self._config = _check(replace(self._config, **changes))
            self._retarget()
            return self._config

    def _retarget(self) -> None:
        """Fit the run's target to the configured count, so ``saved / target`` never reads ``12 / 8``.

        While capturing, a new count applies to the current run (lowered to or below what is
        saved: the run is done). Between runs the target shows the next run's count, unless a
        finished run is on show, whose ``saved / target`` stays as it was.
        """
        st, count = self._status, self._config.count
        if st.armed:
            st.target = max(count, st.saved)
            if st.saved >= st.target:
                st.armed = False
                st.message = _done_message(st.saved)
        elif st.saved == 0:
            st.target = count

    def set_pipeline(self, pipeline: Any) -> None:
        """Use another model or detector from the next frame on."""
        with self._lock:
            self._pipeline = pipeline

    def start(self, count: int | None = None) -> None:
        """Arm: save ``count`` (default: the configured count) pictures, the first as soon as a face shows."""
        with self._lock:
            if count is not None:
                self._config = _check(replace(self._config, count=count))
            if self._config.mode == "fixed" and not self._config.class_name:
                raise ValueError("choose or type a class name first")
            self._status.armed = True
            self._status.saved = 0
            self._status.target = self._config.count
            self._status.message = "capturing"
            self._status.error = None
            self._last_capture = None
            self._next_try = float("-inf")

    def stop(self, message: str = "stopped") -> None:
        with self._lock:
            self._status.armed = False
            self._status.message = message

    def snapshot(self) -> CaptureStatus:
        """A copy of the state, safe to read while frames keep coming."""
        with self._lock:
            s = replace(self._status, per_class=dict(self._status.per_class),
                        probabilities=dict(self._status.probabilities))
            if s.armed and self._last_capture is not None and self._status.frames:
                s.next_in = max(0.0, self._config.interval - (self._last_now - self._last_capture))
            return s

    # ------------------------------------------------------------------ frames (video thread)
    def offer(self, rgb: np.ndarray, now: float) -> Captured | None:
        """One camera frame at clock time ``now`` (seconds); returns what was saved, if anything.

        Runs the model only when a capture is due or the suggestion is stale, so most frames
        cost nothing. Errors are kept in the status (the video must go on), never raised.
        """
        with self._lock:
            self._status.frames += 1
            self._last_now = now
            if self._busy or now < self._next_try:
                return None
            config, pipeline = self._config, self._pipeline
            armed = self._status.armed and self._status.saved < self._status.target
            due = armed and (self._last_capture is None or now - self._last_capture >= config.interval)
            self._busy = True
            self._next_try = now + config.suggest_interval
        saved: Captured | None = None
        error: str | None = None
        full = False
        face = None
        try:
            faces = pipeline.analyze(rgb, classify="largest")
            face = next((f for f in faces if f.is_largest), None)
            if due and face is not None:
                saved = self._save(rgb, pipeline.crop(rgb, face), config, face.label, face.score, now)
        except QuotaError as exc:
            error, full = str(exc), True
        except Exception as exc:  # noqa: BLE001 - the video thread must survive anything
            error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("capture failed: %s", error, exc_info=not isinstance(exc, (OSError, ValueError)))
        with self._lock:
            self._busy = False
            st = self._status
            st.faces_seen = face is not None
            st.face = face.box if face is not None else None
            if face is not None and face.label is not None:
                st.label, st.score, st.probabilities = face.label, face.score, dict(face.probabilities)
            elif face is None:
                st.label, st.score, st.probabilities = None, None, {}
            if error is not None:
                st.error = error
            if full:
                st.armed = False
                st.message = "stopped: no room left"
            if saved is not None:
                self._last_capture = now
                st.saved += 1
                st.per_class[saved.class_name] = st.per_class.get(saved.class_name, 0) + 1
                st.last = saved
                st.error = None
                if st.saved >= st.target:
                    st.armed = False
                    st.message = _done_message(st.saved)
            elif due:
                st.message = "waiting for a face" if face is None and error is None else st.message
            elif st.armed:
                st.message = "capturing"
        return saved

    def _save(self, rgb: np.ndarray, crop: np.ndarray, config: CaptureConfig, label: str | None,
              score: float | None, now: float) -> Captured:
        cls = route(config, label, score)
        if self._room is not None:
            self._room(crop.nbytes // 4 + (rgb.nbytes // 8 if config.save_frame else 0))  # about a JPEG's size
        with self._lock:
            self._seq += 1
            seq = self._seq
        name = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{seq:04d}-{uuid.uuid4().hex[:6]}.jpg"
        path = _write_jpeg(safe_join(self.root, cls), name, crop)
        frame_path = _write_jpeg(safe_join(self.root, FRAMES_DIR, cls), name, rgb) if config.save_frame else None
        log.info("captured %s (suggestion %s %s)", path, label, None if score is None else f"{score:.2f}")
        return Captured(path, cls, frame_path, label, score, now)

    # ------------------------------------------------------------------ display (video thread)
    def annotate(self, rgb: np.ndarray) -> np.ndarray:
        """The frame with the tracked face boxed and the capture progress written in a corner."""

        s = self.snapshot()
        out = np.ascontiguousarray(rgb).copy()
        if s.face is not None:
            text = label_score(s.label, s.score) if s.label is not None else None
            draw_box(out, s.face, text, highlight=True, label=s.label)
        if s.armed or s.saved:

            line = f"saved {s.saved}/{s.target}" + (" (capturing)" if s.armed else "")
            h = out.shape[0]
            scale = max(0.5, h / 720)
            cv2.putText(out, line, (10, int(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                        max(2, int(4 * scale)), cv2.LINE_AA)
            cv2.putText(out, line, (10, int(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                        max(1, int(2 * scale)), cv2.LINE_AA)
        return out

    def process(self, rgb: np.ndarray) -> np.ndarray:
        """The video callback's work: offer the frame at the monotonic clock, return it annotated."""
        self.offer(rgb, time.monotonic())
        return self.annotate(rgb)


def _done_message(saved: int) -> str:
    return f"done: {saved} picture{'s' if saved != 1 else ''} saved"


def _write_jpeg(folder: Path, name: str, rgb: np.ndarray) -> Path:
    """Write atomically (hidden temp file, then rename) so a half-written image is never listed."""
    folder.mkdir(parents=True, exist_ok=True)
    final = safe_join(folder, name)
    tmp = folder / f".{name}.tmp"
    Image.fromarray(np.ascontiguousarray(rgb[:, :, :3], dtype=np.uint8)).save(tmp, format="JPEG",
                                                                             quality=JPEG_QUALITY)
    os.replace(tmp, final)
    return final


__all__ = ["CaptureConfig", "CaptureSession", "CaptureStatus", "Captured", "MODES", "route"]
