"""The live page's moving parts: the frame callback, one processor per browser session, status texts.

Why: the callback runs in streamlit-webrtc's worker thread (no ``st.*`` there) and must never
raise, or the video stops; keeping it here lets tests feed it real ``av.VideoFrame``s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import av
import numpy as np

from fer_core.inference.draw import mark_error
from fer_core.inference.live import LiveOptions, LiveProcessor, LiveStats
from fer_core.inference.timeline import FrameRow
from webui.common import label_line

log = logging.getLogger(__name__)

SESSION_KEY = "live_slot"


class ProcessorSlot:
    """Holds a session's current ``LiveProcessor``; swapping it (new model or detector) keeps the
    callback the stream already uses valid."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.processor: LiveProcessor | None = None
        self.config: tuple[Any, ...] | None = None

    def install(self, config: tuple[Any, ...], build: Callable[[], LiveProcessor]) -> LiveProcessor:
        """Keep the processor when ``config`` is unchanged, else build a new one and close the old."""
        with self._lock:
            if self.processor is not None and self.config == config:
                return self.processor
            old, self.processor, self.config = self.processor, build(), config
        if old is not None:
            old.close()
        return self.processor  # type: ignore[return-value]

    def process(self, rgb: np.ndarray) -> np.ndarray:
        proc = self.processor
        return rgb if proc is None else proc.process(rgb)

    def snapshot(self) -> LiveStats:
        proc = self.processor
        return LiveStats() if proc is None else proc.snapshot()

    def close(self) -> None:
        """Stop the processor's worker thread (it restarts by itself on the next frame)."""
        proc = self.processor
        if proc is not None:
            proc.close()

    def reset(self) -> None:
        """Clear the processor's label and counters (after a stream stopped); its timeline stays."""
        proc = self.processor
        if proc is not None:
            proc.reset()

    def timeline(self) -> list[FrameRow]:
        proc = self.processor
        return [] if proc is None else proc.timeline()


def make_frame_callback(processor: Any) -> Callable[[av.VideoFrame], av.VideoFrame]:
    """A ``video_frame_callback`` that annotates frames with ``processor.process(rgb)``.

    Never raises: if conversion or processing fails, the frame is passed through (marked red
    in a corner when it could be converted at all).
    """
    failures: set[str] = set()

    def callback(frame: av.VideoFrame) -> av.VideoFrame:
        rgb = None
        try:
            rgb = frame.to_ndarray(format="rgb24")
            out = processor.process(rgb)
            new = av.VideoFrame.from_ndarray(np.ascontiguousarray(out, dtype=np.uint8), format="rgb24")
        except Exception as exc:  # the video thread must survive anything
            kind = type(exc).__name__
            if kind not in failures:
                failures.add(kind)
                log.exception("live frame conversion failed (%s); frames pass through", kind)
            if rgb is None:
                return frame
            try:
                new = av.VideoFrame.from_ndarray(mark_error(rgb), format="rgb24")
            except Exception:  # noqa: BLE001 - the video thread must survive anything
                return frame
        try:
            new.pts, new.time_base = frame.pts, frame.time_base
        except Exception:  # noqa: BLE001 - timing fields are optional on odd frames
            pass
        return new

    return callback


def session_slot(state: Any) -> ProcessorSlot:
    """The browser session's slot (``state`` is ``st.session_state``)."""
    slot = state.get(SESSION_KEY)
    if not isinstance(slot, ProcessorSlot):
        slot = ProcessorSlot()
        state[SESSION_KEY] = slot
    return slot


def session_processor(state: Any, pipeline: Any, options: LiveOptions, config: tuple[Any, ...]) -> LiveProcessor:
    """One ``LiveProcessor`` per session on the shared pipeline; options applied every run."""
    slot = session_slot(state)
    proc = slot.install(config, lambda: LiveProcessor(pipeline, options))
    proc.set_options(smoothing=options.smoothing, label_all=options.label_all,
                     detect_every=options.detect_every, alpha=options.alpha)
    return proc


TIMELINE_SECONDS = 60.0  # the live page charts the last minute


def recent_timeline(rows: list[FrameRow], seconds: float = TIMELINE_SECONDS) -> tuple[list[FrameRow], float, float]:
    """The rows of the last ``seconds`` and the window ``(start, end)`` they are charted in."""
    if not rows:
        return [], 0.0, seconds
    end = max(rows[-1].time, seconds)
    start = end - seconds
    return [r for r in rows if r.time >= start], start, end


def expression_line(stats: LiveStats) -> str:
    """``Expression: happy (87%)`` or ``Expression: no face yet``."""
    return label_line("Expression", stats.label, stats.score)


def stats_lines(stats: LiveStats) -> list[str]:
    """The counters under the expression, in the page contract's wording."""
    return [
        f"Frames processed: {stats.frames}",
        f"FPS: {stats.fps:.1f}",
        f"Latency: {stats.latency_ms:.0f} ms",
        f"Faces in view: {stats.faces}",
        f"Model runs: {stats.classified} ({stats.classify_ms:.0f} ms each)",
    ] + ([f"First label: {stats.first_label_ms / 1000:.1f} s after the first frame"]
         if stats.first_label_ms is not None else [])


__all__ = ["ProcessorSlot", "SESSION_KEY", "TIMELINE_SECONDS", "expression_line", "make_frame_callback",
           "recent_timeline", "session_processor", "session_slot", "stats_lines"]
