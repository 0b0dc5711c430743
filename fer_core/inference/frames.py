"""The live page's per-frame steps for a stream of decoded video frames, batched for a file.

Why apart from ``fer_core.video``: this is the part that decides what happens to each frame
(which frames are analysed, when the detector and the model run, how results are smoothed and
drawn); ``fer_core.video`` only feeds it frames from a file and collects what it gives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fer_core.inference.card import view_count
from fer_core.inference.draw import draw_faces
from fer_core.inference.pipeline import Face, Pipeline, label_probs
from fer_core.inference.smoothing import SMOOTHING_ALPHA, ProbabilitySmoother
from fer_core.inference.timeline import FrameRow
from fer_core.inference.videoio import DecodedFrame

log = logging.getLogger(__name__)

REFERENCE_FPS = 30.0  # the smoothing factor is per frame at this rate, as on the live page
PENDING_BYTES = 256 * 2**20  # decoded frames waiting for their batch's model call, at most
MODEL_BATCH = 128  # images per model call the classifier runs without splitting
_NO_PIXELS = np.zeros((0, 0, 3), np.uint8)


def _elapsed(since: float | None, now: float, interval: float) -> bool:
    """At least ``interval`` seconds (less a millisecond of timestamp rounding) since ``since``."""
    return since is None or interval <= 0 or now - since >= interval - 1e-3


def crops_per_call(pipeline: Pipeline) -> int:
    """Face crops whose test-time views fill one model batch (6 views: 21 crops, 126 images)."""

    return max(1, MODEL_BATCH // view_count(list(getattr(pipeline.classifier.card, "tta", []) or [])))


@dataclass
class VideoOptions:
    """Which frames to analyse and how to smooth. ``every`` and ``fps`` are exclusive."""

    every: int = 1  # analyse every n-th frame
    fps: float | None = None  # or about this many frames per second of video
    # As on the live page: the detector runs at most 15 times and the model at most 10 times per
    # second of video (boxes and the smoothed result are held in between); 0 means every analysed frame.
    detect_interval: float = 1 / 15
    classify_interval: float = 0.1
    smoothing: bool = True
    alpha: float | None = None  # default: smoothing.SMOOTHING_ALPHA
    lost_after: int = 6  # analysed frames without a face before the smoothing resets
    batch: int = 0  # face crops per model call; 0: as many as fill the model's largest batch


class Sampler:
    """Chooses the frames to analyse: every n-th, or the first frame of each 1/fps slot of time
    (by timestamp, so a variable frame rate is sampled evenly in time)."""

    def __init__(self, every: int = 1, fps: float | None = None) -> None:
        if fps is not None and fps <= 0:
            raise ValueError("fps must be positive")
        if every < 1:
            raise ValueError("every must be at least 1")
        self.every, self.fps = int(every), fps
        self._slot = -1

    def keep(self, frame: DecodedFrame) -> bool:
        if self.fps is None:
            return frame.index % self.every == 0
        slot = int(np.floor(frame.time * self.fps + 1e-6))
        if slot <= self._slot:
            return False
        self._slot = slot
        return True


class FrameAnalyser:
    """Detection, batched classification, smoothing, drawing and rows for a stream of frames."""

    def __init__(self, pipeline: Pipeline, options: VideoOptions, writer: Callable[[np.ndarray, float], None] | None):

        self.pipeline, self.options, self.writer = pipeline, options, writer
        self.alpha = options.alpha if options.alpha is not None else SMOOTHING_ALPHA
        self.smoother = ProbabilitySmoother(self.alpha, reset_after=max(1, options.lost_after))
        self.rows: list[FrameRow] = []
        self._held: list[Face] = []
        self._detected_at: float | None = None
        self._classified_at: float | None = None  # None: no face in the previous analysed frame
        self._last_time: float | None = None
        self._latest: np.ndarray | None = None
        self._pending: list[tuple[DecodedFrame, list[Face], np.ndarray | None]] = []
        self._crops_per_call = max(1, options.batch or crops_per_call(pipeline))

    def feed(self, frame: DecodedFrame) -> None:
        """Detect now; classify and emit in batches (a full model batch, or a memory bound)."""
        faces = self._detect(frame)
        crop = None
        if self._due(frame.time, faces):
            crop = self.pipeline.crop(frame.rgb, next(f for f in faces if f.is_largest))
        if self.writer is None:  # nothing to draw on: keep the crop, not the frame
            frame = DecodedFrame(frame.index, frame.time, _NO_PIXELS)
        self._pending.append((frame, faces, crop))
        crops = sum(c is not None for _, _, c in self._pending)
        if crops >= self._crops_per_call or len(self._pending) * max(frame.rgb.nbytes, 1) >= PENDING_BYTES:
            self.flush()

    def flush(self) -> None:
        """Classify the pending crops in one model call, then smooth, draw and record in order."""
        pending, self._pending = self._pending, []
        crops = [c for _, _, c in pending if c is not None]
        probs = iter(self.pipeline.classifier.predict(crops)) if crops else iter(())
        for frame, faces, crop in pending:
            self._emit(frame, faces, next(probs) if crop is not None else None)

    def _detect(self, frame: DecodedFrame) -> list[Face]:
        if not self._held or _elapsed(self._detected_at, frame.time, self.options.detect_interval):
            self._held = self.pipeline.detect(frame.rgb)
            self._detected_at = frame.time
        return [Face(box=f.box, is_largest=f.is_largest) for f in self._held]

    def _due(self, t: float, faces: list[Face]) -> bool:
        """Whether this frame's largest face is classified: a face that (re)appears always is."""
        if not faces:
            self._classified_at = None
            return False
        if self._classified_at is None or _elapsed(self._classified_at, t, self.options.classify_interval):
            self._classified_at = t
            return True
        return False

    def _emit(self, frame: DecodedFrame, faces: list[Face], raw: np.ndarray | None) -> None:
        big = next((f for f in faces if f.is_largest), None)
        p = self._smooth(frame.time, raw, seen=big is not None)
        row = FrameRow(time=frame.time, frame=frame.index, faces=len(faces), classified=raw is not None)
        if big is not None and p is not None:
            big.label, big.score, big.probabilities = label_probs(self.pipeline.classifier.class_names, p)
            row.box, row.label, row.score, row.probabilities = (big.box.as_tuple(), big.label, big.score,
                                                                big.probabilities)
        self.rows.append(row)
        if self.writer is not None:
            self.writer(draw_faces(frame.rgb, faces), frame.time)

    def _smooth(self, t: float, raw: np.ndarray | None, seen: bool) -> np.ndarray | None:
        """The time-scaled exponential average (same time constant at any sampling rate); a face
        seen but not classified this frame keeps the latest result."""
        if raw is None:
            if seen:
                return self._latest
            self.smoother.update(None)
            self._latest = None if self.smoother.value is None else self._latest
            return None
        dt = 1.0 / REFERENCE_FPS if self._last_time is None else max(t - self._last_time, 0.0)
        self._last_time = t
        if not self.options.smoothing:
            self._latest = np.asarray(raw)
            return self._latest
        self.smoother.alpha = 1.0 - (1.0 - self.alpha) ** max(dt * REFERENCE_FPS, 1e-3)
        self._latest = self.smoother.update(raw)
        return self._latest


__all__ = ["FrameAnalyser", "REFERENCE_FPS", "Sampler", "VideoOptions", "crops_per_call"]
