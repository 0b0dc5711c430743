"""Home page of the facial expression recognition app: what it does, the active model, the pages.

Served by ``streamlit run streamlit_app.py``. Nothing here imports TensorFlow, so the first page view
is quick; pages load the model on first use (once per server process).
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

import streamlit as st

from fer_core.registry import inspect_model
from fer_core.settings import get_settings
from webui.model_text import (
    headline_metric,
    model_summary,
    plain_summary,
    small_test_warning,
    test_set_name,
    trained_on_text,
    views_text,
)
from webui.models import (
    all_models,
    deletable_models,
    kept_models_note,
    preload_model,
    sidebar_model_picker,
)
from webui.navigation import APP_TITLE, existing_pages, setup_page
from webui.owner import current_space, owner_caption

setup_page("Home", icon="🙂")
model_dir = sidebar_model_picker()

st.title(f"🙂 {APP_TITLE}")
st.markdown(
    "This app finds the faces in a photo, a video or your webcam and tells which expression each one "
    "shows — **angry, disgust, fear, happy, sad, surprise, neutral** and, with the default model, "
    "**contempt** — with how sure it is of each. It learned from about 35,000 photos of faces, each "
    "labelled by ten people. Everything runs on this server; no picture leaves it."
)
with st.expander("How it works"):
    st.markdown(
        "Faces are found with YuNet (or OpenCV's Haar cascade when YuNet is not installed), cut out as the "
        "training faces were framed, and classified by a small neural network. The **default** model learned "
        "from FER+: ten people's votes on each face of the FER2013 dataset. The **fer2013** model learned "
        "FER2013's original labels (one label per face, seven expressions) and serves to compare with "
        "published FER2013 results."
    )

st.subheader("Pages")
descriptions = {
    "Home": "this page",
    "Live webcam": "expressions in your webcam stream, live, with FPS and latency",
    "Upload photos": "analyse photos (jpg, png, webp, bmp, gif), download the results as CSV",
    "Dataset": "browse a training dataset: class balance, sizes, example images",
    "Training metrics": "how well a model does on faces it never saw, expression by expression; compare two",
    "Capture": "collect pictures of your own expressions from the webcam",
    "Teach": "fine-tune a model on your own captured expressions",
    "Video": "expressions over time in a video file: annotated video, timeline chart, CSV",
}
for script, label, icon in existing_pages():
    if script == "home.py":
        continue
    cols = st.columns([1, 3])
    cols[0].page_link(script, label=label, icon=icon)
    cols[1].caption(descriptions.get(label, ""))

st.subheader("Active model")
info = inspect_model(model_dir)
if info.card is None or info.error:
    st.error(f"The selected model cannot be used: {info.error}")
else:
    card = info.card
    st.markdown(f"**{card.name}**: {plain_summary(card)}")
    head = headline_metric(card)
    warning = small_test_warning(head[1].get("n")) if head else None
    if warning:
        st.warning(warning)
    with st.expander("Model details"):
        summary = model_summary(card)
        summary["Test-time views"] = views_text(list(card.tta))
        summary.pop("Test accuracy", None)  # the table below gives it with its count
        st.markdown("\n".join(f"- **{k}:** {v}" for k, v in summary.items()))
        if card.metrics:
            rows = [{"test set": test_set_name(card, split, m), "accuracy": m.get("accuracy"),
                     "macro F1": m.get("macro_f1"), "faces": m.get("n")}
                    for split, m in card.metrics.items() if isinstance(m, dict)]
            st.dataframe(rows, hide_index=True, column_config={
                "accuracy": st.column_config.NumberColumn(format="percent"),
                "macro F1": st.column_config.NumberColumn(format="%.3f"),
            })
        if card.trained_on:
            st.markdown(f"**Trained on:** {trained_on_text(card)}")
        if card.notes:
            st.markdown(f"**How it was made:** {card.notes}")
        if card.created:
            st.caption(f"Created {card.created[:19].replace('T', ' ')}")

settings = get_settings()
with st.expander("Manage models"):
    models = all_models()
    space = current_space()
    where = f" in `{settings.models_dir}`" if space.owner.is_local else ""
    st.caption(f"The models{where}" + ("" if space.models == space.shipped else
               ": the shared ones (read-only) and your own") + ". " + owner_caption(space))
    st.dataframe(
        [{"model": m.name, "status": "ok" if m.usable else m.error,
          "backbone": m.card.backbone if m.card else "", "classes": len(m.card.class_names) if m.card else None,
          "history": m.has_history, "report": m.has_report} for m in models],
        hide_index=True,
    )
    if deletable_models(models):
        st.page_link("pages/6_Teach.py", label="Delete a model you trained: Teach, under “Your models”", icon="🗑️")
    kept = kept_models_note(models)
    if kept:
        st.caption(kept)

st.caption("Camera access needs HTTPS or localhost. See the Live webcam page for camera and network help.")

# The page is drawn; now load TensorFlow and the model in the background so the Live page finds it ready.
if info.card is not None and not info.error:
    preload_model(model_dir)
