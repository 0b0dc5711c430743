"""Training metrics: learning curves, per-class scores and the confusion matrix of a model,
optionally beside a second model. Reads ``history.json`` and ``report.json`` from the model folder.
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

from typing import Any

import streamlit as st

from fer_core.settings import get_settings
from fer_core.training.reports import (
    ModelReports,
    confusion_frame,
    load_model_reports,
    per_class_frame,
    report_title,
    trained_key,
)
from webui.charts import confusion_chart, container_height, learning_curve_chart, per_class_chart
from webui.model_text import interval_note
from webui.models import all_models, sidebar_model_picker
from webui.navigation import setup_page

NONE = "— none —"

setup_page("Training metrics", icon="📈")
model_dir = sidebar_model_picker()
settings = get_settings()

st.title("📈 Training metrics")
models = {m.name: m for m in all_models()}
if not models:
    st.info(f"No model folders in `{settings.models_dir}` yet. Train one with `python -m fer_core.train`.")
    st.stop()

names = list(models)
first_default = model_dir.name if model_dir.name in models else names[0]
c1, c2 = st.columns(2)
first = c1.selectbox("Model", names, index=names.index(first_default), key="metrics_model",
                     help="Defaults to the model chosen in the sidebar.")
others = [NONE] + [n for n in names if n != first]
second = c2.selectbox("Compare with", others, key="metrics_compare")


def pick_test_set(name: str, info: Any, reports: ModelReports) -> dict[str, Any] | None:
    """The report to show: the model's own test set, or another one it was measured on (FER+ votes,
    faces from elsewhere), chosen with a radio when there are several."""
    if not reports.extra:
        return reports.report
    own = report_title(trained_key(info.card)) + " (trained for)" if info.card is not None else "trained for"
    options = ([own] if reports.report is not None else []) + list(reports.extra)
    choice = st.radio("Test set", options, horizontal=True, key=f"metrics_set_{name}",
                      help="The same model measured against other labels or faces from elsewhere.")
    return reports.report if choice == own else reports.extra[choice]


def render(name: str, reports: ModelReports) -> None:
    """Everything for one model, stacked vertically (so two models sit side by side in columns)."""
    info = models[name]
    st.subheader(name, anchor=False)
    if info.card is not None:
        st.caption(f"{info.card.backbone} · {info.card.input_size[0]}×{info.card.input_size[1]} "
                   f"{info.card.color_mode} · {len(info.card.class_names)} classes")
    for err in reports.errors:
        st.error(err)
    if reports.empty and not reports.errors:
        st.info(f"{name} has no training history or evaluation report (history.json, report.json). "
                "Models trained with `python -m fer_core.train` have both; "
                f"`python -m fer_core.evaluate --model {name} --data DATASET --update-card` writes the report.")
        return
    report = pick_test_set(name, info, reports)
    if report is not None:
        m1, m2, m3 = st.columns(3)
        m1.metric("Test accuracy", f"{report['accuracy']:.1%}")
        m2.metric("Macro F1", f"{report.get('macro_f1', float('nan')):.3f}")
        m3.metric("Test images", f"{report.get('n', 0):,}")
        where = " · ".join(str(report[k]) for k in ("split", "data") if report.get(k))
        if report.get("labels") == "ferplus":
            where += " · FER+ labels (majority of ten taggers)"
        if where:
            st.caption(f"Evaluated on {where}")
        if note := interval_note(report):
            st.caption(note, help="Resampling the test faces with replacement (2,000 times) shows how far each "
                       "figure could move with another draw of faces like these: two models whose ranges "
                       "overlap widely are not clearly different on this test set.")
    if reports.history is not None:
        for metric in ("loss", "accuracy"):
            chart = learning_curve_chart(reports.history, metric)
            st.altair_chart(chart, width="stretch", height=container_height(chart))
    else:
        st.info(f"{name} has no training history (history.json).")
    if report is None:
        st.info(f"{name} has no evaluation report (report.json): run "
                f"`python -m fer_core.evaluate --model {name} --data DATASET --update-card`.")
        return
    per_class = per_class_frame(report)
    st.altair_chart(per_class_chart(per_class), width="stretch")
    st.dataframe(per_class[["class", "precision", "recall", "f1", "support"]], hide_index=True,
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("precision", "recall", "f1")})
    st.altair_chart(confusion_chart(confusion_frame(report), list(report["class_names"])), width="stretch")
    if report.get("missed_faces"):
        st.caption(f"{report['missed_faces']} test image(s) had no face found; they count as errors.")


chosen = [first] if second == NONE else [first, second]
columns = st.columns(len(chosen))
for col, name in zip(columns, chosen):
    with col:
        render(name, load_model_reports(models[name].path))
