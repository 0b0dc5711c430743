"""Live page in AppTest. ``webrtc_streamer`` cannot run in AppTest, so it is replaced by a stand-in
that feeds real frames through the page's real callback (real model, real detector) and reports
"playing" for a few loop turns; the browser test covers the real WebRTC path.

The page's callback is a ``queued_video_frames_callback`` (a coroutine taking the frames that arrived
since the last call); ``deliver`` runs it without an event loop, as it never awaits."""

from __future__ import annotations

import streamlit_webrtc

import json
import re
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow
import pytest

from tests.app.apptest import StreamContext as _Ctx
from tests.app.apptest import StreamState, no_exceptions, page, texts
from tests.app.test_live_callback import frame_640x480


def deliver(callback: Any, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
    """Run the page's queued-frames callback on ``frames`` (one batch) and return what it sends back."""
    coro = callback(frames)
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise AssertionError("the frames callback awaited something")


class FakeStreamer:
    """Records the call and plays ``frames`` through the page's ``video_frame_callback`` once the page
    first asks whether the stream plays (as in a browser, frames arrive after the page has run)."""

    def __init__(self, frames: list[np.ndarray], turns: int) -> None:
        self.frames, self.turns = frames, turns
        self.calls: list[dict[str, Any]] = []
        self.outputs: list[av.VideoFrame] = []

    def __call__(self, *args: Any, **kwargs: Any) -> _Ctx:
        self.calls.append(kwargs)
        ctx = _Ctx(self.turns)
        ctx.state = FeedingState(self.turns, lambda: self._feed(kwargs["queued_video_frames_callback"]))
        return ctx

    def _feed(self, callback: Any) -> None:
        import streamlit as st

        for i, rgb in enumerate(self.frames):
            self.outputs.extend(deliver(callback, [av.VideoFrame.from_ndarray(rgb, format="rgb24")]))
            if i == 0:  # let the worker thread classify the first face before the next frames
                live = st.session_state["live_session"]
                end = time.monotonic() + 60
                while (live.processor is None or live.processor.snapshot().classified < 1) and time.monotonic() < end:
                    time.sleep(0.05)


class FeedingState(StreamState):
    """``playing`` for ``turns`` reads; the first read plays the frames."""

    def __init__(self, turns: int, feed: Any) -> None:
        super().__init__(turns)
        self._feed: Any = feed

    @property
    def playing(self) -> bool:
        if self._feed is not None:
            feed, self._feed = self._feed, None
            feed()
        return StreamState.playing.fget(self)  # type: ignore[attr-defined]


def _patch(monkeypatch: pytest.MonkeyPatch, fake: FakeStreamer) -> None:
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)


