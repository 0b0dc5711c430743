"""Upload photos: every face found and its expression, per photo, with a table and CSV for the batch.

Analysis lives in ``fer_core.inference.batch``; this page lays out the results. Results are kept per
uploaded file in the session, so a rerun (a widget click, the download) does not analyse again.
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

import streamlit as st

from fer_core.data.imageio import ACCEPTED_TEXT, UPLOAD_EXTENSIONS
from fer_core.data.labels import label_score
from fer_core.inference.batch import (
    BatchPixels,
    UploadResult,
    analyze_upload,
    results_csv,
    results_table,
    table_columns,
)
from fer_core.settings import get_settings
from webui.charts import probability_chart
from webui.models import DETECTOR_LABELS, detector_choices, pipeline_or_stop, sidebar_model_picker
from webui.navigation import setup_page

RESULTS_KEY = "upload_results"
CLASSIFY_CHOICES = {"All faces": "all", "Only the largest face": "largest",
                    "The whole photo (already a face crop)": "whole"}
FILE_TYPES = [e.lstrip(".") for e in UPLOAD_EXTENSIONS]  # the decoder's formats, no more, no less

CROP_ASPECT = 1.4  # a face crop is about square; a photo this much wider (or taller) is not one


def not_a_crop(r: UploadResult) -> bool:
    """Whether an uploaded photo is too far from square to be a photo cut to one face."""
    return max(r.width, r.height) > CROP_ASPECT * max(1, min(r.width, r.height))


setup_page("Upload photos", icon="🖼️")
model_dir = sidebar_model_picker()
settings = get_settings()

with st.sidebar:
    st.header("Photo settings")
    classify = CLASSIFY_CHOICES[st.radio(
        "Classify", list(CLASSIFY_CHOICES), key="upload_classify",
        help="Photos that are already cut to one face (a dataset's crops, a thumbnail) often have too little "
             "around the face for the detector: the last choice classifies the whole photo as that face.")]
    choices = detector_choices()
    detector = st.selectbox("Face detector", choices, format_func=lambda k: DETECTOR_LABELS[k],
                            key="upload_detector", disabled=classify == "whole")

st.title("🖼️ Upload photos")
st.caption(f"Photos are analysed on this server and not stored. Up to {settings.max_upload_mb} MB each; "
           "the EXIF orientation of phone photos is honoured.")

files = st.file_uploader("Photos", type=FILE_TYPES, accept_multiple_files=True,
                         help=f"{ACCEPTED_TEXT}; several at once.")
if not files:
    st.info("Choose one or more photos with faces. Each face gets a box and its expression; the largest "
            "face is boxed in its expression's colour, as in the charts.")
    st.stop()

pipeline = pipeline_or_stop(model_dir, detector)
cache: dict = st.session_state.setdefault(RESULTS_KEY, {})
config = (str(model_dir), detector, classify)
keys = [(f.file_id, f.name, f.size, config) for f in files]
for stale in set(cache) - set(keys):  # forget files removed from the uploader
    cache.pop(stale, None)

results: list[UploadResult] = []
todo = [k for k in keys if k not in cache]
progress = st.progress(0.0, text=f"Analysing {len(todo)} photo(s)…") if todo else None
done = 0
tally = BatchPixels()  # all files of the batch together, analysed before or now
for f, key in zip(files, keys):
    refused = tally.refusal(f.name, f.getvalue())
    if refused:
        results.append(UploadResult(name=f.name, error=refused))
        continue
    if key not in cache:
        cache[key] = analyze_upload(f.name, f.getvalue(), pipeline, classify=classify)
        done += 1
        if progress is not None:
            progress.progress(done / len(todo), text=f"Analysed {done} of {len(todo)}: {f.name}")
    results.append(cache[key])
if progress is not None:
    progress.empty()

ok = [r for r in results if r.ok]
faces = sum(len(r.faces) for r in ok)
if classify == "whole":
    st.markdown(f"**{len(ok)}** of {len(results)} photo(s) analysed, each as one face.")
else:
    st.markdown(f"**{len(ok)}** of {len(results)} photo(s) analysed, **{faces}** face(s) found.")

for r in results:
    if not r.ok:
        st.error(r.error)
        continue
    with st.container(border=True):
        img_col, chart_col = st.columns([3, 2])
        with img_col:
            st.image(r.annotated, caption=r.caption(), width="stretch")
        with chart_col:
            if classify == "whole" and not_a_crop(r):
                st.warning(f"{r.name} does not look like a photo cut to one face (it is much wider or taller "
                           "than a face): \"The whole photo\" reads all of it as one face, so this label is a "
                           "guess. Choose \"All faces\" under Classify for a photo with faces in it.")
            if not r.faces:
                st.warning(f"{r.name}: no face found. Try another detector in the sidebar, choose \"The whole "
                           "photo\" under Classify if it is already cut to the face, or a photo where "
                           "the face is larger and frontal.")
            for i, face in enumerate(r.faces, start=1):
                if face.label is None:
                    st.caption(f"Face #{i}: not classified (only the largest face is)")
                    continue
                tag = " (largest)" if face.is_largest else ""
                st.markdown(f"**Face #{i}{tag}: {label_score(face.label, face.score)}**")
                st.altair_chart(probability_chart(face.probabilities), width="stretch")

if not ok:
    st.stop()  # no table of nothing
st.subheader("Results")
class_names = list(pipeline.classifier.class_names)
rows = results_table(results, class_names)
columns = table_columns(rows)
rows = [{k: row.get(k) for k in columns} for row in rows]
percent = {f"p_{c}": st.column_config.NumberColumn(c, format="percent") for c in class_names}
st.dataframe(rows, hide_index=True, column_order=columns, column_config={
    "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="percent"),
    **percent,
})
st.download_button("Download results (CSV)", data=results_csv(results, class_names, model=model_dir.name),
                   file_name="expressions.csv", mime="text/csv", on_click="ignore", icon="⬇️")
