"""The live page's moving parts: the frame callback, one processor per browser session, status texts.

Why: the callback runs in streamlit-webrtc's worker thread (no ``st.*`` there) and must never
raise, or the video stops; keeping it here lets tests feed it real ``av.VideoFrame``s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import av
import numpy as np
import streamlit as st

from fer_core.data.labels import label_line
from fer_core.inference.draw import mark_error
from fer_core.inference.live import SKIP_WINDOW_S, LiveOptions, LiveProcessor, LiveStats
from fer_core.inference.load import shared_governor
from fer_core.inference.sessions import LiveLease, LiveSessions, live_sessions
from fer_core.inference.timeline import FrameRow
from fer_core.settings import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

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

    def note_skipped(self, count: int) -> None:
        proc = self.processor
        if proc is not None:
            proc.note_skipped(count)

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


def make_queued_callback(processor: Any, lease: LiveLease | None = None
                          ) -> Callable[[list[av.VideoFrame]], Awaitable[list[av.VideoFrame]]]:
    """A ``queued_video_frames_callback``: every frame that arrived since the last call comes in; the newest
    is annotated as ``make_frame_callback`` does, the others are counted as skipped (``note_skipped``).

    Why: streamlit-webrtc keeps only the newest frame when processing falls behind; with a plain callback
    those drops are silent, so a saturated server just looked slow. Each call also tells ``lease`` the
    stream is alive. Never raises.

    Why one frame back, not one per frame that came in: streamlit-webrtc's track sends one processed frame
    per incoming frame, oldest first, so a second frame returned here would wait in its queue and delay
    every later frame by one; a frame left out only shows the one before it a frame longer.
    """
    one = make_frame_callback(processor)

    async def callback(frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        if not frames:
            return []
        try:
            if lease is not None:
                lease.touch()
            if len(frames) > 1:
                processor.note_skipped(len(frames) - 1)
        except Exception:  # noqa: BLE001 - counting must never stop the video
            log.exception("live frame bookkeeping failed")
        return [one(frames[-1])]

    return callback


def _kept(state: Any, key: str, kind: type[T]) -> T:
    """The session's ``kind`` object under ``key`` (made on first use; ``state`` is ``st.session_state``)."""
    obj = state.get(key)
    if not isinstance(obj, kind):
        obj = kind()
        state[key] = obj
    return obj


def session_slot(state: Any) -> ProcessorSlot:
    """The browser session's slot (``state`` is ``st.session_state``)."""
    return _kept(state, SESSION_KEY, ProcessorSlot)


def session_processor(state: Any, pipeline: Any, options: LiveOptions, config: tuple[Any, ...]) -> LiveProcessor:
    """One ``LiveProcessor`` per session on the shared pipeline; options applied every run."""
    slot = session_slot(state)
    governor = shared_governor() if get_settings().live_adapt else None
    proc = slot.install(config, lambda: LiveProcessor(pipeline, options, governor=governor))
    proc.set_options(smoothing=options.smoothing, label_all=options.label_all,
                     detect_every=options.detect_every, alpha=options.alpha)
    return proc


GATE_KEY = "live_gate"


STOP_GRACE_S = 5.0  # a refused stream not reported stopped by then gets its buttons back anyway
STOP_POLL_S = 0.25


@dataclass
class Refusal:
    """A START that found the server full: how full, and whether that stream is still being stopped."""

    active: int
    cap: int
    stopping: bool = True
    own: int = 0  # when the owner's share was the limit: how many streams they hold
    since: float = field(default_factory=time.monotonic)


