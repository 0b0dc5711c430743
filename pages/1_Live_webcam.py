"""Live webcam: expressions in the browser's camera stream, annotated frame by frame.

The flow, top to bottom: the sidebar, the streamer (drawn before the model loads, so START is there at once),
the model, the admission under the server's cap, then a loop that refreshes the readout while the stream
plays. Frames are processed in streamlit-webrtc's worker thread by the browser's ``LiveSession``.
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

import time

import streamlit as st

from fer_core.inference import timing
from webui.calibrate import CalibrationPanel
from webui.live import Readout, live_session, live_sidebar
from webui.models import pipeline_or_stop
from webui.navigation import setup_page
from webui.webrtc import camera_streamer

setup_page("Live webcam", icon="🎥")
model_dir, detector, haar, options = live_sidebar()
live = live_session(st.session_state)

st.title("🎥 Live webcam")
st.caption("Press **START** and allow the camera. The largest face is boxed in its expression's colour, as "
           "in the charts; frames are processed on the server.")

left, right = st.columns([3, 2])
with left:
    # frames that arrive before the model has loaded pass through unannotated
    ctx = camera_streamer("live", queued_video_frames_callback=live.callback,
                          desired_playing_state=live.desired_playing_state())
    full_notice = st.empty()  # "The server is full" goes under the video
    calibration_area = st.container()  # "Calibrate to my face", filled once the model has loaded
    with st.expander("Camera and connection help"):
        st.markdown(
            "- **Choosing a camera:** press **SELECT DEVICE** under the video (before START) and pick the "
            "camera; the browser remembers the choice.\n"
            "- **No camera prompt?** Browsers only allow cameras on **HTTPS** or on `localhost`. "
            "When the app runs on another machine, open it through HTTPS (a reverse proxy with a "
            "certificate, or `streamlit run ... --server.sslCertFile cert.pem --server.sslKeyFile key.pem`).\n"
            "- **Stuck on connecting?** Across networks WebRTC needs a STUN/TURN server: set "
            "`FER_ICE_SERVERS` to a JSON list such as "
            '`[{"urls": ["stun:stun.example.org:3478"]}]` or `ice_servers` in `.streamlit/secrets.toml`.\n'
            "- A red square in the video's corner means that frame could not be analysed; the error "
            "is shown below the readout."
        )

with right:
    readout = Readout()
    readout.loading()
    pipeline = pipeline_or_stop(model_dir, detector, **haar)
personal = CalibrationPanel(pipeline, model_dir)  # the person's calibration, and any calibration under way
processor = live.use(personal.pipeline, options, config=(str(model_dir), detector, tuple(sorted(haar.items()))))
readout.note = personal.note
names = list(pipeline.classifier.class_names)
if note := live.restart_note():
    st.toast(note)

turn = live.admit(ctx)  # over the server's cap the stream is told to stop: a message, not a frozen video
if turn == "rerun":
    st.rerun()
with calibration_area:
    personal.draw(playing=turn == "play")
if live.message():
    full_notice.error(live.message())

notice = st.empty()  # same slot in both branches, so the "stopped" notice never lingers while playing
if turn == "play" and ctx.state.playing:
    refreshes = 0
    while ctx.state.playing:
        if finished := personal.step(processor):  # a calibration was just fitted: draw the page with it
            st.toast(finished)
            st.rerun()
        stats = processor.snapshot()
        readout.show(stats, details=refreshes % timing.DETAILS_EVERY == 0)
        if refreshes % timing.TIMELINE_EVERY == 0:
            readout.show_timeline(processor.timeline(), names)
        refreshes += 1
        time.sleep(timing.LABEL_REFRESH_S)
else:
    live.end_stream()
    readout.show_stopped(processor.timeline(), names)
    if not live.message():
        notice.info("The stream is stopped. Press START to begin.")
    while live.awaiting_stop():  # a refused stream: its "stopped" report reruns the page and ends this wait
        full_notice.error(live.message())
        time.sleep(timing.STOP_POLL_S)
    if live.buttons_back():
        st.rerun()
