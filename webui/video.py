"""The Video page's background analysis (one per browser session) and its charts.

Why a thread: a video takes seconds to minutes, a Streamlit script run must not. The page keeps
its ``VideoJob`` in ``st.session_state`` and only reads it; the thread touches no ``st.*``. A new
upload cancels the session's running job, and an owner's new job their job in any other tab. At
most ``MAX_PARALLEL`` analyses run at once in the server, so several sessions share the CPU instead
of all slowing to a crawl; a job whose visitor has left (their session gone for ``GRACE_S``) stops,
so abandoned videos do not hold the slots. The upload waits on disk, not in memory.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from fer_core.errors import FerError, one_line
from fer_core.inference.pipeline import Pipeline
from fer_core.inference.stream import StreamOptions
from fer_core.inference.video import AnalysisCancelled, VideoResult, analyze_video
from webui.charts import NO_FACE, class_scale

log = logging.getLogger(__name__)

MAX_PARALLEL = 2
GRACE_S = 30.0  # a job goes on this long after its session is gone (a reload or a dropped connection)
_slots = threading.BoundedSemaphore(MAX_PARALLEL)
_owners_lock = threading.Lock()
_owner_jobs: dict[str, VideoJob] = {}  # the one job each owner may have


def always() -> bool:
    return True


def session_alive() -> Callable[[], bool]:
    """Whether this script run's browser session is still connected, as a check a thread can call."""
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        runtime = Runtime.instance()
    except (ImportError, RuntimeError):
        return always
    if ctx is None:
        return always
    session_id = ctx.session_id
    return lambda: runtime.is_active_session(session_id)


def spool(upload: Any, name: str) -> Path:
    """Copy an upload to a file of its own in a new temporary folder (the job removes the folder)."""
    work = Path(tempfile.mkdtemp(prefix="fer-video-"))
    path = work / ("input" + Path(name).suffix.lower()[:8])
    upload.seek(0)
    with open(path, "wb") as f:
        shutil.copyfileobj(upload, f, 1024 * 1024)
    return path


def upload_limit_mb(video_mb: int) -> int:
    """The video size the page may promise: the smaller of FER_MAX_VIDEO_MB and what the server
    accepts at all (``server.maxUploadSize``), so the uploader refuses a larger file itself."""
    try:
        import streamlit as st

        server_mb = int(st.get_option("server.maxUploadSize"))
    except (RuntimeError, ValueError, TypeError, ImportError):
        return video_mb
    return min(video_mb, server_mb) if server_mb > 0 else video_mb


@dataclass
class VideoOutput:
    """What the page shows once a job is done (the temporary files are gone by then)."""

    result: VideoResult
    video: bytes  # the annotated H.264 mp4
    csv: bytes


