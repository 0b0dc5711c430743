"""Live page in AppTest. ``webrtc_streamer`` cannot run in AppTest, so it is replaced by a stand-in
that feeds real frames through the page's real callback (real model, real detector) and reports
"playing" for a few loop turns; the browser test covers the real WebRTC path."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import streamlit_webrtc

from tests.app.apptest import StreamContext as _Ctx, no_exceptions, page, texts
from tests.app.test_live_callback import frame_640x480


class FakeStreamer:
    """Records the call and plays ``frames`` through the page's ``video_frame_callback``."""

    def __init__(self, frames: list[np.ndarray], turns: int) -> None:
        self.frames, self.turns = frames, turns
        self.calls: list[dict[str, Any]] = []
        self.outputs: list[av.VideoFrame] = []

    def __call__(self, *args: Any, **kwargs: Any) -> _Ctx:
        import streamlit as st

        self.calls.append(kwargs)
        callback = kwargs["video_frame_callback"]
        for i, rgb in enumerate(self.frames):
            self.outputs.append(callback(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            if i == 0:  # let the worker thread classify the first face before the next frames
                slot = st.session_state["live_slot"]
                end = time.monotonic() + 60
                while slot.snapshot().classified < 1 and time.monotonic() < end:
                    time.sleep(0.05)
        return _Ctx(self.turns)


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
    assert call["async_processing"] is True and callable(call["video_frame_callback"])
    sb = at.sidebar
    assert sb.selectbox(key="live_detector").value == "auto"
    assert {s.label for s in sb.slider} >= {"scaleFactor", "minNeighbors", "minSize (pixels)",
                                            "Detect faces every N frames"}
    assert sb.toggle(key="live_smoothing").value is True
    assert sb.radio(key="live_label_all").options == ["Only the largest face", "All faces"]
    body = texts(at)
    assert "Expression: no face yet" in body and "Frames processed: 0" in body
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
    assert re.search(r"^Expression: (angry|happy|sad) \(\d{1,3}%\)$", body, re.M), body
    assert "Frames processed: 4" in body
    assert re.search(r"^FPS: \d+\.\d$", body, re.M) and re.search(r"^Latency: \d+ ms$", body, re.M)
    assert at.get("vega_lite_chart"), "probability chart while playing"
    at.session_state["live_slot"].close()


def test_settings_change_keeps_one_processor_per_session(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, FakeStreamer([], turns=0))
    at = page("pages/1_Live_webcam.py").run()
    first = at.session_state["live_slot"].processor
    at.sidebar.toggle(key="live_smoothing").set_value(False).run()
    assert at.session_state["live_slot"].processor is first and first.options.smoothing is False
    at.sidebar.slider(key="live_haar_neighbors").set_value(8).run()
    no_exceptions(at)
    assert at.session_state["live_slot"].processor is not first  # new detector settings, new processor
