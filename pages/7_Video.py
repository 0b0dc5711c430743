"""Video: upload a video file, see the expressions over time, download the annotated video and the timeline.

The analysis (``fer_core.video``, the live page's pipeline) runs in a background thread per session
(``webui.video.VideoJob``); this page shows its progress in a fragment that polls twice a second,
then lays out the result. A new upload, or other settings, cancel the analysis under way.
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

from pathlib import Path

import streamlit as st

from fer_core.inference.stream import StreamOptions
from fer_core.inference.videoio import MAX_VIDEO_PIXELS, MAX_VIDEO_SECONDS, VIDEO_EXTENSIONS
from fer_core.settings import get_settings
from webui.calibrate import personal, personal_caption
from webui.charts import probability_chart
from webui.models import DETECTOR_LABELS, detector_choices, pipeline_or_stop, sidebar_model_picker
from webui.navigation import setup_page
from webui.owner import current_owner
from webui.video import (
    VideoJob,
    VideoOutput,
    drop_job,
    replace_job,
    session_alive,
    spool,
    timeline_chart,
    upload_limit_mb,
)

JOB_KEY = "video_job"
RATES = {"Every frame": None, "10 a second": 10.0, "5 a second": 5.0, "2 a second": 2.0, "1 a second": 1.0}

setup_page("Video", icon="🎞️")
model_dir = sidebar_model_picker()
settings = get_settings()
limit_mb = upload_limit_mb(settings.max_video_mb)  # the size the server really accepts

with st.sidebar:
    st.header("Video settings")
    detector = st.selectbox("Face detector", detector_choices(), format_func=lambda k: DETECTOR_LABELS[k],
                            key="video_detector")
    rate = st.selectbox("Frames to analyse", list(RATES), key="video_rate",
                        help="Fewer frames a second analyse a long video sooner.")

st.title("🎞️ Video")
st.caption(f"Videos are analysed on this server and not stored. Up to {limit_mb} MB, "
           f"{MAX_VIDEO_SECONDS / 60:.0f} minutes and {MAX_VIDEO_PIXELS / 1e6:.1f} megapixels a "
           "frame; mp4, webm, mov, mkv or avi.")

upload = st.file_uploader("Video", type=[e.lstrip(".") for e in VIDEO_EXTENSIONS], key="video_upload",
                          max_upload_size=limit_mb,
                          help="The largest face in each frame gets a box and its expression, as on the live page.")
if upload is None:
    drop_job(st.session_state, JOB_KEY)
    st.info("Choose a video with a face. You get the annotated video, the expressions over time, the share of "
            "time per expression, and the timeline as CSV.")
    st.stop()

plain = pipeline_or_stop(model_dir, detector)
mine = personal(plain, model_dir)  # the visitor's own calibration, made on the Live webcam page
pipeline = mine.pipeline
if note := personal_caption(mine):
    st.caption(note)
key = (upload.file_id, upload.name, upload.size, str(model_dir), detector, rate,
       mine.calibration.created if mine.calibration else None)  # a new calibration analyses again
job = replace_job(st.session_state, JOB_KEY, key,
                  lambda: VideoJob(key, upload.name, spool(upload, upload.name), pipeline,
                                   StreamOptions(fps=RATES[rate]), alive=session_alive(), owner=current_owner().key))


@st.fragment(run_every=0.5)
def show_progress(job: VideoJob) -> None:
    """Progress while the job runs; the whole page reruns once it is over."""
    if not job.running:
        st.rerun()
    if job.waiting:
        st.progress(0.0, text="Waiting for another analysis on this server to finish…")
    else:
        total = f" of {job.total_frames}" if job.total_frames else ""
        st.progress(job.fraction, text=f"Analysing {upload.name}: frame {job.done_frames}{total}…")


def show_result(out: VideoOutput, name: str) -> None:
    """The annotated video, the timeline chart, the share of time per expression and the downloads."""
    result, summary = out.result, out.result.summary
    if result.warning:
        st.warning(result.warning)
    cols = st.columns(4)
    cols[0].metric("Duration", f"{summary.duration:.1f} s")
    cols[1].metric("Frames analysed", f"{summary.frames_analysed}")
    cols[2].metric("Frames without a face", f"{summary.frames_without_face}")
    cols[3].metric("Dominant expression", summary.dominant or "no face",
                   f"{summary.share.get(summary.dominant, 0.0):.0%} of the time" if summary.dominant else None,
                   delta_color="off", delta_arrow="off")  # a share of the time, not a rise
    st.altair_chart(timeline_chart(result.rows, result.class_names, summary.duration), width="stretch")
    video_col, share_col = st.columns([3, 2])
    with video_col:
        st.video(out.video, format="video/mp4")
    with share_col:
        if summary.share:
            share = {c: summary.share.get(c, 0.0) for c in result.class_names}
            st.altair_chart(probability_chart(share, title="Share of time per expression"), width="stretch")
        else:
            st.warning("No face was found in this video. Try another detector in the sidebar.")
    stem = Path(name).stem or "video"
    st.caption(f"Analysed in {result.seconds:.1f} s ({summary.frames_analysed / max(result.seconds, 1e-9):.0f} "
               "frames a second). " + " · ".join(summary.lines()[4:]))
    c1, c2 = st.columns(2)
    c1.download_button("Download timeline (CSV)", data=out.csv, file_name=f"{stem}_timeline.csv", mime="text/csv",
                       on_click="ignore", icon="⬇️")
    c2.download_button("Download annotated video (MP4)", data=out.video, file_name=f"{stem}_annotated.mp4",
                       mime="video/mp4", on_click="ignore", icon="⬇️")


if job.running:
    show_progress(job)
elif job.error:
    st.error(job.error)
elif job.output is not None:
    show_result(job.output, upload.name)
else:
    st.warning("The analysis was cancelled. Upload the video again to start over.")
