"""The live page's parts: one ``LiveSession`` per browser, the frame callback, the sidebar and the readout.

Why here and not on the page: the callback runs in streamlit-webrtc's worker thread (no ``st.*`` there) and
must never raise, or the video stops; keeping it here lets tests feed it real ``av.VideoFrame``s. The page
keeps the flow (draw, admit, refresh) and every ``st.rerun`` and wait, so it reads top to bottom.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
import streamlit as st

from fer_core.data.labels import label_line
from fer_core.inference import timing
from fer_core.inference.detection import HAAR_DEFAULTS
from fer_core.inference.draw import mark_error
from fer_core.inference.live import LiveProcessor, LiveStats
from fer_core.inference.load import shared_governor
from fer_core.inference.pipeline import Pipeline
from fer_core.inference.sessions import LiveLease, LiveSessions, live_sessions
from fer_core.inference.stream import StreamOptions
from fer_core.inference.timeline import FrameRow, timeline_csv
from webui.charts import probability_chart
from webui.models import DETECTOR_LABELS, detector_choices, sidebar_model_picker
from webui.video import timeline_chart

log = logging.getLogger(__name__)

SESSION_KEY = "live_session"  # not "live": that key is the streamer's own
Turn = Literal["play", "idle", "rerun"]  # what the page does after ``LiveSession.admit``


@dataclass
class Refusal:
    """A START that found the server full: how full, and whether that stream is still being stopped."""

    active: int
    cap: int
    stopping: bool = True
    own: int = 0  # when the owner's share was the limit: how many streams they hold
    since: float = field(default_factory=time.monotonic)


class LiveSession:
    """One browser's live stream: its processor on the shared model, its place under the server's cap
    (``FER_MAX_LIVE_SESSIONS``) and the stop of a stream that found the server full.

    Kept in the browser's session state (``live_session``). ``callback`` stays valid while the processor is
    swapped for a new model or detector. A stream that starts takes a place (``admit``); over the cap the page
    is drawn again with ``desired_playing_state()`` False, which stops the stream in the browser and hides its
    buttons; once the browser reports it stopped, or ``timing.STOP_GRACE_S`` later, the buttons come back and
    ``message()`` says why until the next START.
    """

    def __init__(self, sessions: LiveSessions | None = None) -> None:
        self.sessions = sessions or live_sessions()
        self.lease: LiveLease = self.sessions.lease()
        self.refusal: Refusal | None = None
        self.processor: LiveProcessor | None = None
        self._config: tuple[Any, ...] | None = None
        self._restarted = False  # a new model or detector replaced a processor that had counted frames
        self._lock = threading.Lock()
        self.callback = make_queued_callback(self, self.lease)

    # ---------------------------------------------------------------- the processor
    def use(self, pipeline: Pipeline, options: StreamOptions, config: tuple[Any, ...]) -> LiveProcessor:
        """The processor for this model and detector (``config``): kept while they stay, else a new one (the old
        one's worker stopped); the options apply from the next frame."""
        with self._lock:
            proc, old = self.processor, None
            if proc is None or self._config != config:
                old, proc = proc, LiveProcessor(pipeline, options, governor=shared_governor())
                self.processor, self._config = proc, config
            else:
                proc.set_options(options)
                proc.pipeline = pipeline  # the same model, perhaps seen through another calibration
        if old is not None:
            old.close()
            self._restarted = old.snapshot().frames > 0 or bool(old.timeline())
        return proc

    def restart_note(self) -> str | None:
        """Once after a new model or detector replaced the processor: why the counters and chart start again."""
        if not self._restarted:
            return None
        self._restarted = False
        return "New model or detector: the counters and the last minute start again."

    def process(self, rgb: np.ndarray) -> np.ndarray:
        """Annotate a frame (the video thread); frames pass through until a processor is installed."""
        proc = self.processor
        return rgb if proc is None else proc.process(rgb)

    def note_skipped(self, count: int) -> None:
        proc = self.processor
        if proc is not None:
            proc.note_skipped(count)

    def end_stream(self) -> None:
        """Nothing streams: stop the model's worker thread and clear the label and counters (a new START
        begins clean); the timeline stays for the download."""
        proc = self.processor
        if proc is not None:
            proc.close()
            proc.reset()

    # ---------------------------------------------------------------- a place under the cap
    def desired_playing_state(self) -> bool | None:
        """False while a refused stream is being stopped, else None (the user's START and STOP decide)."""
        return False if self._stopping else None

    @property
    def _stopping(self) -> bool:
        return self.refusal is not None and self.refusal.stopping

    def admit(self, ctx: Any) -> Turn:
        """After the streamer is drawn: "play" when the stream is on and holds a place, "idle" when nothing
        streams, "rerun" when the page must be drawn again (a refused stream to stop, or its buttons back)."""
        state = ctx.state
        if not (state.playing or getattr(state, "signalling", False)):
            self.lease.release()
            return "rerun" if self.buttons_back() else "idle"
        if self._stopping:
            return "idle"
        owner = _owner_key()
        if self.lease.acquire(owner):
            self.refusal = None
            return "play"
        own = self.sessions.active(owner) if owner else 0
        self.refusal = Refusal(active=self.sessions.active(), cap=self.sessions.cap,
                               own=own if own and own >= self.sessions.per_owner else 0)
        log.info("live session refused: %d of %d places taken", self.refusal.active, self.refusal.cap)
        return "rerun"

    def awaiting_stop(self) -> bool:
        """A refused stream was told to stop and its "stopped" report may still come (within the grace).

        Why the page waits: only a run that the report triggers gives the streamer its buttons back; if the
        report never came, the streamer would show neither START nor STOP until a reload.
        """
        r = self.refusal
        return r is not None and r.stopping and time.monotonic() - r.since < timing.STOP_GRACE_S

    def buttons_back(self) -> bool:
        """End the wait for a refused stream's stop: True when the page must draw the streamer again (with
        START); the message stays until the next START."""
        if not self._stopping:
            return False
        assert self.refusal is not None
        if time.monotonic() - self.refusal.since >= timing.STOP_GRACE_S:
            log.warning("a refused live stream was not reported stopped within %.0f s: its buttons are drawn "
                        "again", timing.STOP_GRACE_S)
        self.refusal.stopping = False
        return True

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


def live_session(state: Any) -> LiveSession:
    """The browser session's ``LiveSession`` (``state`` is ``st.session_state``)."""
    live = state.get(SESSION_KEY)
    if not isinstance(live, LiveSession):
        live = state[SESSION_KEY] = LiveSession()
    return live


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


def live_sidebar() -> tuple[Path, str, dict[str, float], StreamOptions]:
    """The live page's sidebar: the model, the face detector (with the Haar cascade's knobs) and how frames are
    labelled. Returns the model's folder, the detector's kind, the Haar settings and the stream's options."""
    model_dir = sidebar_model_picker()
    with st.sidebar:
        st.header("Live settings")
        detector = st.selectbox("Face detector", detector_choices(), format_func=lambda k: DETECTOR_LABELS[k],
                                key="live_detector",
                                help="YuNet finds turned, dark and small faces; the Haar cascade is the classic "
                                     "OpenCV detector. Auto uses YuNet when its model file is installed.")
        with st.expander("Haar cascade settings", expanded=detector == "haar"):
            haar = {
                "scale_factor": st.slider("scaleFactor", 1.05, 1.5, float(HAAR_DEFAULTS["scale_factor"]), 0.05,
                                          key="live_haar_scale",
                                          help="Step between detection scales: lower finds more, slower."),
                "min_neighbors": st.slider("minNeighbors", 1, 12, int(HAAR_DEFAULTS["min_neighbors"]),
                                           key="live_haar_neighbors",
                                           help="Higher means fewer false faces but more missed ones."),
                "min_size": st.slider("minSize (pixels)", 10, 200, int(HAAR_DEFAULTS["min_size"]), 5,
                                      key="live_haar_min_size", help="Smallest face side, in full-frame pixels."),
            }
        options = StreamOptions(
            smoothing=st.toggle("Smooth the expression over frames", value=True, key="live_smoothing",
                                help="An exponential average of the probabilities, so the label stops flickering."),
            label_all=st.radio("Label", ["Only the largest face", "All faces"], key="live_label_all",
                               help="The largest face is always boxed in colour and drives the readout; "
                                    "the others are boxed in grey.")
            == "All faces",
            detect_every=st.slider("Detect faces every N frames", 1, 6, timing.DETECT_EVERY, key="live_detect_every",
                                   help="Between detections the last boxes are held; higher is faster."),
        )
    return model_dir, detector, haar, options


class Readout:
    """The column beside the video: the expression, the counters, the probabilities and the last minute.

    Made inside the column it fills (two placeholders, redrawn in place on every refresh).
    """

    def __init__(self) -> None:
        self.label = st.empty()
        self.now = st.empty()
        self.recent = st.empty()
        self.note: str | None = None  # under the expression: "calibrated for you (3 expressions)"

    def loading(self) -> None:
        self.now.info("Loading the expression model… (the first start of the server takes a few seconds)")

    def show(self, stats: LiveStats, details: bool = True) -> None:
        """The latest label of a playing stream, and with ``details`` its counters and probabilities.

        Why apart: the label is cheap to redraw, so it can follow the boxes on the video closely; the chart
        is not, so it is redrawn less often.
        """
        with self.label.container():
            st.subheader(expression_line(stats), anchor=False)
            if self.note:
                st.caption(self.note)
        if not details:
            return
        with self.now.container():
            for line in stats_lines(stats):
                st.text(line)
            if stats.probabilities:
                st.altair_chart(probability_chart(stats.probabilities), width="stretch")
            if note := saturation_note(stats):
                st.warning(note)
            if stats.error:
                st.warning(f"Last frame problem: {stats.error}")

    def show_timeline(self, rows: list[FrameRow], class_names: list[str]) -> None:
        """The largest face's expression over the last minute."""
        recent, start, end = recent_timeline(rows)
        if recent:
            self.recent.altair_chart(timeline_chart(recent, class_names, end, start=start, height=120,
                                                    title="The last minute", legend_columns=3,
                                                    band_end=recent[-1].time), width="stretch")

    def show_stopped(self, rows: list[FrameRow], class_names: list[str]) -> None:
        """No live figures from a stream that ended (they would read as current); its timeline to download."""
        self.label.subheader("Expression: —", anchor=False)
        with self.now.container():
            st.caption("Label, FPS and faces appear here while the stream plays.")
            if rows:
                st.download_button("Download this session (CSV)", timeline_csv(rows, class_names),
                                   file_name="live_session.csv", mime="text/csv", on_click="ignore",
                                   help=f"The largest face at each of the {len(rows):,} labels since START: time, "
                                        "box, label, score and every class's probability.")
        self.show_timeline(rows, class_names)


SATURATED_SHARE = 0.2  # the readout warns when this share of the camera's frames was skipped lately
SMOOTH_FPS = 24.0  # at this frame rate the video looks smooth, so skipped frames cost nothing the user sees


def saturation_note(stats: LiveStats) -> str | None:
    """A warning while the server is busy: frames dropped lately, or the load governor's lower quality."""
    notes = []
    if stats.skipped_share >= SATURATED_SHARE and stats.fps < SMOOTH_FPS:
        notes.append(f"The server is saturated: {stats.skipped_share:.0%} of your camera's frames in the last "
                     f"{timing.SKIP_WINDOW_S:g} s "
                     "were skipped unseen, so the video and the label update less often.")
    if stats.load_note:
        notes.append(stats.load_note)
    return " ".join(notes) or None


def recent_timeline(rows: list[FrameRow], seconds: float | None = None) -> tuple[list[FrameRow], float, float]:
    """The rows of the last ``seconds`` (default ``timing.TIMELINE_S``) and the window ``(start, end)`` they are
    charted in."""
    seconds = timing.TIMELINE_S if seconds is None else seconds
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


__all__ = ["SESSION_KEY", "LiveSession", "Readout", "Refusal", "Turn", "expression_line", "live_session",
           "live_sidebar", "make_frame_callback", "make_queued_callback", "recent_timeline", "saturation_note",
           "stats_lines"]
