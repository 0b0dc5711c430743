"""Temporal smoothing of class probabilities, so live labels stop flickering.

An exponential moving average over frames; after the face has been missing for a few
frames the state is dropped, so a new face does not inherit the old one's expression.
"""

from __future__ import annotations

import numpy as np

# Weight of the newest frame: at 30 fps a changed expression takes over in a few frames, while
# single-frame flicker is damped.
SMOOTHING_ALPHA = 0.35


class ProbabilitySmoother:
    """Exponential average of probability vectors with reset on loss of the face."""

    def __init__(self, alpha: float = SMOOTHING_ALPHA, reset_after: int = 5) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = float(alpha)
        self.reset_after = int(reset_after)
        self._state: np.ndarray | None = None
        self._missing = 0

    @property
    def value(self) -> np.ndarray | None:
        return None if self._state is None else self._state.copy()

    def update(self, probs: np.ndarray | None) -> np.ndarray | None:
        """Feed this frame's probabilities (``None`` when no face was seen); return the smoothed ones."""
        if probs is None:
            self._missing += 1
            if self._missing >= self.reset_after:
                self._state = None
            return self.value
        p = np.asarray(probs, dtype=np.float64)
        self._missing = 0
        if self._state is None or self._state.shape != p.shape:
            self._state = p.copy()
        else:
            self._state = self.alpha * p + (1.0 - self.alpha) * self._state
        return self.value

    def reset(self) -> None:
        self._state = None
        self._missing = 0
