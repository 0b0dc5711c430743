"""The live-video processor: newest frame in, annotated frame out, never waiting for the model.

Detection runs on a downscaled copy (and only every few frames, the boxes held between);
classification of the faces runs in a worker thread that always takes the newest crop, so a
slow model lowers the label refresh rate, never the frame rate. Results cross threads through
a lock-guarded state that the page reads with ``snapshot()``.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fer_core.data.imageio import ensure_rgb
from fer_core.data.labels import label_score
from fer_core.errors import one_line
from fer_core.inference import timing
from fer_core.inference.detection import Box, largest
from fer_core.inference.draw import draw_box, mark_error
from fer_core.inference.load import LEVELS, LoadGovernor, Quality
from fer_core.inference.pipeline import Face, Pipeline, label_probs
from fer_core.inference.stream import ExpressionTrack, StreamOptions
from fer_core.inference.timeline import FrameRow

log = logging.getLogger(__name__)

COLLECT_MAX = 256  # rows kept for a calibration at most: a run that is left half-done must not grow forever
_PHASES = itertools.count()  # each processor's detection phase: sessions do not all detect on the same tick


@dataclass(frozen=True)
class ClassifyJob:
    """One frame's faces for the worker: crops in the order of ``boxes``, and which one is the largest.

    Why a type: ``largest_pos`` indexes ``crops``/``boxes`` (not the detector's list), and only that
    face feeds the smoothed readout, so the two must not be confused.
    """

    crops: list[np.ndarray]
    boxes: list[Box]
    largest_pos: int
    frame_no: int
    single_view: bool = False  # the server is busy: one view of each face, not the card's test-time views


@dataclass
class LiveStats:
    """A copy of the processor's state for the UI thread."""

    label: str | None = None
    score: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    faces: int = 0
    frames: int = 0
    classified: int = 0
    fps: float = 0.0
    latency_ms: float = 0.0
    latency_p95_ms: float = 0.0
    classify_ms: float = 0.0
    result_age_ms: float | None = None
    first_label_ms: float | None = None  # from the stream's first frame to its first label (where START time goes)
    skipped: int = 0  # frames that arrived while the server was busy and were dropped unseen (since START)
    skipped_share: float = 0.0  # of the frames that arrived in the last timing.SKIP_WINDOW_S, the share dropped
    load_level: int = 0  # the server's load governor's level (0: full quality; ``fer_core.inference.load``)
    load_note: str = ""  # what that level costs this session, in a sentence ("" at full quality)
    error: str | None = None


def _iou(a: Box, b: Box) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = a.area + b.area - inter
    return inter / union if union else 0.0


class LiveProcessor:
    """Runs the shared pipeline on a video stream. ``process`` is called from the video thread.

    With a ``governor`` (the app passes the process-wide one) the processor follows the server's load:
    fewer views per label and fewer detections when the machine is busy (``fer_core.inference.load``).
    """

    def __init__(self, pipeline: Pipeline, options: StreamOptions | None = None,
                 governor: LoadGovernor | None = None) -> None:
        self.pipeline = pipeline
        self.options = options or StreamOptions()
        self.governor = governor
        self._quality: Quality = LEVELS[0]
        # Why a phase: sessions started together (a class pressing START at once, or a benchmark) would
        # otherwise run their detections and model runs on the same ticks, a burst that makes frames late.
        self._phase = next(_PHASES)
        self._lock = threading.Lock()
        self._stats = LiveStats()
        self._track = ExpressionTrack(self.options)
        self._boxes: list[Box] = []
        self._largest: int | None = None
        self._frame_no = 0
        self._results: list[tuple[Box, str, float]] = []  # newest classification per face
        self._result_time = 0.0
        self._first_frame_time = 0.0  # 0: no stream yet, or the last one ended (the next frame starts one)
        # the largest face over time since the stream's first frame (about an hour at 10 labels a second)
        self._timeline: collections.deque[FrameRow] = collections.deque(maxlen=36_000)
        # when each frame was done: the last timing.FPS_FRAMES give the FPS, all of them (the skip window even at
        # 60 fps) the share of frames skipped
        self._frame_times: collections.deque[float] = collections.deque(maxlen=int(timing.SKIP_WINDOW_S * 60) + 1)
        self._latencies: collections.deque[float] = collections.deque(maxlen=120)
        self._skips: collections.deque[tuple[float, int]] = collections.deque(maxlen=256)  # (when, how many)
        self._errors_logged: set[str] = set()
        self._collecting = False  # keep the largest face's probabilities (a personal calibration's material)
        self._collected: list[np.ndarray] = []
        # worker mailbox: only the newest job is kept
        self._job: ClassifyJob | None = None
        self._job_cv = threading.Condition()
        self._stop = False
        self._busy = False  # the worker is classifying a job it took
        self._worker: threading.Thread | None = None

    # ---------------------------------------------------------------- options
    def set_options(self, options: StreamOptions) -> None:
        """Change options from the UI thread; takes effect on the next frame."""
        with self._lock:
            self.options = self._track.options = options

    def snapshot(self) -> LiveStats:
        with self._lock:
            s = replace(self._stats, probabilities=dict(self._stats.probabilities))
            if self._result_time:
                s.result_age_ms = (time.perf_counter() - self._result_time) * 1000.0
            s.skipped_share = self._skipped_share(time.perf_counter())
            return s

    def collect(self, on: bool) -> None:
        """Start (from nothing) or stop keeping the largest face's probabilities, one row per classification.

        Why here: the rows are the model's output for the face the user holds, at the live label rate, so a
        calibration can be fit from them without a second pass through the model.
        """
        with self._lock:
            self._collecting, self._collected = on, []

    def collected(self) -> list[np.ndarray]:
        """The rows kept since ``collect(True)``."""
        with self._lock:
            return list(self._collected)

    def note_skipped(self, count: int) -> None:
        """``count`` frames arrived while the last one was processed and were dropped unseen.

        Why: the video stack keeps only the newest frame when processing falls behind (the machine is
        saturated); counting them lets the page say so instead of just looking slow.
        """
        if count > 0:
            with self._lock:
                self._stats.skipped += count
                self._skips.append((time.perf_counter(), count))

    def _skipped_share(self, now: float) -> float:
        """Of the frames that arrived in the last ``timing.SKIP_WINDOW_S`` seconds, the share dropped (lock held)."""
        window = timing.SKIP_WINDOW_S
        skipped = sum(n for t, n in self._skips if now - t <= window)
        if not skipped:
            return 0.0
        done = sum(1 for t in self._frame_times if now - t <= window)
        return skipped / (skipped + done)

    # ---------------------------------------------------------------- frames
    def process(self, rgb: np.ndarray) -> np.ndarray:
        """Annotate one RGB frame (same size, new array). Never raises: failures are marked on the frame."""
        t0 = time.perf_counter()
        try:
            out = self._process(rgb, t0)
        except Exception as exc:  # noqa: BLE001 - the video thread must survive anything
            self._record_error(exc, "live frame failed (%s); frames pass through marked")
            out = mark_error(rgb)
        self._account(t0)
        return out

    def _record_error(self, exc: Exception, message: str) -> None:
        """Log the first error of each kind with its traceback; always show the newest on the stats."""
        kind = type(exc).__name__
        if kind not in self._errors_logged:
            self._errors_logged.add(kind)
            log.exception(message, kind)
        with self._lock:
            self._stats.error = one_line(f"{kind}: {exc}", 160)

    def _process(self, rgb: np.ndarray, t0: float) -> np.ndarray:
        rgb = ensure_rgb(rgb)  # gray/RGBA/float frames become RGB uint8; anything else raises ImageError
        if not self._first_frame_time:
            self._first_frame_time = t0
            with self._lock:
                self._timeline.clear()  # a new stream: the last one's timeline was kept until now
        opts = self.options
        self._frame_no += 1
        every = self._detect_every(opts)
        if (self._frame_no - 1 + self._phase) % every == 0 or not self._boxes:
            boxes = self.pipeline.detector.detect(rgb)
            self._boxes = boxes
            self._largest = largest(boxes)
            if boxes:
                self._submit(rgb, boxes, self._largest or 0)
            else:
                with self._lock:
                    lost = self._track.missed()
                if lost:
                    self._lose_face()
        return self._draw(rgb)

    def _detect_every(self, opts: StreamOptions) -> int:
        """The user's detection interval, stretched by the load governor when the server is busy."""
        every = max(1, opts.detect_every)
        if self.governor is None:
            return every
        q = self.governor.observe()
        if q != self._quality:
            self._quality = q
            with self._lock:
                self._stats.load_level, self._stats.load_note = q.level, q.describe()
        return max(every, q.detect_every)

    def reset(self) -> None:
        """End the stream: label, smoothing, boxes and counters cleared (a new START begins clean).

        The timeline stays, for a download after STOP, until the next stream's first frame.
        """
        with self._lock:
            self._stats = LiveStats()
            self._quality = LEVELS[0]  # the next frame asks the governor again and shows its level
            self._track.reset()
            self._results, self._boxes, self._largest = [], [], None
            self._result_time, self._first_frame_time = 0.0, 0.0
            self._frame_times.clear()
            self._latencies.clear()
            self._skips.clear()
            self._collecting, self._collected = False, []  # a calibration does not outlive its stream

    def timeline(self) -> list[FrameRow]:
        """The largest face's label and probabilities at each classification since the stream began."""
        with self._lock:
            return list(self._timeline)

    def _lose_face(self) -> None:
        with self._lock:
            if self._timeline and self._timeline[-1].box is not None:
                self._timeline.append(FrameRow(time=self._stream_time(), frame=self._frame_no, faces=0))
            self._results = []
            self._stats.label, self._stats.score, self._stats.probabilities = None, None, {}
            self._stats.faces = 0

    def _submit(self, rgb: np.ndarray, boxes: list[Box], big: int) -> None:
        targets = list(range(len(boxes))) if self.options.label_all else [big]
        crops = [self.pipeline.crop(rgb, _face(boxes[i])) for i in targets]
        job = ClassifyJob(crops, [boxes[i] for i in targets], targets.index(big), self._frame_no,
                          single_view=self._quality.single_view)
        if not self.options.async_classify:
            self._classify(job)
            return
        self._ensure_worker()
        with self._job_cv:
            self._job = job  # replaces any job not yet started: only the newest matters
            self._job_cv.notify()

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._stop = False
            self._worker = threading.Thread(target=self._work, name="fer-classify", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            with self._job_cv:
                while self._job is None and not self._stop:
                    self._job_cv.wait(timeout=1.0)
                if self._stop:
                    return
                job, self._job = self._job, None
                if job is None:
                    continue
                self._busy = True
            try:
                self._classify(job)
            except Exception as exc:  # noqa: BLE001 - the worker must outlive one bad job
                self._record_error(exc, "live classification failed (%s)")
            finally:
                self._busy = False

    def _classify(self, job: ClassifyJob) -> None:
        boxes, big_pos = job.boxes, job.largest_pos
        t = time.perf_counter()
        clf = self.pipeline.classifier
        probs = clf.predict(job.crops, tta=[] if job.single_view else None)  # None: the card's views
        dt = (time.perf_counter() - t) * 1000.0
        names = clf.class_names
        with self._lock:
            results = []
            for i, (box, p) in enumerate(zip(boxes, probs)):
                if i == big_pos:
                    if self._collecting and len(self._collected) < COLLECT_MAX:
                        self._collected.append(np.array(p, dtype=np.float64))
                    label, score, dist = label_probs(names, self._track.classified(p))
                    self._stats.label, self._stats.score, self._stats.probabilities = label, score, dist
                else:
                    label, score, _ = label_probs(names, p)
                results.append((box, label, score))
            self._results = results
            if self._first_frame_time:
                self._timeline.append(FrameRow(
                    time=self._stream_time(), frame=job.frame_no, faces=len(boxes), classified=True,
                    box=boxes[big_pos].as_tuple(), label=self._stats.label, score=self._stats.score,
                    probabilities=dict(self._stats.probabilities)))
            self._result_time = time.perf_counter()
            if self._stats.first_label_ms is None and self._first_frame_time:
                self._stats.first_label_ms = (self._result_time - self._first_frame_time) * 1000.0
            self._stats.classified += 1
            self._stats.classify_ms = dt
            self._stats.error = None

    def _stream_time(self) -> float:
        return time.perf_counter() - self._first_frame_time if self._first_frame_time else 0.0

    def _draw(self, rgb: np.ndarray) -> np.ndarray:
        out = np.array(rgb, dtype=np.uint8, copy=True)
        with self._lock:
            results = list(self._results)
            label, score = self._stats.label, self._stats.score
            self._stats.faces = len(self._boxes)
        for i, box in enumerate(self._boxes):
            is_big = i == self._largest
            text = None
            if is_big and label is not None:
                text = label_score(label, score)
            elif self.options.label_all and results:
                match = max(results, key=lambda r: _iou(r[0], box))
                if _iou(match[0], box) > 0.3:
                    text = label_score(match[1], match[2])
            draw_box(out, box, text, highlight=is_big, label=label if is_big else None)
        return out

    def _account(self, t0: float) -> None:
        now = time.perf_counter()
        ms = (now - t0) * 1000.0
        if self.governor is not None:
            self.governor.note_frame(ms)
        with self._lock:
            self._frame_times.append(now)
            self._latencies.append(ms)
            self._stats.frames += 1
            counted = min(len(self._frame_times), timing.FPS_FRAMES)
            if counted >= 2:
                span = now - self._frame_times[-counted]
                self._stats.fps = (counted - 1) / span if span > 0 else 0.0
            lat = sorted(self._latencies)
            self._stats.latency_ms = lat[len(lat) // 2]
            self._stats.latency_p95_ms = lat[min(len(lat) - 1, int(0.95 * len(lat)))]

    def close(self) -> None:
        """Stop the worker thread (the page calls this when the stream ends)."""
        with self._job_cv:
            self._stop = True
            self._job_cv.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=2.0)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until the worker has no pending or running job (for tests and benchmarks)."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            with self._job_cv:
                if self._job is None and not self._busy:
                    return True
            time.sleep(0.002)
        return False


def _face(box: Box) -> Any:

    return Face(box=box, is_largest=True)