class VideoJob:
    """One upload's analysis in a daemon thread: progress, then an output or a one-line error."""

    def __init__(self, key: Any, name: str, source: Path, pipeline: Pipeline, options: StreamOptions, *,
                 alive: Callable[[], bool] = always, owner: str = "", grace_s: float = GRACE_S) -> None:
        """``source``: the spooled upload (its folder is the job's and is removed at the end);
        ``alive``: whether the visitor's session is still there; ``owner``: whose job it is."""
        self.key, self.name, self.source = key, name, source
        self.cancel = threading.Event()
        self.started = time.monotonic()
        self.done_frames, self.total_frames = 0, None
        self.waiting = True  # for a free analysis slot
        self.output: VideoOutput | None = None
        self.error: str | None = None
        self.abandoned = False  # stopped because its visitor left
        self._alive, self._grace_s, self._seen = alive, grace_s, time.monotonic()
        if owner:
            with _owners_lock:
                earlier = _owner_jobs.get(owner)
                _owner_jobs[owner] = self
            if earlier is not None:
                earlier.stop()  # one job per owner: the newest upload, in whichever tab
        self._thread = threading.Thread(target=self._run, args=(source, pipeline, options), name="fer-video",
                                        daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def fraction(self) -> float:
        return min(1.0, self.done_frames / self.total_frames) if self.total_frames else 0.0

    def stop(self) -> None:
        """Ask the analysis to stop (it does within a frame); its files are removed by the thread."""
        self.cancel.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self.running

    def _progress(self, done: int, total: int | None) -> None:
        self.done_frames, self.total_frames = done, total
        self._check_visitor()

    def _check_visitor(self) -> bool:
        """Stop (and say so) once the visitor's session has been gone for the grace period."""
        now = time.monotonic()
        if self._alive():
            self._seen = now
        elif now - self._seen > self._grace_s and not self.cancel.is_set():
            self.abandoned = True
            self.cancel.set()
            log.info("video analysis of %s stopped: its visitor left", self.name)
        return self.cancel.is_set()

    def _take_slot(self) -> bool:
        """Wait for a free analysis slot, unless cancelled or abandoned meanwhile."""
        while not _slots.acquire(timeout=0.5):
            if self._check_visitor():
                return False
        return True

    def _run(self, source: Path, pipeline: Pipeline, options: StreamOptions) -> None:
        work = source.parent
        try:
            if not self._take_slot():
                return
            try:
                self.waiting = False
                if self._check_visitor():
                    return
                result = analyze_video(source, pipeline, out=work / "annotated.mp4", options=options,
                                       progress=self._progress, cancel=self.cancel, name=self.name)
                self.output = VideoOutput(result, (work / "annotated.mp4").read_bytes(), result.csv())
            finally:
                _slots.release()
        except AnalysisCancelled:
            log.info("video analysis of %s cancelled", self.name)
        except FerError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug must end as a message on the page, not a dead spinner
            log.exception("video analysis of %s failed", self.name)
            self.error = one_line(f"{self.name}: could not be analysed ({type(exc).__name__}: {exc})")
        finally:
            shutil.rmtree(work, ignore_errors=True)


def replace_job(state: Any, slot: str, key: Any, start: Any) -> VideoJob:
    """The session's job for ``key``: the existing one, or ``start()`` after cancelling any other."""
    job: VideoJob | None = state.get(slot)
    if job is not None and job.key == key:
        return job
    if job is not None:
        job.stop()
    job = start()
    state[slot] = job
    return job


def drop_job(state: Any, slot: str) -> None:
    """Cancel and forget the session's job (the upload was removed)."""
    job: VideoJob | None = state.pop(slot, None)
    if job is not None:
        job.stop()


# ---------------------------------------------------------------- charts
def label_segments(rows: list[Any], end: float) -> list[dict[str, Any]]:
    """Runs of the same label (or no face) as ``{start, end, label}``, for the band above the chart."""
    segments: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        label = row.label or NO_FACE
        stop = rows[i + 1].time if i + 1 < len(rows) else max(end, row.time)
        if segments and segments[-1]["label"] == label:
            segments[-1]["end"] = stop
        else:
            segments.append({"start": row.time, "end": stop, "label": label})
    return segments


def timeline_frame(rows: list[Any], class_names: list[str], max_points: int = 600) -> Any:
    """Long table (time, class, probability) of the frames with a face, thinned to ``max_points`` times."""
    step = max(1, -(-len(rows) // max_points))
    records = [{"time": r.time, "class": c, "probability": float(r.probabilities.get(c, 0.0))}
               for r in rows[::step] if r.probabilities for c in class_names]
    return pd.DataFrame(records, columns=["time", "class", "probability"])


def timeline_chart(rows: list[Any], class_names: list[str], duration: float, start: float = 0.0,
                   height: int = 260, title: str = "Expression over time",
                   legend_columns: int | None = None, band_end: float | None = None) -> alt.VConcatChart:
    """Probabilities over time from ``start`` to ``duration`` s, one line per class, the label band above.

    The band's last label lasts to ``band_end`` (default ``duration``, the end of a video). Why: the live page
    charts a fixed minute, and a stream stopped after 4 s must not read as that face's label for all 60."""
    colors = class_scale([*class_names, NO_FACE])
    legend = alt.Legend(title=None, orient="top", direction="horizontal", symbolType="square",
                        columns=legend_columns or alt.Undefined)
    domain = [start, max(duration, start + 1e-3)]
    x = alt.X("start:Q", title=None, axis=alt.Axis(labels=False, ticks=False),
              scale=alt.Scale(domain=domain, nice=False))
    band = (
        alt.Chart(pd.DataFrame(label_segments(rows, duration if band_end is None else band_end)))
        .mark_rect()
        .encode(x=x, x2="end:Q", color=alt.Color("label:N", scale=colors, legend=legend),
                tooltip=["label:N", alt.Tooltip("start:Q", format=".1f", title="from (s)"),
                         alt.Tooltip("end:Q", format=".1f", title="to (s)")])
        .properties(height=28, title=title)
    )
    lines = (
        alt.Chart(timeline_frame(rows, class_names))
        .mark_line(interpolate="monotone", strokeWidth=1.8)
        .encode(
            x=alt.X("time:Q", title="time (s)", scale=alt.Scale(domain=domain, nice=False)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title=None),
            color=alt.Color("class:N", scale=colors, legend=legend),
            tooltip=["class:N", alt.Tooltip("time:Q", format=".2f"), alt.Tooltip("probability:Q", format=".0%")],
        )
        .properties(height=height)
    )
    return alt.vconcat(band, lines, spacing=4).resolve_scale(color="shared")


__all__ = ["NO_FACE", "VideoJob", "VideoOutput", "drop_job", "label_segments", "replace_job",
           "timeline_chart", "timeline_frame"]
