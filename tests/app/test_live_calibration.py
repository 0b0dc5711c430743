"""The live page's "Calibrate to my face" in AppTest: a stand-in streamer plays real frames through the page's
real callback (real model, real detector), one per readout refresh; the flow prompts each of the model's
expressions, fits, saves beside the owner's captures and applies the calibration; a reload keeps it; reset
removes it."""

from __future__ import annotations

import streamlit_webrtc

import json
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import webui.calibrate
from fer_core.inference import timing
from tests.app.apptest import StreamContext, StreamState, no_exceptions, page, texts
from tests.app.test_live_callback import frame_640x480
from tests.app.test_live_page import deliver


class SteadyState(StreamState):
    """``playing`` for ``turns`` reads; each read first plays one frame and waits for its label."""

    def __init__(self, turns: int, play: Any) -> None:
        super().__init__(turns)
        self._play = play

    @property
    def playing(self) -> bool:
        if self.turns > 0:
            self._play()
        return StreamState.playing.fget(self)  # type: ignore[attr-defined]


class SteadyStreamer:
    """A camera that holds one face in view: a frame per read of ``playing``, each labelled before the page
    goes on (so a calibration's labels arrive at a known pace; the page is set to detect on every frame)."""

    def __init__(self, frame: np.ndarray, turns: int) -> None:
        self.frame, self.turns = frame, turns

    def __call__(self, *args: Any, **kwargs: Any) -> StreamContext:
        ctx = StreamContext(self.turns)
        ctx.state = SteadyState(self.turns, lambda: self._play(kwargs["queued_video_frames_callback"]))
        return ctx

    def _play(self, callback: Any) -> None:
        import streamlit as st

        live = st.session_state.get("live_session")
        before = -1 if live is None or live.processor is None else live.processor.snapshot().classified
        deliver(callback, [av.VideoFrame.from_ndarray(self.frame, format="rgb24")])
        end = time.monotonic() + (60 if before < 1 else 5)  # the first label waits for the model's tracing
        while live is not None and live.processor is not None and time.monotonic() < end:
            if live.processor.snapshot().classified > before:
                return
            time.sleep(0.01)


def _page() -> Any:
    """The live page in AppTest; its stream's place under the server's cap is given back after the test."""
    at = page("pages/1_Live_webcam.py")
    _opened.append(at)
    return at


_opened: list[Any] = []


@pytest.fixture()
def calibrating(app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astronaut: np.ndarray):
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    monkeypatch.setenv("FER_OWNERS", "single")
    monkeypatch.setenv("FER_CAPTURE_ROOT", str(tmp_path / "captures"))
    monkeypatch.setattr(timing, "LABEL_REFRESH_S", 0.0)
    monkeypatch.setattr(webui.calibrate, "SETTLE_S", 0.0)
    monkeypatch.setattr(webui.calibrate, "FACES_PER_EXPRESSION", 2)
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", SteadyStreamer(frame_640x480(astronaut), turns=20))
    yield tmp_path / "calibrations" / "tiny.json"
    for at in _opened:  # the sessions' places, so that a later test can count on an empty server
        live = at.session_state["live_session"] if "live_session" in at.session_state else None
        if live is not None:
            live.end_stream()
            live.lease.release()
    _opened.clear()


def test_calibrating_prompts_each_expression_fits_saves_and_applies(calibrating: Path) -> None:
    at = _page()
    at.session_state["live_detect_every"] = 1
    at.run()
    no_exceptions(at)
    start = at.button(key="calibrate_start")
    assert start.label == "Calibrate to my face" and not start.disabled
    assert "calibrated for you" not in texts(at)

    at.button(key="calibrate_start").click().run()  # every expression in turn, then fitted and drawn again
    no_exceptions(at)
    assert calibrating.is_file(), "the calibration is kept beside the owner's captures"
    saved = json.loads(calibrating.read_text())
    assert sorted(saved["classes"]) == ["angry", "happy", "sad"] and saved["model"]["name"] == "tiny"
    assert not any(k in json.dumps(saved) for k in ("pixels", "image", "crop")), "numbers only, no faces"
    assert any("calibrated for you (3 expressions)" in t.value for t in at.toast)
    assert "calibrated for you (3 expressions)" in texts(at), "the readout says the labels are the person's"
    assert at.button(key="calibrate_start").label == "Calibrate again"
    live = at.session_state["live_session"]
    assert live.processor.pipeline.calibration is not None, "the stream runs through the calibration"

    again = _page().run()  # a reload: a new browser session of the same owner
    no_exceptions(again)
    assert "calibrated for you (3 expressions)" in texts(again)

    again.button(key="calibrate_reset").click().run()
    no_exceptions(again)
    assert not calibrating.exists() and "calibrated for you" not in texts(again)
    assert again.button(key="calibrate_start").label == "Calibrate to my face"


def test_skipping_all_but_one_expression_changes_nothing(calibrating: Path) -> None:
    at = _page()
    at.session_state[webui.calibrate.RUN_KEY] = webui.calibrate.CalibrationRun(["happy", "sad", "angry"],
                                                                               position=2)  # two skipped
    at.run()
    no_exceptions(at)
    assert not calibrating.exists()
    assert any("at least two expressions" in t.value for t in at.toast)


def test_a_calibration_for_another_model_is_not_used(calibrating: Path) -> None:
    calibrating.parent.mkdir(parents=True)
    from fer_core.inference.calibration import fit_calibration

    other = fit_calibration(np.eye(3)[[0, 0, 1, 1]] * 0.9 + 0.03, ["angry", "angry", "happy", "happy"],
                            ["angry", "happy", "sad"], model_name="tiny", model_fingerprint="sha256:" + "0" * 64)
    other.save(calibrating)
    at = _page().run()
    no_exceptions(at)
    assert any("not used" in i.value and "another model" in i.value for i in at.info)
    assert "calibrated for you" not in texts(at)
