"""A video's expressions over time: one row per analysed frame, its CSV, and the summary of it.

Why apart from the decoding: the rows are plain data, so the command line, the Video page and
the tests summarise and export them the same way without touching PyAV or TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fer_core.data.csvout import table_csv

BASE_COLUMNS = ("time_s", "frame", "x", "y", "w", "h", "label", "score")


@dataclass
class FrameRow:
    """The largest face of one analysed frame (``box`` ``None`` when no face was in view)."""

    time: float
    frame: int
    faces: int
    classified: bool = False  # the model ran on this frame (else the latest result was held)
    box: tuple[int, int, int, int] | None = None
    label: str | None = None
    score: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)


@dataclass
class Summary:
    """What a video showed: time per expression, the dominant one, frames without a face."""

    duration: float
    frames_analysed: int
    frames_without_face: int
    share: dict[str, float]  # expression -> share of the time a face was in view (sums to 1)
    dominant: str | None
    face_seconds: float

    def lines(self) -> list[str]:
        """The summary as short lines of text (command line and page)."""
        out = [f"duration: {self.duration:.1f} s",
               f"frames analysed: {self.frames_analysed}",
               f"frames without a face: {self.frames_without_face}",
               f"dominant expression: {self.dominant or 'none (no face seen)'}"]
        if self.share:
            out.append("share of time: " + ", ".join(f"{k} {v:.0%}" for k, v in self.sorted_share()))
        return out

    def sorted_share(self) -> list[tuple[str, float]]:
        return sorted(self.share.items(), key=lambda kv: -kv[1])


def row_spans(rows: list[FrameRow], duration: float) -> np.ndarray:
    """How long each row stands for: until the next analysed frame (the last: to the end, at most
    one typical interval), so a sampled or variable-rate video is weighted by real time."""
    if not rows:
        return np.zeros(0)
    times = np.array([r.time for r in rows], dtype=np.float64)
    gaps = np.diff(times)
    typical = float(np.median(gaps)) if len(gaps) else max(duration - times[0], 0.0) or 1.0
    last = min(max(duration - times[-1], 0.0), typical) if duration > times[-1] else typical
    return np.maximum(np.append(gaps, last), 0.0)


def summarize(rows: list[FrameRow], duration: float | None = None) -> Summary:
    """Share of time per expression (over the time a face was in view), the dominant one, misses."""
    end = duration if duration is not None else (rows[-1].time if rows else 0.0)
    spans = row_spans(rows, end)
    totals: dict[str, float] = {}
    for row, span in zip(rows, spans):
        if row.label is not None:
            totals[row.label] = totals.get(row.label, 0.0) + float(span)
    face_time = sum(totals.values())
    share = {k: v / face_time for k, v in totals.items()} if face_time > 0 else {}
    dominant = max(share, key=lambda k: share[k]) if share else None
    if duration is None and rows:
        end = rows[-1].time + (float(spans[-1]) if len(spans) else 0.0)
    return Summary(duration=float(end), frames_analysed=len(rows),
                   frames_without_face=sum(1 for r in rows if r.box is None),
                   share=share, dominant=dominant, face_seconds=face_time)


def table(rows: list[FrameRow], class_names: list[str]) -> list[dict[str, Any]]:
    """Rows as dicts: time, frame, box, label, score, one ``p_<class>`` column per class, faces."""
    out = []
    for r in rows:
        x, y, w, h = r.box if r.box is not None else (None, None, None, None)
        row: dict[str, Any] = {"time_s": round(r.time, 4), "frame": r.frame, "x": x, "y": y, "w": w, "h": h,
                               "label": r.label, "score": None if r.score is None else round(r.score, 4)}
        for c in class_names:
            p = r.probabilities.get(c)
            row[f"p_{c}"] = None if p is None else round(float(p), 4)
        row["faces"] = r.faces
        row["classified"] = int(r.classified)
        out.append(row)
    return out


def columns(class_names: list[str]) -> list[str]:
    return [*BASE_COLUMNS, *(f"p_{c}" for c in class_names), "faces", "classified"]


def timeline_csv(rows: list[FrameRow], class_names: list[str]) -> bytes:
    """The timeline as UTF-8 CSV, one row per analysed frame, empty cells where no face was seen."""
    return table_csv(table(rows, class_names), columns(class_names))


__all__ = ["FrameRow", "Summary", "columns", "row_spans", "summarize", "table", "timeline_csv"]
