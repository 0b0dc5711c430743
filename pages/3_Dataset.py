"""Dataset: class balance per split, image sizes and example images of any dataset fer_core reads.

FER2013 ``.npz``, Kaggle's ``fer2013.csv`` or an image folder (``root/<class>/*`` or
``root/<split>/<class>/*``). Loading is cached per path and modification time.
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from fer_core.data.dataset_view import (
    GET_A_DATASET,
    DatasetSummary,
    check_within_roots,
    dataset_roots,
    dataset_stamp,
    page_count,
    summarize,
    thumbnails,
)
from fer_core.data.datasets import Dataset, load_dataset
from fer_core.data.labels import canonical_class
from fer_core.errors import DatasetError
from fer_core.registry import inspect_model
from fer_core.settings import get_settings
from webui.models import sidebar_model_picker
from webui.navigation import setup_page
from webui.owner import current_space


def extra_classes_note(model_dir: Path, classes: list[str]) -> str | None:
    """Why the model in use knows an expression this dataset has no label for (contempt: FER+ votes)."""
    card = inspect_model(model_dir).card
    if card is None:
        return None
    have = {canonical_class(c) for c in classes}
    extra = [c for c in card.class_names if canonical_class(c) not in have]
    if not extra:
        return None
    why = (" It learned them from the FER+ votes: ten people labelled each of these same faces again, and their "
           "labels add contempt." if "contempt" in extra else "")
    return (f"This dataset labels {len(classes)} expressions; the model in use ({model_dir.name}) knows "
            f"{len(card.class_names)}, also {', '.join(extra)}.{why}")

PER_PAGE = 24
THUMB_WIDTH = 96

setup_page("Dataset", icon="🗂️")
model_dir = sidebar_model_picker()
settings = get_settings()
PATH_KEY = "dataset_path"


@st.cache_resource(max_entries=2, show_spinner="Reading the dataset…")
def load_cached(path: str, stamp: float) -> Dataset:
    """One copy of a dataset per process (FER2013 is ~80 MB of pixels); ``stamp`` busts the cache."""
    return load_dataset(path)


@st.cache_data(max_entries=8, show_spinner="Counting…")
def summary_cached(path: str, stamp: float) -> DatasetSummary:
    return summarize(load_cached(path, stamp))


st.title("🗂️ Dataset")
st.markdown("The faces a model learns from. Here you see how many faces each expression has, and what they "
            "look like: a model learns the common expressions best, and the rare ones (disgust in FER2013, "
            "with about one face in sixty) worst.")
default_path = str(settings.dataset_path) if settings.dataset_path else ""
roots = dataset_roots(settings.dataset_path, current_space().captures, settings.dataset_roots)
st.session_state.setdefault(PATH_KEY, default_path)


def _back_to_default() -> None:
    st.session_state[PATH_KEY] = default_path


with st.expander("Look at another dataset", expanded=st.session_state[PATH_KEY] != default_path):
    path = st.text_input("Dataset path", key=PATH_KEY,
                         help="A FER2013 .npz or .csv file, or a folder of class folders, on this server: in "
                              "the default dataset's folder, among your captures, or in a folder the server's "
                              "operator allows.").strip()
    if default_path and path != default_path:
        st.button("Back to the default dataset", key="dataset_default", on_click=_back_to_default)

if not path:
    st.info("No dataset chosen yet.\n\n" + GET_A_DATASET)
    st.stop()
try:
    check_within_roots(path, roots)
except DatasetError as exc:
    st.error(str(exc))
    st.stop()
try:
    stamp = dataset_stamp(path)
    ds = load_cached(path, stamp)
    summary = summary_cached(path, stamp)
except DatasetError as exc:
    st.error(str(exc))
    st.info(GET_A_DATASET)
    st.stop()

# ---------------------------------------------------------------- overview
cols = st.columns(4)
cols[0].metric("Images", f"{summary.total:,}")
cols[1].metric("Classes", len(summary.class_names))
cols[2].metric("Splits", len(summary.totals))
ratio = summary.imbalance()
cols[3].metric("Largest / smallest class", "—" if ratio is None else f"{ratio:.1f}×",
               help="Above ~3× a plain model tends to ignore the rare classes; training uses class weights.")
st.caption(f"Source: {Path(str(summary.source)).name} ({summary.kind}) · expressions: "
           f"{', '.join(summary.class_names)}")
if note := extra_classes_note(model_dir, summary.class_names):
    st.info(note)

st.subheader("Images per class")
counts = pd.DataFrame(summary.counts_rows())
chart = (
    alt.Chart(counts)
    .mark_bar()
    .encode(
        x=alt.X("class:N", sort=summary.class_names, title=None),
        xOffset=alt.XOffset("split:N", sort=list(summary.totals)),
        y=alt.Y("count:Q", title="images"),
        color=alt.Color("split:N", sort=list(summary.totals), title="split"),
        tooltip=["split", "class", alt.Tooltip("count:Q", format=",")],
    )
    .properties(height=320)
)
st.altair_chart(chart, width="stretch")
with st.expander("Counts as a table"):
    table = counts.pivot(index="class", columns="split", values="count").reindex(summary.class_names)
    st.dataframe(table[list(summary.totals)])

st.subheader("Image sizes")
size_rows = [{"split": s, "size (W×H)": size, "images": n, "looked at": summary.sampled.get(s, 0)}
             for s, sizes in summary.sizes.items() for size, n in sizes]
st.dataframe(size_rows, hide_index=True)
st.caption("Folder datasets are sampled (up to 200 images per split); array datasets have one size.")

# ---------------------------------------------------------------- thumbnails
st.subheader("Examples")
c1, c2, c3 = st.columns(3)
split_name = c1.selectbox("Split", list(ds.splits), key="dataset_split")
split = ds.splits[split_name]
class_name = c2.selectbox("Class", summary.class_names, key="dataset_class",
                          format_func=lambda c: f"{c} ({summary.counts[split_name].get(c, 0):,})")
n = summary.counts[split_name].get(class_name, 0)
pages = page_count(n, PER_PAGE)
page = int(c3.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                           key=f"dataset_page_{split_name}_{class_name}"))
if n == 0:
    st.info(f"No {class_name} images in {split_name}.")
else:
    thumbs = thumbnails(split, summary.class_names.index(class_name), page=page, per_page=PER_PAGE)
    good = [t for t in thumbs if t.image is not None]
    if good:
        # a file name tells a folder's images apart; an array's index ("#2") tells a person nothing
        st.image([t.image for t in good], caption=[t.caption for t in good] if split.paths is not None else None,
                 width=THUMB_WIDTH)
    for t in thumbs:
        if t.error:
            st.caption(f"⚠️ {t.error}")
    st.caption(f"Images {(page - 1) * PER_PAGE + 1}–{min(page * PER_PAGE, n)} of {n:,} {class_name} images in "
               f"{split_name}.")