def test_stopped_stream_shows_widgets_and_help(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeStreamer([], turns=0)
    _patch(monkeypatch, fake)
    at = page("pages/1_Live_webcam.py").run()
    no_exceptions(at)
    call = fake.calls[0]
    assert call["key"] == "live" and call["mode"] == streamlit_webrtc.WebRtcMode.SENDRECV
    assert call["rtc_configuration"] == {"iceServers": []}
    assert call["media_stream_constraints"] == {"video": {"width": 640, "height": 480}, "audio": False}
    assert call["async_processing"] is True and callable(call["queued_video_frames_callback"])
    assert call["desired_playing_state"] is None, "START and STOP are the user's while the server has room"
    sb = at.sidebar
    assert sb.selectbox(key="live_detector").value == "auto"
    assert {s.label for s in sb.slider} >= {"scaleFactor", "minNeighbors", "minSize (pixels)",
                                            "Detect faces every N frames"}
    assert sb.toggle(key="live_smoothing").value is True
    assert sb.radio(key="live_label_all").options == ["Only the largest face", "All faces"]
    body = texts(at)
    assert "Expression: —" in body and "Frames processed" not in body  # no figures from a stream that ended
    assert "SELECT DEVICE" in body and "HTTPS" in body
    assert any("Press START" in i.value for i in at.info)


def test_playing_stream_updates_readout(app_env: Path, monkeypatch: pytest.MonkeyPatch,
                                        astronaut: np.ndarray) -> None:
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    frame = frame_640x480(astronaut)
    fake = FakeStreamer([frame] * 4, turns=3)
    _patch(monkeypatch, fake)
    at = page("pages/1_Live_webcam.py").run()
    no_exceptions(at)
    out = fake.outputs[-1].to_ndarray(format="rgb24")
    assert out.shape == frame.shape and not np.array_equal(out, frame), "frames come back annotated"
    body = texts(at)
    assert re.search(r"^Expression: (angry|happy|sad) \d{1,3}%$", body, re.M), body
    assert "Frames processed: 4" in body
    assert re.search(r"^FPS: \d+\.\d$", body, re.M) and re.search(r"^Latency: \d+ ms$", body, re.M)
    assert at.get("vega_lite_chart"), "probability chart while playing"
    at.session_state["live_session"].end_stream()


def test_settings_change_keeps_one_processor_per_session(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, FakeStreamer([], turns=0))
    at = page("pages/1_Live_webcam.py").run()
    first = at.session_state["live_session"].processor
    at.sidebar.toggle(key="live_smoothing").set_value(False).run()
    assert at.session_state["live_session"].processor is first and first.options.smoothing is False
    at.sidebar.slider(key="live_haar_neighbors").set_value(8).run()
    no_exceptions(at)
    assert at.session_state["live_session"].processor is not first  # new detector settings, new processor


def test_streamer_is_drawn_before_the_model_loads(app_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """A model that cannot load still leaves START on the page (the model loads after the streamer)."""
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.json").write_text("{not json")
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("FER_DEFAULT_MODEL", "broken")
    fake = FakeStreamer([], turns=0)
    _patch(monkeypatch, fake)
    at = page("pages/1_Live_webcam.py").run()
    assert fake.calls, "the streamer must be drawn before the model is loaded"
    assert any("cannot be used" in e.value for e in at.error)


def test_stopping_clears_the_last_label(app_env: Path, monkeypatch: pytest.MonkeyPatch,
                                        astronaut: np.ndarray) -> None:
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    fake = FakeStreamer([frame_640x480(astronaut)] * 2, turns=2)
    _patch(monkeypatch, fake)
    at = page("pages/1_Live_webcam.py").run()
    assert at.session_state["live_session"].processor.snapshot().label is not None
    fake.frames, fake.turns = [], 0
    at.run()  # the stream has stopped
    no_exceptions(at)
    assert "Expression: —" in texts(at)
    assert at.session_state["live_session"].processor.snapshot().label is None and "FPS: " not in texts(at)
    button = at.get("download_button")
    assert button, "the stopped stream's timeline can be downloaded"
    assert "Download this session" in button[0].proto.label
    chart = next(c for c in at.get("vega_lite_chart") if '"vconcat"' in c.proto.spec)  # the last minute
    rect = next(v for v in json.loads(chart.proto.spec)["vconcat"] if v["mark"]["type"] == "rect")
    data = next(d.data.data for d in chart.proto.datasets if d.name == rect["data"]["name"])
    band = pyarrow.ipc.open_stream(data).read_pandas()
    last = at.session_state["live_session"].processor.timeline()[-1].time
    assert band["end"].iloc[-1] == pytest.approx(last), "the label band stops where the stream did, not at 60 s"


def test_the_live_page_stays_a_page_a_newcomer_can_read() -> None:
    """The page holds the flow and few names (at most 8 from the project); the helpers it calls neither rerun
    the script nor wait in loops, so every rerun and wait is visible on the page."""
    import ast

    root = Path(__file__).resolve().parents[2]
    tree = ast.parse((root / "pages" / "1_Live_webcam.py").read_text())
    ours = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            and (node.module or "").split(".")[0] in {"fer_core", "webui"} for alias in node.names]
    assert 0 < len(ours) <= 8, ours
    for helper in (root / "webui").glob("*.py"):
        code = [line for line in helper.read_text().splitlines() if not line.lstrip().startswith(("#", "``"))]
        calls = [line.strip() for line in code if "st.rerun(" in line or "time.sleep(" in line]
        assert not calls, f"{helper.name}: {calls}"
