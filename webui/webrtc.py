"""WebRTC settings of the camera pages (Live webcam, Capture): ICE servers, what the camera sends, the streamer.

Why one place: both pages open the same kind of stream; a STUN/TURN server set for one must
serve the other, and both ask the browser for the same picture size.
"""

from __future__ import annotations

import streamlit_webrtc

import json
import logging
from typing import Any

import streamlit as st

from fer_core.settings import get_settings

log = logging.getLogger(__name__)

# 640×480 is what the model needs and a busy server can keep up with; no microphone.
MEDIA_STREAM_CONSTRAINTS: dict[str, Any] = {"video": {"width": 640, "height": 480}, "audio": False}


def no_ice_servers() -> dict[str, Any]:
    """No STUN/TURN server: right on one machine or a LAN (a fresh dict, safe to hand to the streamer)."""
    return {"iceServers": []}


def parse_ice(value: Any) -> dict[str, Any]:
    """``{"iceServers": [...]}`` from JSON text, a list of servers, one server, or the full object.

    Raises ``ValueError`` (or ``TypeError``) when it is none of these.
    """
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict) and "iceServers" in value:
        value = value["iceServers"]
    if isinstance(value, dict):  # a single server
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) and "urls" in v for v in value):
        raise ValueError("expected a list of {urls, username?, credential?} objects")
    return {"iceServers": [dict(v) for v in value]}


def camera_streamer(key: str, **callbacks: Any) -> Any:
    """The camera pages' ``webrtc_streamer``: send and receive, these ICE servers at both ends, async processing.

    ``callbacks``: the frame callback (``video_frame_callback`` or ``queued_video_frames_callback``) and any
    other argument of the streamer (``desired_playing_state``). Looked up on the module at each call, so a
    test can stand in for it.
    """
    ice = rtc_configuration()  # read once (settings or secrets) for both ends of the connection
    return streamlit_webrtc.webrtc_streamer(
        key=key,
        mode=streamlit_webrtc.WebRtcMode.SENDRECV,
        rtc_configuration=ice,
        server_rtc_configuration=dict(ice),  # the server's side too, else aiortc waits on Google STUN
        media_stream_constraints=MEDIA_STREAM_CONSTRAINTS,
        async_processing=True,
        **callbacks,
    )


def rtc_configuration() -> dict[str, Any]:
    """ICE servers for WebRTC: settings (env ``FER_ICE_SERVERS``, JSON), else secret ``ice_servers``, else none.

    No servers is right on one machine or a LAN; across the internet a STUN/TURN server is needed.
    A value that cannot be read is logged and ignored.
    """
    value: Any = get_settings().ice_servers_json.strip() or None
    source = "FER_ICE_SERVERS"
    if value is None:
        try:
            if st.secrets.load_if_toml_exists():
                value = st.secrets.get("ice_servers")
                source = "secrets ice_servers"
        except Exception as exc:  # noqa: BLE001 - a broken secrets file must not stop the page
            log.warning("secrets could not be read: %s", exc)
    if value is None:
        return no_ice_servers()
    try:
        return parse_ice(value)
    except (ValueError, TypeError) as exc:
        log.warning("%s ignored (%s); using no ICE servers", source, exc)
        return no_ice_servers()


__all__ = ["MEDIA_STREAM_CONSTRAINTS", "camera_streamer", "no_ice_servers", "parse_ice", "rtc_configuration"]
