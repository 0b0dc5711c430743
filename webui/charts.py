"""Altair charts of the metrics page (learning curves, per-class accuracy, confusion matrix).

Why here: the shaping of the data is in ``fer_core.training.reports``; these only pick marks and
encodings, shared so both models of a comparison look the same.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from fer_core.training.reports import history_long, phase_spans

SPLIT_COLORS = alt.Scale(domain=["train", "val"], range=["#4c78a8", "#f58518"])


def learning_curve_chart(history: pd.DataFrame, metric: str, height: int = 240) -> alt.LayerChart:
    """Train and validation ``metric`` (loss or accuracy) per epoch, phases shaded and named."""
    data = history_long(history)
    data = data[data["metric"] == metric]
    spans = phase_spans(history)
    spans = spans.assign(start=spans["start"] - 0.5, end=spans["end"] + 0.5)
    shade = (
        alt.Chart(spans)
        .mark_rect(opacity=0.08)
        .encode(x=alt.X("start:Q", scale=alt.Scale(zero=False, nice=False)), x2="end:Q",
                color=alt.Color("phase:N", legend=alt.Legend(title="phase")))
    )
    names = alt.Chart(spans).mark_text(align="left", baseline="top", dx=4, dy=4, color="#666").encode(
        x="start:Q", y=alt.value(0), text="phase:N")
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("step:Q", title="epoch (all phases)", axis=alt.Axis(tickMinStep=1),
                    scale=alt.Scale(zero=False, nice=False)),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
            stroke=alt.Stroke("split:N", scale=SPLIT_COLORS, title="split"),
            tooltip=["phase", "epoch", "split", alt.Tooltip("value:Q", format=".4f")],
        )
    )
    return alt.layer(shade, names, lines).resolve_scale(color="independent").properties(
        height=height, title=f"{metric.capitalize()} per epoch")


def per_class_chart(per_class: pd.DataFrame, height: int = 240) -> alt.Chart:
    """Per-class accuracy (recall) bars with the support in the tooltip."""
    return (
        alt.Chart(per_class)
        .mark_bar()
        .encode(
            x=alt.X("class:N", sort=list(per_class["class"]), title=None),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="accuracy"),
            color=alt.Color("accuracy:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]), legend=None),
            tooltip=["class", alt.Tooltip("accuracy:Q", format=".1%"), alt.Tooltip("f1:Q", format=".3f"),
                     "support"],
        )
        .properties(height=height, title="Accuracy per class")
    )


def confusion_chart(confusion: pd.DataFrame, class_names: list[str], height: int = 320) -> alt.LayerChart:
    """Heatmap of the row-normalised confusion matrix (rows: true class) with counts written in."""
    base = alt.Chart(confusion).encode(
        x=alt.X("predicted:N", sort=class_names, title="predicted"),
        y=alt.Y("true:N", sort=class_names, title="true"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="share of row"),
        tooltip=["true", "predicted", "count", alt.Tooltip("share:Q", format=".1%")],
    )
    text = base.mark_text(fontSize=11).encode(
        text="count:Q",
        color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("black")),
    )
    return alt.layer(cells, text).properties(height=height, title="Confusion matrix (rows: true class)")


__all__ = ["confusion_chart", "learning_curve_chart", "per_class_chart"]
