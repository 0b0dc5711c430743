"""Training metrics: learning curves, per-class scores and the confusion matrix of the sidebar's model,
optionally beside a second model on a test set both were measured on. Reads ``history.json`` and the
reports from the model folder.
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

from typing import Any

import streamlit as st

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

st.title("📈 Training metrics")
st.caption("How well a model names expressions on faces it never saw while learning, and how its learning "
           "went. This is the model chosen in the sidebar; pick another there.")
models = {m.name: m for m in all_models()}
if model_dir.name not in models:
    st.info("No model to show yet. Train one on the 🎓 Teach page.")
    st.stop()

first = model_dir.name
second = st.selectbox("Compare with", [NONE] + [n for n in models if n != first], key="metrics_compare",
                      help="Another model beside this one, scored on a test set both were measured on.")
chosen = [first] if second == NONE else [first, second]
loaded = {name: load_model_reports(models[name].path) for name in chosen}


def test_sets(name: str, reports: ModelReports) -> dict[str, dict[str, Any]]:
    """Every test set the model was measured on, by its reader's name: its own first, then the others."""
    card = models[name].card
    own = {} if reports.report is None else {_title(reports.report, card): reports.report}
    return own | dict(reports.extra)


def _title(report: dict[str, Any], card: Any) -> str:
    if report.get("split") == "validation":
        return "pictures held out of its own training data"
    return report_title(str(report.get("test_set") or (trained_key(card) if card is not None else "data")))


sets = {name: test_sets(name, reports) for name, reports in loaded.items()}
shared = [t for t in sets[first] if all(t in sets[n] for n in chosen)]
if len(chosen) > 1 and not shared and all(sets.values()):
    st.warning(f"{first} and {second} were never measured on the same faces, so their scores are not put side "
               "by side: a score only compares with another on the same test set. Their learning curves follow.")
picked = None
if len(shared) > 1:
    own_set = next(iter(sets[first]))
    picked = st.radio("Test set", shared, horizontal=True, key="metrics_set",
                      format_func=lambda t: f"{t} (trained for)" if t == own_set else t,
                      help="The same faces for every model shown: each set is a different kind of face or label.")
elif shared:
    picked = shared[0]


def render(name: str, reports: ModelReports) -> None:
    """Everything for one model, stacked vertically (so two models sit side by side in columns)."""
    info = models[name]
    st.subheader(name, anchor=False)
    for err in reports.errors:
        st.error(err)
    if reports.empty and not reports.errors:
        st.info(f"{name} has no training history or evaluation report (history.json, report.json). "
                "Models trained with `python -m fer_core.train` have both; "
                f"`python -m fer_core.evaluate --model {name} --data DATASET --update-card` writes the report.")
        return
    report = sets[name].get(picked) if picked else None
    alone = sum(1 for n in chosen if sets[n]) == 1  # no other model's score to set it beside
    if report is None and alone and sets[name]:
        report = next(iter(sets[name].values()))
    if report is not None:
        m1, m2 = st.columns(2)  # two, not three: the figures must fit a column beside another model's
        m1.metric("Test accuracy", f"{report['accuracy']:.1%}", help="The share of test faces named right.")
        m2.metric("Macro F1", f"{report.get('macro_f1', float('nan')):.3f}",
                  help="From 0 to 1: how well every expression is recognised, each counting the same however "
                       "rare it is in the test set.")
        title = picked or _title(report, info.card)
        st.caption(f"Measured on {report.get('n', 0):,} faces: {title}"
                   + (f" ({report['split']} split)" if report.get("split") else "")
                   + (", FER+ labels: the majority of ten people's votes" if report.get("labels") == "ferplus"
                      else "") + ".")
    if reports.history is not None:
        for metric in ("loss", "accuracy"):
            chart = learning_curve_chart(reports.history, metric)
            st.altair_chart(chart, width="stretch", height=container_height(chart))
    else:
        st.info(f"{name} has no training history (history.json).")
    if report is None:
        if reports.report is None:
            st.info(f"{name} has no evaluation report (report.json): run "
                    f"`python -m fer_core.evaluate --model {name} --data DATASET --update-card`.")
        return
    per_class = per_class_frame(report)
    st.altair_chart(per_class_chart(per_class), width="stretch")
    st.altair_chart(confusion_chart(confusion_frame(report), list(report["class_names"])), width="stretch")
    with st.expander("Details: per-class figures, the model's make-up"):
        if note := interval_note(report):
            st.caption(note, help="Resampling the test faces with replacement (2,000 times) shows how far each "
                       "figure could move with another draw of faces like these: two models whose ranges "
                       "overlap widely are not clearly different on this test set.")
        st.dataframe(per_class[["class", "precision", "recall", "f1", "support"]], hide_index=True,
                     column_config={c: st.column_config.NumberColumn(format="%.3f")
                                    for c in ("precision", "recall", "f1")})
        if info.card is not None:
            st.caption(f"{info.card.backbone} · {info.card.input_size[0]}×{info.card.input_size[1]} "
                       f"{info.card.color_mode} · {len(info.card.class_names)} classes")
        if report.get("missed_faces"):
            st.caption(f"{report['missed_faces']} test image(s) had no face found; they count as errors.")


columns = st.columns(len(chosen))
for col, name in zip(columns, chosen):
    with col:
        render(name, loaded[name])