class LiveGate:
    """Lets a session's stream play only while the server has a place (``FER_MAX_LIVE_SESSIONS``).

    One per browser session (``live_gate``). Call ``admit(ctx)`` right after ``webrtc_streamer``: a stream
    that starts (signalling or playing) takes a place; over the cap the run is repeated with
    ``desired_playing_state()`` False, which stops the stream in the browser (and hides its buttons), then
    once it has stopped once more with None (START is back); ``message()`` says why until the next START.
    A stopped stream gives its place back. ``await_stop`` keeps that from hanging on a report that never comes.
    """

    def __init__(self, sessions: LiveSessions | None = None) -> None:
        self.sessions = sessions or live_sessions()
        self.lease = self.sessions.lease()
        self.refusal: Refusal | None = None

    def desired_playing_state(self) -> bool | None:
        """False while a refused stream is being stopped, else None (the user's START and STOP decide)."""
        return False if self._stopping else None

    @property
    def _stopping(self) -> bool:
        """A refused stream is being stopped: drawn told to stop, its buttons hidden."""
        return self.refusal is not None and self.refusal.stopping

    def _buttons_back(self) -> None:
        """Draw the streamer again with START (it was drawn told to stop, which hides the buttons); the
        message stays until the next START."""
        assert self.refusal is not None
        self.refusal.stopping = False
        st.rerun()

    def admit(self, ctx: Any) -> bool:
        """True when the stream is on (signalling or playing) and holds a place."""
        state = ctx.state
        if not (state.playing or getattr(state, "signalling", False)):
            self.lease.release()
            if self._stopping:
                self._buttons_back()  # the refused stream has stopped
            return False
        if self._stopping:
            return False
        owner = _owner_key()
        if self.lease.acquire(owner):
            self.refusal = None
            return True
        own = self.sessions.active(owner) if owner else 0
        self.refusal = Refusal(active=self.sessions.active(), cap=self.sessions.cap,
                               own=own if own and own >= self.sessions.per_owner else 0)
        log.info("live session refused: %d of %d places taken", self.refusal.active, self.refusal.cap)
        st.rerun()  # draw the streamer again, told to stop
        return False  # not reached outside Streamlit

    def await_stop(self, tick: Callable[[], None]) -> None:
        """Call last in a run that told a refused stream to stop: wait for the browser's "stopped" report
        (it reruns the page, which ends this wait at the next ``tick``, an ``st`` call), and if none has come
        within ``STOP_GRACE_S`` of the refusal, draw the streamer with its buttons again all the same.

        Why: the run that clears ``stopping`` only happens when a report arrives; without one the streamer stays
        drawn without its buttons until a reload (a CI run once saw no START for 30 s after a refusal).
        """
        r = self.refusal
        if r is None or not r.stopping:
            return
        while time.monotonic() - r.since < STOP_GRACE_S:
            tick()
            time.sleep(STOP_POLL_S)
        log.warning("a refused live stream was not reported stopped within %.0f s: its buttons are drawn again",
                    STOP_GRACE_S)
        self._buttons_back()

    def message(self) -> str | None:
        """What the page says instead of a frozen video while the last START was refused."""
        r = self.refusal
        if r is None:
            return None
        if r.own:
            return (f"You already have {r.own} live stream{'s' if r.own != 1 else ''} open in another tab or window "
                    "of this browser: stop it there first.")
        n = max(r.active, r.cap)
        return f"The server is full ({n} live session{'s' if n != 1 else ''}): try again in a minute."


def _owner_key() -> str:
    """Whose stream this is, for the per-owner share; "" (the server's cap only) for the machine's own user."""
    from webui.owner import current_owner

    owner = current_owner()
    return "" if owner.is_local else owner.key


def live_gate(state: Any) -> LiveGate:
    """The browser session's gate (``state`` is ``st.session_state``)."""
    return _kept(state, GATE_KEY, LiveGate)


SATURATED_SHARE = 0.2  # the readout warns when this share of the camera's frames was skipped lately


def saturation_note(stats: LiveStats) -> str | None:
    """A warning while the server is busy: frames dropped lately, or the load governor's lower quality."""
    notes = []
    if stats.skipped_share >= SATURATED_SHARE:
        notes.append(f"The server is saturated: {stats.skipped_share:.0%} of your camera's frames in the last "
                     f"{SKIP_WINDOW_S:g} s "
                     "were skipped unseen, so the video and the label update less often.")
    if stats.load_note:
        notes.append(stats.load_note)
    return " ".join(notes) or None


TIMELINE_SECONDS = 60.0  # the live page charts the last minute


def recent_timeline(rows: list[FrameRow], seconds: float = TIMELINE_SECONDS) -> tuple[list[FrameRow], float, float]:
    """The rows of the last ``seconds`` and the window ``(start, end)`` they are charted in."""
    if not rows:
        return [], 0.0, seconds
    end = max(rows[-1].time, seconds)
    start = end - seconds
    return [r for r in rows if r.time >= start], start, end


def expression_line(stats: LiveStats) -> str:
    """``Expression: happy 87%`` or ``Expression: no face yet``."""
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
         if stats.first_label_ms is not None else []) + (
        [f"Frames skipped (server busy): {stats.skipped}"] if stats.skipped else [])


__all__ = ["GATE_KEY", "LiveGate", "ProcessorSlot", "Refusal", "SESSION_KEY", "TIMELINE_SECONDS", "expression_line",
           "live_gate", "make_frame_callback", "make_queued_callback", "recent_timeline", "saturation_note",
           "session_processor", "session_slot", "stats_lines"]
