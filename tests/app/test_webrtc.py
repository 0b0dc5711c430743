"""webui.webrtc: where the ICE servers come from, and the one camera request of the Live and Capture pages."""

from __future__ import annotations

import ast

import pytest

from tests.app.apptest import ROOT
from webui.webrtc import MEDIA_STREAM_CONSTRAINTS, no_ice_servers, rtc_configuration


def test_rtc_default_is_no_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    assert rtc_configuration() == no_ice_servers() == {"iceServers": []}
    rtc_configuration()["iceServers"].append({"urls": "stun:x"})  # a fresh dict each time
    assert rtc_configuration() == {"iceServers": []}


@pytest.mark.parametrize("value, expected", [
    ('[{"urls": ["stun:stun.example.org:3478"]}]', [{"urls": ["stun:stun.example.org:3478"]}]),
    ('{"iceServers": [{"urls": "turn:t.example.org", "username": "u", "credential": "c"}]}',
     [{"urls": "turn:t.example.org", "username": "u", "credential": "c"}]),
    ('{"urls": "stun:one.example.org"}', [{"urls": "stun:one.example.org"}]),
])
def test_rtc_from_env(monkeypatch: pytest.MonkeyPatch, value: str, expected: list) -> None:
    monkeypatch.setenv("FER_ICE_SERVERS", value)
    assert rtc_configuration() == {"iceServers": expected}


@pytest.mark.parametrize("value", ["not json", '[{"no_urls": 1}]', "42"])
def test_rtc_bad_env_falls_back(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FER_ICE_SERVERS", value)
    assert rtc_configuration() == {"iceServers": []}


def test_camera_pages_take_their_webrtc_settings_from_one_place() -> None:
    """Live and Capture open their stream through ``camera_streamer``; neither writes ICE servers or sizes."""
    assert MEDIA_STREAM_CONSTRAINTS == {"video": {"width": 640, "height": 480}, "audio": False}
    for script in ("pages/1_Live_webcam.py", "pages/5_Capture.py"):
        source = (ROOT / script).read_text()
        tree = ast.parse(source)
        imported = {a.name for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "webui.webrtc"
                    for a in n.names}
        assert "camera_streamer" in imported, script
        assert "iceServers" not in source and '"width": 640' not in source, script
        assert "webrtc_streamer(" not in source and "WebRtcMode" not in source, script
