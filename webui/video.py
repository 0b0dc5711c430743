"""The Video page's background analysis (one per browser session) and its charts.

Why a thread: a video takes seconds to minutes, a Streamlit script run must not. The page keeps
its ``VideoJob`` in ``st.session_state`` and only reads it; the thread touches no ``st.*``. A new
upload cancels the session's running job. At most ``MAX_PARALLEL`` analyses run at once in the
server, so several sessions share the CPU instead of all slowing to a crawl.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
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
_slots = threading.BoundedSemaphore(MAX_PARALLEL)


@dataclass
class VideoOutput:
    """What the page shows once a job is done (the temporary files are gone by then)."""

    result: VideoResult
    video: bytes  # the annotated H.264 mp4
    csv: bytes


class VideoJob:
    """One upload's analysis in a daemon thread: progress, then an output or a one-line error."""

    def __init__(self, key: Any, name: str, data: bytes, pipeline: Pipeline, options: StreamOptions) -> None:
        self.key, self.name = key, name
        self.cancel = threading.Event()
        self.started = time.monotonic()
        self.done_frames, self.total_frames = 0, None
        self.waiting = True  # for a free analysis slot
        self.output: VideoOutput | None = None
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, args=(data, pipeline, options), name="fer-video",
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

    def _run(self, data: bytes, pipeline: Pipeline, options: StreamOptions) -> None:
        work = Path(tempfile.mkdtemp(prefix="fer-video-"))
        try:
            with _slots:
                self.waiting = False
                if self.cancel.is_set():
                    return
                source = work / ("input" + Path(self.name).suffix.lower()[:8])
                source.write_bytes(data)
                del data
                result = analyze_video(source, pipeline, out=work / "annotated.mp4", options=options,
                                       progress=self._progress, cancel=self.cancel, name=self.name)
                self.output = VideoOutput(result, (work / "annotated.mp4").read_bytes(), result.csv())
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
