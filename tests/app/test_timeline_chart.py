"""webui.video's timeline chart: the label band above the probability lines, for a video and for the live minute."""

from __future__ import annotations

from typing import Any

from fer_core.inference.timeline import FrameRow
from webui.video import NO_FACE, label_segments, timeline_chart

NAMES = ["happy", "sad"]


def rows(*labels: str | None, step: float = 0.5) -> list[FrameRow]:
    return [FrameRow(time=i * step, frame=i, faces=int(lab is not None), label=lab,
                     probabilities={"happy": 0.9, "sad": 0.1} if lab else {}) for i, lab in enumerate(labels)]


def band(spec: dict[str, Any]) -> list[dict[str, Any]]:
    rect = next(c for c in spec["vconcat"] if c["mark"]["type"] == "rect")
    return spec["datasets"][rect["data"]["name"]]


def test_segments_join_runs_and_name_missing_faces() -> None:
    segs = label_segments(rows("happy", "happy", None, "sad"), end=4.0)
    assert [(s["label"], s["start"], s["end"]) for s in segs] == [
        ("happy", 0.0, 1.0), (NO_FACE, 1.0, 1.5), ("sad", 1.5, 4.0)]


def test_video_band_runs_to_the_end_of_the_video() -> None:
    spec = timeline_chart(rows("happy", "sad"), NAMES, duration=3.0).to_dict()
    assert band(spec)[-1] == {"start": 0.5, "end": 3.0, "label": "sad"}


def test_live_band_stops_at_the_last_label_not_at_the_end_of_the_minute() -> None:
    """A stream stopped after 1 s is charted in a 60-s window; its last label must not fill the other 59."""
    spec = timeline_chart(rows("happy", "happy", "happy"), NAMES, duration=60.0, band_end=1.0).to_dict()
    assert band(spec) == [{"start": 0.0, "end": 1.0, "label": "happy"}]
    lines = next(c for c in spec["vconcat"] if c["mark"]["type"] == "line")
    assert lines["encoding"]["x"]["scale"]["domain"] == [0.0, 60.0]  # the window itself stays a minute
