"""What the live page and a video file share: the options of a stream of frames, and the step that turns
the largest face's classifications into a steady expression over time.

Why shared: the same frames must get the same label whether they come from a camera or a file; the live
processor (``fer_core.inference.live``) and the video analyser (``fer_core.inference.frames``) differ only in
when they detect and classify, not in how a label follows the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fer_core.inference import timing
from fer_core.inference.smoothing import SMOOTHING_ALPHA, ProbabilitySmoother


@dataclass
class StreamOptions:
    """How a stream of frames is analysed: the live page's sidebar, the Video page and ``fer_core.video``."""

    smoothing: bool = True  # an exponential average of the probabilities, so the label stops flickering
    alpha: float = SMOOTHING_ALPHA
    lost_after: int = 6  # analysed frames without a face before the smoothing starts afresh
    detect_every: int = timing.DETECT_EVERY  # the detector's pace in frames at the reference rate (0: every frame)
    label_all: bool = False  # live: label every face, not only the largest
    async_classify: bool = True  # live: the model runs beside the video thread, never holding a frame up
    every: int = 1  # video: analyse every n-th frame
    fps: float | None = None  # video: or about this many frames per second (exclusive with ``every``)
    classify_interval: float = timing.CLASSIFY_INTERVAL_S  # video: seconds between two classifications (0: all)
    batch: int = 0  # video: face crops per model call; 0: as many as fill the model's largest batch

    @property
    def detect_interval(self) -> float:
        """The detector's pace in seconds of video."""
        return max(0, self.detect_every) / timing.REFERENCE_FPS


class ExpressionTrack:
    """The largest face's probabilities over a stream: smoothed, and forgotten once the face is lost.

    Feed it each new classification (``classified``) and each analysed frame without a face (``missed``).
    Given the time of each classification, the smoothing keeps the same time constant at any rate.
    """

    def __init__(self, options: StreamOptions) -> None:
        self.options = options
        self._smoother = ProbabilitySmoother(options.alpha)
        self._missing = 0
        self._last_time: float | None = None
        self.latest: np.ndarray | None = None  # the newest result, held while the face stays in view

    def classified(self, probs: np.ndarray, t: float | None = None) -> np.ndarray:
        """The face's new probabilities, smoothed with the earlier ones (by the time since them when ``t`` is
        given, else one frame); returns what the face's label should show."""
        self._missing = 0
        p = np.asarray(probs, dtype=np.float64)
        alpha = self.options.alpha
        if t is not None:
            dt = 1.0 / timing.REFERENCE_FPS if self._last_time is None else max(t - self._last_time, 0.0)
            self._last_time = t
            alpha = 1.0 - (1.0 - alpha) ** max(dt * timing.REFERENCE_FPS, 1e-3)
        if self.options.smoothing:
            self._smoother.alpha = alpha
            p = self._smoother.update(p)  # type: ignore[assignment]
        self.latest = p
        return p

    def missed(self) -> bool:
        """An analysed frame without a face; True once the face counts as lost (``lost_after`` such frames in a
        row), when the smoothing starts afresh so a new face does not inherit the old one's expression."""
        self._missing += 1
        if self._missing < max(1, self.options.lost_after):
            return False
        self.reset()
        self._missing = self.options.lost_after
        return True

    def reset(self) -> None:
        """Forget the face (a new stream begins)."""
        self._smoother.reset()
        self._missing = 0
        self._last_time = None
        self.latest = None


__all__ = ["ExpressionTrack", "StreamOptions"]
