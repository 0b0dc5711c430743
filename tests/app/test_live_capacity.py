"""The live page under load, in AppTest: beyond FER_MAX_LIVE_SESSIONS a START gets "The server is full"
(the stream is told to stop, no frozen video), the place comes back when another session stops; frames
skipped while the server is busy show in the readout. The stand-in streamer is test_live_page's, made
to honour ``desired_playing_state`` as streamlit-webrtc's component does."""

from __future__ import annotations

import streamlit_webrtc

import re
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from fer_core.inference import timing
from fer_core.inference.sessions import live_sessions
from tests.app.apptest import StreamContext, no_exceptions, page, texts
from tests.app.test_live_callback import frame_640x480
from tests.app.test_live_page import FakeStreamer, deliver
from webui.live import SMOOTH_FPS

FULL = "The server is full (1 live session): try again in a minute."


class GatedStreamer(FakeStreamer):
    """Plays (``turns`` loop turns) after START; told ``desired_playing_state=False`` it stops, as the
    component does, and stays stopped until the test plays it again (the user's next START)."""

    stop_report_turns = 0  # reads of "playing" after being told to stop, before the browser's report is in

    def __init__(self, frames: list[np.ndarray], turns: int, batch: int = 1) -> None:
        super().__init__(frames, turns)
        self.batch = batch  # frames per callback call: more than one means the server fell behind

    def __call__(self, *args: Any, **kwargs: Any) -> StreamContext:
        if kwargs.get("desired_playing_state") is False:
            self.calls.append(kwargs)
            self.turns = 0
            return StreamContext(self.stop_report_turns)
        return super().__call__(*args, **kwargs)

    def _feed(self, callback: Any) -> None:
        frames = [av.VideoFrame.from_ndarray(rgb, format="rgb24") for rgb in self.frames]
        for i in range(0, len(frames), self.batch):
            self.outputs.extend(deliver(callback, frames[i:i + self.batch]))


@pytest.fixture()
def one_place(app_env: Path, monkeypatch: pytest.MonkeyPatch):
    """A cap of one live session, taken by another browser session; yields that session's lease."""
    import gc

    gc.collect()  # earlier tests' browser sessions give their places back when they are collected
    monkeypatch.setenv("FER_MAX_LIVE_SESSIONS", "1")
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    other = live_sessions().lease()
    assert other.acquire(), "no other test may hold a place here"
    yield other
    other.release()


def test_a_session_beyond_the_cap_is_told_the_server_is_full(one_place, monkeypatch: pytest.MonkeyPatch,
                                                              astronaut: np.ndarray) -> None:
    fake = GatedStreamer([frame_640x480(astronaut)] * 2, turns=2)
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    at = page("pages/1_Live_webcam.py").run()  # START pressed: the stream signals/plays
    no_exceptions(at)
    # told to stop; once stopped, drawn again with the user's START and STOP
    assert [c.get("desired_playing_state") for c in fake.calls] == [None, False, None]
    assert FULL in [e.value for e in at.error]
    body = texts(at)
    assert "Frames processed" not in body and "Press START" not in body
    gate = at.session_state["live_session"]
    assert not gate.lease.held and live_sessions().active() == 1

    at.run()  # a rerun while stopped (any widget): START is offered, the message stays
    no_exceptions(at)
    assert fake.calls[-1].get("desired_playing_state") is None
    assert FULL in [e.value for e in at.error]

    one_place.release()  # the other session pressed STOP
    fake.frames, fake.turns = [frame_640x480(astronaut)] * 2, 3
    at.run()  # START again
    no_exceptions(at)
    assert fake.calls[-1].get("desired_playing_state") is None
    assert not at.error and "Frames processed: 2" in texts(at)
    assert gate.lease.held and live_sessions().active() == 1
    at.session_state["live_session"].end_stream()

    fake.frames, fake.turns = [], 0
    at.run()  # STOP: the place is given back
    assert not gate.lease.held and live_sessions().active() == 0


def test_a_refused_stream_never_reported_stopped_gets_its_buttons_back(one_place, monkeypatch: pytest.MonkeyPatch,
                                                                      astronaut: np.ndarray) -> None:
    monkeypatch.setattr(timing, "STOP_GRACE_S", 0.5)
    fake = GatedStreamer([frame_640x480(astronaut)] * 2, turns=2)
    fake.stop_report_turns = 100  # told to stop, it plays on as far as the server knows: the report never comes
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    at = page("pages/1_Live_webcam.py").run()
    no_exceptions(at)
    # told to stop, no report within the grace: drawn again with the user's START and STOP, still refused
    assert [c.get("desired_playing_state") for c in fake.calls] == [None, False, None]
    assert FULL in [e.value for e in at.error]
    assert "Frames processed" not in texts(at)
    gate = at.session_state["live_session"]
    assert not gate.lease.held and live_sessions().active() == 1


def test_frames_skipped_while_busy_show_in_the_readout(app_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                        astronaut: np.ndarray) -> None:
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    fake = GatedStreamer([frame_640x480(astronaut)] * 9, turns=3, batch=3)  # 2 of every 3 frames dropped
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    at = page("pages/1_Live_webcam.py").run()
    no_exceptions(at)
    body = texts(at)
    assert "Frames processed: 3" in body and "Frames skipped (server busy): 6" in body, body
    warnings = [w.value for w in at.warning]
    saturated = any(w.startswith("The server is saturated: 67% of your camera's frames") for w in warnings)
    fps = float(re.search(r"^FPS: (\d+\.\d)$", body, re.M).group(1))  # type: ignore[union-attr]
    assert saturated == (fps < SMOOTH_FPS), (fps, warnings)  # an alarm only when the video is not smooth
    assert len(fake.outputs) == 3, "one frame goes back per batch"
    at.session_state["live_session"].end_stream()



def test_one_browser_holds_one_place_however_many_tabs(app_env: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, astronaut: np.ndarray) -> None:
    """Issue 36: two tabs of one browser took every place (cap 2). With places to spare on the server, a
    second stream of the same owner is refused with its own message; another visitor still gets a place."""
    from fer_core.owners import Visit, identify

    monkeypatch.setenv("FER_MAX_LIVE_SESSIONS", "2")
    monkeypatch.setenv("FER_OWNERS", "private")
    monkeypatch.setenv("FER_OWNER_ROOT", str(tmp_path / "owners"))
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    first_tab = live_sessions().lease()
    assert first_tab.acquire(identify("private", Visit(), browser_token="one-browser").key)
    try:
        fake = GatedStreamer([frame_640x480(astronaut)] * 2, turns=2)
        monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
        second_tab = page("pages/1_Live_webcam.py")
        second_tab.session_state["_owner_token"] = "one-browser"  # the same owner as the first tab
        second_tab.run()
        no_exceptions(second_tab)
        assert [c.get("desired_playing_state") for c in fake.calls] == [None, False, None]
        assert any("You already have 1 live stream open" in e.value for e in second_tab.error)
        assert live_sessions().active() == 1
        someone_else = live_sessions().lease()
        assert someone_else.acquire(identify("private", Visit(), browser_token="another-browser").key)
        someone_else.release()
    finally:
        first_tab.release()
