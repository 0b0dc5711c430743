"""Live webcam: expressions in the browser's camera stream, annotated frame by frame.

Shape of streamlit-webrtc's example pages: constants, the frame callback, the streamer,
then a loop that refreshes the readouts while the stream plays. Frames are processed in
streamlit-webrtc's worker thread by a per-session ``LiveProcessor`` on the shared model.
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

import time

import streamlit as st

from fer_core.inference.detection import HAAR_DEFAULTS
from fer_core.inference.live import LiveOptions, LiveStats
from fer_core.inference.timeline import FrameRow, timeline_csv
from webui.charts import probability_chart
from webui.live import (
    expression_line,
    live_gate,
    make_queued_callback,
    recent_timeline,
    saturation_note,
    session_processor,
    session_slot,
    stats_lines,
)
from webui.models import DETECTOR_LABELS, detector_choices, pipeline_or_stop, sidebar_model_picker
from webui.navigation import setup_page
from webui.video import timeline_chart
from webui.webrtc import camera_streamer

REFRESH_SECONDS = 0.5  # readout refresh (faster refreshes stall a busy browser: charts redraw each time)
FIRST_LABEL_POLL_SECONDS = 0.1  # until the first label: it shows as soon as it exists, not up to 0.5 s later
FIRST_LABEL_TURNS = 50  # fast refreshes at most this many times (a stream with no face goes back to 0.5 s)
TIMELINE_EVERY = 4  # redraw the last-minute chart every 4th refresh (every 2 s)

setup_page("Live webcam", icon="🎥")
model_dir = sidebar_model_picker()

# ---------------------------------------------------------------- sidebar: how frames are processed
with st.sidebar:
    st.header("Live settings")
    choices = detector_choices()
    detector = st.selectbox("Face detector", choices, format_func=lambda k: DETECTOR_LABELS[k], key="live_detector",
                            help="YuNet finds turned, dark and small faces; the Haar cascade is the classic "
                                 "OpenCV detector. Auto uses YuNet when its model file is installed.")
    with st.expander("Haar cascade settings", expanded=detector == "haar"):
        scale_factor = st.slider("scaleFactor", 1.05, 1.5, float(HAAR_DEFAULTS["scale_factor"]), 0.05,
                                 key="live_haar_scale", help="Step between detection scales: lower finds more, slower.")
        min_neighbors = st.slider("minNeighbors", 1, 12, int(HAAR_DEFAULTS["min_neighbors"]), key="live_haar_neighbors",
                                  help="Higher means fewer false faces but more missed ones.")
        min_size = st.slider("minSize (pixels)", 10, 200, int(HAAR_DEFAULTS["min_size"]), 5, key="live_haar_min_size",
                             help="Smallest face side, in full-frame pixels.")
    smoothing = st.toggle("Smooth the expression over frames", value=True, key="live_smoothing",
                          help="An exponential average of the probabilities, so the label stops flickering.")
    label_all = st.radio("Label", ["Only the largest face", "All faces"], key="live_label_all",
                         help="The largest face is always boxed in green and drives the readout.") == "All faces"
    detect_every = st.slider("Detect faces every N frames", 1, 6, 2, key="live_detect_every",
                             help="Between detections the last boxes are held; higher is faster.")

haar = {"scale_factor": scale_factor, "min_neighbors": min_neighbors, "min_size": min_size}
options = LiveOptions(smoothing=smoothing, label_all=label_all, detect_every=detect_every)
slot = session_slot(st.session_state)
gate = live_gate(st.session_state)  # a place under FER_MAX_LIVE_SESSIONS while the stream plays

# ---------------------------------------------------------------- the page first, the model after
# The streamer is drawn before the model loads, so START is there at once on a cold server and the
# WebRTC connection is made while TensorFlow and the model load; frames that arrive before the
# processor is installed pass through unannotated.
frames_callback = make_queued_callback(slot, gate.lease)  # counts frames skipped while the server is busy

st.title("🎥 Live webcam")
st.caption("Press **START** and allow the camera. The largest face is boxed in green with its expression; "
           "frames are processed on the server.")

left, right = st.columns([3, 2])
with left:
    ctx = camera_streamer("live", queued_video_frames_callback=frames_callback,
                          desired_playing_state=gate.desired_playing_state())
    full_notice = st.empty()  # "The server is full" goes under the video
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
    readout = st.empty()
    timeline_slot = st.empty()
    readout.info("Loading the expression model… (the first start of the server takes a few seconds)")
    pipeline = pipeline_or_stop(model_dir, detector, **haar)
    session_processor(st.session_state, pipeline, options,
                      config=(str(model_dir), detector, tuple(sorted(haar.items()))))

admitted = gate.admit(ctx)  # over FER_MAX_LIVE_SESSIONS the stream is told to stop: a message, not a frozen video
if gate.message():
    full_notice.error(gate.message())


def show(stats: LiveStats) -> None:
    """Fill the readout placeholder with the latest stats (called at least once a second)."""
    with readout.container():
        st.subheader(expression_line(stats), anchor=False)
        for line in stats_lines(stats):
            st.text(line)
        if stats.probabilities:
            st.altair_chart(probability_chart(stats.probabilities), width="stretch")
        if note := saturation_note(stats):
            st.warning(note)
        if stats.error:
            st.warning(f"Last frame problem: {stats.error}")


def show_timeline(rows: list[FrameRow]) -> None:
    """The largest face's expression over the last minute, under the readout."""
    recent, start, end = recent_timeline(rows)
    if not recent:
        return
    names = list(pipeline.classifier.class_names)
    chart = timeline_chart(recent, names, end, start=start, height=120, title="The last minute", legend_columns=3,
                           band_end=recent[-1].time)
    timeline_slot.altair_chart(chart, width="stretch")


def show_stopped(rows: list[FrameRow]) -> None:
    """No live figures from a stream that ended (they would read as current); its timeline to download."""
    with readout.container():
        st.subheader("Expression: —", anchor=False)
        st.caption("Label, FPS and faces appear here while the stream plays.")
        if rows:
            names = list(pipeline.classifier.class_names)
            st.download_button("Download this session (CSV)", timeline_csv(rows, names),
                               file_name="live_session.csv", mime="text/csv", on_click="ignore",
                               help=f"The largest face at each of the {len(rows):,} labels since START: time, box, "
                                    "label, score and every class's probability.")
    show_timeline(rows)


# ---------------------------------------------------------------- UI loop while the stream plays
notice = st.empty()  # same slot in both branches, so the "stopped" notice never lingers while playing
if ctx.state.playing and admitted:
    turn = 0
    while ctx.state.playing:
        stats = slot.snapshot()
        show(stats)
        if turn % TIMELINE_EVERY == 0:
            show_timeline(slot.timeline())
        turn += 1
        fast = stats.label is None and turn < FIRST_LABEL_TURNS  # waiting for the first label (for 5 s at most)
        time.sleep(FIRST_LABEL_POLL_SECONDS if fast else REFRESH_SECONDS)
else:
    slot.close()  # stop the classification thread while nothing streams
    slot.reset()  # the next START begins with no stale label; the timeline stays for the download
    show_stopped(slot.timeline())
    if not gate.message():
        notice.info("The stream is stopped. Press START to begin.")
    gate.await_stop(lambda: full_notice.error(gate.message()))  # a refused stream's buttons come back
