"""Graceful under load: one process-wide governor that trades label quality for frame rate when busy.

Why: every live session on the server shares its CPU cores. Past what the cores can carry, each
session's frames queue behind the others' model runs, frame latency climbs and streamlit-webrtc starts
dropping frames for everybody at once. The governor watches two things: the server process's own CPU
use (training runs in child processes and does not count) and the time the sessions' frames take in
the processor. When the CPU use stays above ``high`` of the cores or the frames' p95 above ``slow_ms``
for two periods (or the CPU use passes ``surge`` once), every live session steps down one level of
``LEVELS`` together: first the model looks at one view of the face instead of its test-time views (the
largest single cost, ``bench/capacity.py``), then faces are found and classified on fewer frames.
Labels stay fresh (the worker always takes the newest face), the video keeps its frame rate, and all
sessions degrade evenly. When the CPU use is under ``low`` and frames under ``fast_ms`` for ``hold_s``
it steps back up. Why both signals: CPU use alone misses the bursts (a model run takes both cores for
a moment) that make frames late while the average still looks fine.

``bench/capacity.py`` measures the app's path with this governor; ``LiveStats.load_level`` carries the
level to the readout so the page can say why labels refresh less often.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fer_core.inference.sessions import cpu_cores


@dataclass(frozen=True)
class Quality:
    """What one level of load costs each live session."""

    level: int
    single_view: bool  # classify one view of the face instead of the model card's test-time views
    detect_every: int  # at least this many frames between face detections (and so classifications)

    def describe(self) -> str:
        """A plain sentence for the readout (empty at full quality)."""
        if self.level == 0:
            return ""
        parts = ["one view of the face per label"] if self.single_view else []
        if self.detect_every > 1:
            parts.append(f"faces found every {self.detect_every}th frame")
        return "The server is busy: " + " and ".join(parts) + " (the video keeps its frame rate)."


LEVELS: tuple[Quality, ...] = (
    Quality(0, single_view=False, detect_every=1),
    Quality(1, single_view=True, detect_every=1),
    Quality(2, single_view=True, detect_every=4),
    Quality(3, single_view=True, detect_every=6),
    Quality(4, single_view=True, detect_every=10),
)


class LoadGovernor:
    """Picks the quality level for every live session from the process's recent CPU use.

    ``observe()`` is cheap and called on every frame; it re-decides at most every ``period_s``.
    ``cpu`` and ``clock`` are injectable (seconds of process CPU, seconds of wall time) for tests.
    """

    def __init__(self, high: float = 0.65, low: float = 0.4, surge: float = 0.85, slow_ms: float = 20.0,
                 fast_ms: float = 12.0, period_s: float = 1.0, hold_s: float = 3.0,
                 cores: int | None = None, cpu: Callable[[], float] = time.process_time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0.0 < low < high <= surge:
            raise ValueError(f"need 0 < low < high <= surge, got low={low} high={high} surge={surge}")
        self.high, self.low, self.surge, self.period_s, self.hold_s = high, low, surge, period_s, hold_s
        self.slow_ms, self.fast_ms = slow_ms, fast_ms
        self._latencies: list[float] = []  # frame times (ms) noted since the last decision
        self.cores = cores or cpu_cores()
        self._cpu, self._clock = cpu, clock
        self._lock = threading.Lock()
        self._level = 0
        self._last_cpu, self._last_t = cpu(), clock()
        self._calm_since: float | None = None
        self._busy_periods = 0  # consecutive periods above ``high``
        self.share = 0.0  # the last measured CPU use, as a share of the cores
        self.frame_p95_ms = 0.0  # the last measured p95 of the sessions' frame times

    def note_frame(self, ms: float) -> None:
        """One session's frame took ``ms`` in the processor (called by every live processor per frame)."""
        with self._lock:
            if len(self._latencies) < 10_000:
                self._latencies.append(ms)

    @property
    def quality(self) -> Quality:
        return LEVELS[self._level]

    def observe(self) -> Quality:
        """The quality in force now, re-deciding it when a period has passed."""
        now = self._clock()
        with self._lock:
            if now - self._last_t >= self.period_s:
                cpu = self._cpu()
                self.share = (cpu - self._last_cpu) / ((now - self._last_t) * self.cores)
                lat = sorted(self._latencies)
                self.frame_p95_ms = lat[int(0.95 * (len(lat) - 1))] if lat else 0.0
                self._latencies.clear()
                self._last_cpu, self._last_t = cpu, now
                self._decide(now)
            return LEVELS[self._level]

    def _decide(self, now: float) -> None:
        """One step down when busy (two periods, or one surge), one step up after ``hold_s`` of calm (lock held).

        Why two periods: a session starting (threads, first frames) makes a one-second burst that would
        otherwise push every session down a level it then keeps, since calm is measured against ``low``.
        """
        busy = self.share > self.high or self.frame_p95_ms > self.slow_ms
        self._busy_periods = self._busy_periods + 1 if busy else 0
        if self.share > self.surge or self._busy_periods >= 2:
            self._level = min(len(LEVELS) - 1, self._level + 1)
            self._busy_periods = 0
            self._calm_since = None
        elif busy:
            self._calm_since = None
        elif self.share < self.low and self.frame_p95_ms < self.fast_ms and self._level > 0:
            if self._calm_since is None:
                self._calm_since = now
            elif now - self._calm_since >= self.hold_s:
                self._level -= 1
                self._calm_since = now
        else:
            self._calm_since = None


_shared: LoadGovernor | None = None
_shared_lock = threading.Lock()


def shared_governor() -> LoadGovernor:
    """The server process's one governor (every live session of the process follows it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LoadGovernor()
        return _shared


__all__ = ["LEVELS", "LoadGovernor", "Quality", "shared_governor"]
