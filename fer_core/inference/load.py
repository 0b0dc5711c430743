"""Graceful under load: one process-wide governor that trades label quality for frame rate when busy.

Why: every live session on the server shares its CPU cores. Past what the cores can carry, each
session's frames queue behind the others' model runs, frame latency climbs and streamlit-webrtc starts
dropping frames for everybody at once. The governor watches the server process's own CPU use (training
runs in child processes and does not count) and, when it passes ``high`` of the cores, steps every live
session down one level of ``LEVELS`` together: first the model looks at one view of the face instead of
its test-time views (the largest single cost, ``bench/capacity.py``), then faces are found and classified
on fewer frames. Labels stay fresh (the worker always takes the newest face), the video keeps its frame
rate, and all sessions degrade evenly. When use falls under ``low`` for ``hold_s`` it steps back up.

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

    def __init__(self, high: float = 0.6, low: float = 0.3, period_s: float = 1.0, hold_s: float = 3.0,
                 cores: int | None = None, cpu: Callable[[], float] = time.process_time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0.0 < low < high <= 1.0:
            raise ValueError(f"need 0 < low < high <= 1, got low={low} high={high}")
        self.high, self.low, self.period_s, self.hold_s = high, low, period_s, hold_s
        self.cores = cores or cpu_cores()
        self._cpu, self._clock = cpu, clock
        self._lock = threading.Lock()
        self._level = 0
        self._last_cpu, self._last_t = cpu(), clock()
        self._calm_since: float | None = None
        self.share = 0.0  # the last measured CPU use, as a share of the cores

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
                self._last_cpu, self._last_t = cpu, now
                self._decide(now)
            return LEVELS[self._level]

    def _decide(self, now: float) -> None:
        """One step down when busy, one step up after ``hold_s`` of calm (lock held)."""
        if self.share > self.high:
            self._level = min(len(LEVELS) - 1, self._level + 1)
            self._calm_since = None
        elif self.share < self.low and self._level > 0:
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
