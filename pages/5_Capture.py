"""Capture: pictures of your own expressions from the webcam, one face crop every few seconds.

The browser camera streams to the server (streamlit-webrtc); a per-session ``CaptureSession``
receives the frames in the video thread and saves the largest face under
``<capture root>/<class>/``. Review them and train on the Teach page.
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

import time

import streamlit as st

from fer_core.data.curation import UNSORTED, class_folder_name, class_names, counts
from fer_core.data.labels import spelling_of
from fer_core.owners import CAPTURES, check_quota
from webui.calibrate import personal, personal_caption
from webui.live import make_frame_callback
from webui.models import pipeline_or_stop, sidebar_model_picker
from webui.navigation import setup_page
from webui.owner import current_space, owner_caption
from webui.teach import capture_lines, session_capture, suggestion_line
from webui.webrtc import camera_streamer

REFRESH_SECONDS = 0.5
NEW_CLASS = "➕ New class…"
FIXED, AUTO = "Fixed class", "Auto-label with the model"

setup_page("Capture", icon="📸")
model_dir = sidebar_model_picker()
space = current_space()
root = space.captures
plain = pipeline_or_stop(model_dir, "auto")
mine = personal(plain, model_dir, space)  # the visitor's own calibration, made on the Live webcam page
pipeline = mine.pipeline  # so auto-labels follow it
session = session_capture(st.session_state, root, pipeline,
                          room=lambda adding: check_quota(space, CAPTURES, adding))

# ---------------------------------------------------------------- sidebar: what to capture
problem = None
unchosen = False  # fixed mode before the user picked a class: nothing to capture yet, not an error
with st.sidebar:
    st.header("Capture settings")
    mode = st.radio("Label the pictures", [FIXED, AUTO], key="cap_mode",
                    help="Fixed: every picture goes to the class you choose. Auto: each picture goes to the "
                         "class the current model sees, when it is confident enough, else to 'unsorted' for "
                         "you to label on the Teach page.")
    class_name = None
    threshold = 0.6
    if mode == FIXED:
        known = [c for c in class_names(root) if c != UNSORTED]
        known += [c for c in pipeline.classifier.class_names if c not in known]
        pick = st.selectbox("Class", [*known, NEW_CLASS], key="cap_class_pick", index=None,
                            placeholder="Choose a class…",
                            help="An expression you already have pictures of, one the model knows, or a new one.")
        if pick == NEW_CLASS:
            typed = st.text_input("New class name", key="cap_class_new", max_chars=64, placeholder="e.g. wink",
                                  help="Letters, digits, spaces, dashes and underscores.")
            if typed.strip():
                try:
                    class_name = class_folder_name(typed)
                except ValueError as exc:
                    problem = str(exc)
                else:
                    if spelling_of(typed):
                        st.caption(f"“{typed.strip()}” is another spelling of **{class_name}**: "
                                   "the pictures join that class.")
            else:
                problem = "type a name for the new class"
        elif pick is None:
            unchosen = True
        else:
            class_name = pick
    else:
        threshold = st.slider("Confidence needed", 0.30, 0.99, 0.60, 0.01, key="cap_threshold",
                              help="Below this, a picture goes to 'unsorted' instead of the model's class.")
    interval = st.number_input("Seconds between pictures", 0.5, 60.0, 2.0, 0.5, key="cap_interval",
                               help="Change your expression a little between pictures: light, angle, distance.")
    count = int(st.number_input("Pictures to take", 1, 1000, 20, 1, key="cap_count"))
    save_frame = st.checkbox("Also keep the whole camera frame", key="cap_save_frame",
                             help="Kept beside the face pictures for you to look at; never trained on.")

changes = dict(mode="fixed" if mode == FIXED else "auto", interval=float(interval), count=count,
               threshold=float(threshold), save_frame=save_frame)
if mode == FIXED:
    changes["class_name"] = class_name  # None until chosen: nothing is captured under a class nobody picked
try:
    config = session.configure(**changes)
except ValueError as exc:
    problem = str(exc)
    config = session.config

# ---------------------------------------------------------------- the streamer and the controls
st.title("📸 Capture your expressions")
st.caption("Press **START** and allow the camera, choose a class in the sidebar, then **Start capturing**. "
           "Every few seconds the largest face is saved; vary light, angle and distance a little. "
           "Review, relabel and train on the **Teach** page. " + owner_caption(space)
           + (f" {note}" if (note := personal_caption(mine)) else ""))
# One slot for whichever line applies: the streamer below must keep its place in the page whatever the
# sidebar says, else the browser rebuilds it and the camera stops.
target = st.empty()
if problem:
    target.error(f"Class name: {problem}")
elif unchosen:
    target.info("Choose a class in the sidebar (or let the model label the pictures), then **Start capturing**.")
elif config.mode == "auto":
    target.markdown(f"Each picture goes to the class the model sees, or to **{UNSORTED}** (for you to label on "
                  f"the Teach page) when it is less than {config.threshold:.0%} sure.")
else:
    target.markdown(f"Pictures go to your **{config.class_name}** pictures.")
if space.owner.is_local:
    with st.expander("Where the pictures are saved"):
        st.code(str(root), language=None)
left, right = st.columns([3, 2])
with left:
    ctx = camera_streamer("capture", video_frame_callback=make_frame_callback(session))
    start_col, stop_col = st.columns(2)
    if start_col.button("Start capturing", type="primary", key="cap_start", disabled=problem is not None or unchosen):
        try:
            session.start()
        except ValueError as exc:
            st.error(str(exc))
    if stop_col.button("Stop", key="cap_stop"):
        session.stop()

with right:
    readout = st.empty()


def show() -> None:
    """Fill the readout with the session's state and the pictures on disk."""
    status = session.snapshot()
    with readout.container():
        st.subheader(suggestion_line(status), anchor=False)
        for line in capture_lines(status):
            st.text(line)
        if status.error:
            st.warning(f"Last frame problem: {status.error}")
        if status.last is not None:
            st.image(str(status.last.path), caption=f"last picture: {status.last.class_name}",
                     width=160)
        on_disk = counts(root)
        if on_disk:
            st.caption("Your pictures so far: " + ", ".join(f"{c} {n}" for c, n in on_disk.items()))


notice = st.empty()  # same slot in both branches, so the "camera is off" notice never lingers while playing
if ctx.state.playing:
    while ctx.state.playing:
        show()
        time.sleep(REFRESH_SECONDS)
else:
    show()
    notice.info("The camera is off. Press START to begin; pictures are only taken while it streams.")
