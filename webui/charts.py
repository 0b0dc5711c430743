"""The app's Altair charts: class probabilities, learning curves, per-class accuracy, confusion matrix.

Why here: the shaping of the data is in ``fer_core.training.reports``; these only pick marks and
encodings, shared so every page (and both models of a comparison) draws them the same way. The
learning curve is one chart for the Training metrics page (a model's ``history.json``) and the
Teach page (a running training's epochs): the same columns, the same look.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import altair as alt
import pandas as pd

from fer_core.colors import CLASS_COLORS, NO_FACE, class_color
from fer_core.training.reports import CURVE_METRICS, history_long, phase_spans

SPLIT_COLORS = alt.Scale(domain=["train", "val"], range=["#4c78a8", "#f58518"])
TITLE_HEIGHT = 30  # a chart title at Vega's default 13 px font, with its offset

# ---------------------------------------------------------------- one colour per class, on every page
DIMMED_OPACITY = 0.35  # the classes other than the top one in a probability chart


def class_scale(names: Iterable[str]) -> alt.Scale:
    """An Altair colour scale giving each of ``names`` its ``class_color``."""
    domain = list(dict.fromkeys(names))
    return alt.Scale(domain=domain, range=[class_color(n) for n in domain])


# ---------------------------------------------------------------- class probabilities
def probability_frame(probabilities: dict[str, float]) -> pd.DataFrame:
    """Class probabilities as a DataFrame (class, probability) in the model's order."""
    return pd.DataFrame({"class": list(probabilities), "probability": [float(v) for v in probabilities.values()]})


def probability_chart(probabilities: dict[str, float], height: int | None = None,
                      title: str | None = None) -> alt.Chart:
    """A horizontal bar per class in its class colour, the others dimmed beside the top one, scale 0–100 %.

    ``height`` defaults to room for every class name (Vega drops labels that overlap), and for the title:
    the page fits the whole chart, title included, into that height, so a titled chart's rows were squeezed."""
    if height is None:
        height = 40 + 24 * len(probabilities) + (TITLE_HEIGHT if title else 0)
    df = probability_frame(probabilities)
    top = df["class"][df["probability"].idxmax()] if len(df) else None
    df["top"] = df["class"] == top
    return (
        alt.Chart(df, title=title or alt.Undefined)
        .mark_bar()
        .encode(
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", title=None)),
            y=alt.Y("class:N", sort=list(probabilities), title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color("class:N", scale=class_scale(df["class"]), legend=None),
            opacity=alt.condition(alt.datum.top, alt.value(1.0), alt.value(DIMMED_OPACITY)),
            tooltip=[alt.Tooltip("class:N"), alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=height)
    )


# ---------------------------------------------------------------- learning curves
def history_table(history: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Epoch rows with ``phase``, ``epoch``, ``step`` (epochs across phases) and numeric metrics.

    Takes what ``fer_core.training.reports.load_history`` returns or a training job's epoch dicts
    (the same keys); values that are no finite number become gaps in the curve.
    """
    df = history.copy() if isinstance(history, pd.DataFrame) else pd.DataFrame([dict(h) for h in history])
    df["phase"] = df["phase"].fillna("train").astype(str) if "phase" in df else "train"
    if "epoch" not in df:
        df["epoch"] = range(1, len(df) + 1)
    for col in (c for pair in CURVE_METRICS.values() for c in pair):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float).replace([math.inf, -math.inf], math.nan)
    df["step"] = range(1, len(df) + 1)
    return df.reset_index(drop=True)


PLOT_WIDTH_PX = 600  # about the plot area a learning curve gets on a page
CHAR_WIDTH_PX = 6.5  # a character of the phase names at Vega's default 11 px font
LEGEND_ROW_PX = 20  # a legend entry's row above the plot
SPLIT_WORDS = {"train": "training faces", "val": "held-out faces"}
BAND_SHADES = alt.Scale(domain=[0, 1], range=["#e8eef7", "#f7f7f7"])  # training stages, shaded in turn


def named_spans(spans: pd.DataFrame, width_px: float = PLOT_WIDTH_PX) -> pd.DataFrame:
    """The phase spans wide enough to carry their name inside the plot.

    Why: an ensemble's history has one short phase per member ("member 1: train", ...), and names drawn
    at every start overlapped into one unreadable line; the shading and the tooltips still show them all."""
    if spans.empty:
        return spans
    total = float(spans["end"].max() - spans["start"].min()) or 1.0
    room = (spans["end"] - spans["start"]) * width_px / total
    return spans[room >= spans["phase"].str.len() * CHAR_WIDTH_PX + 8]


def _split_legend() -> alt.Legend:
    """The train/validation legend above the plot, one entry under the other, in words: a legend at the
    side took half the width of a chart in a narrow column, where two models are compared."""
    words = " : ".join(f"datum.label == '{k}' ? '{v}'" for k, v in SPLIT_WORDS.items())
    return alt.Legend(orient="top", title=None, direction="vertical", labelExpr=f"{words} : datum.label")


def learning_curve_chart(history: pd.DataFrame | Iterable[Mapping[str, Any]], metric: str,
                         height: int = 240) -> alt.LayerChart:
    """Train and validation ``metric`` (loss or accuracy) per epoch, training stages shaded in turn.

    An ensemble's members were trained apart: each is its own line from its own first epoch (dashed
    apart), never one after the other on a shared axis, which read as one training whose loss jumped.
    One single view (a layer, not a concatenation, so Vega fits it to its container); a stage is named
    inside the plot where it has room and in its tooltip, so no legend of stages narrows the plot."""
    table = history_table(history)
    data = history_long(table)
    data = data[data["metric"] == metric]
    networks = [n for n in dict.fromkeys(data["network"]) if n]
    if len(networks) > 1:
        return _members_chart(data, metric, networks, height)
    spans = phase_spans(table)  # in the order trained
    spans = spans.assign(start=spans["start"] - 0.5, end=spans["end"] + 0.5, band=[i % 2 for i in range(len(spans))])
    shade = (
        alt.Chart(spans)
        .mark_rect()
        .encode(x=alt.X("start:Q", scale=alt.Scale(zero=False, nice=False)), x2="end:Q",
                color=alt.Color("band:O", scale=BAND_SHADES, legend=None),
                tooltip=[alt.Tooltip("phase:N", title="stage")])
    )
    names = alt.Chart(named_spans(spans)).mark_text(align="left", baseline="top", dx=4, dy=4, color="#666").encode(
        x="start:Q", y=alt.value(0), text="phase:N")
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("step:Q", title="epoch (all stages)", axis=alt.Axis(tickMinStep=1),
                    scale=alt.Scale(zero=False, nice=False)),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
            stroke=alt.Stroke("split:N", scale=SPLIT_COLORS, legend=_split_legend()),
            tooltip=["phase", "epoch", "split", alt.Tooltip("value:Q", format=".4f")],
        )
    )
    return alt.layer(shade, names, lines).resolve_scale(color="independent").properties(
        height=height, title=f"{metric.capitalize()} per epoch")


def _members_chart(data: pd.DataFrame, metric: str, networks: list[str], height: int) -> alt.LayerChart:
    """An ensemble's curves: one line per member and split, each member from its own first epoch."""
    data = data[data["network"] != ""]
    data = data.assign(member_epoch=data["step"] - data.groupby("network")["step"].transform("min") + 1)
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("member_epoch:Q", title="epoch of each network", axis=alt.Axis(tickMinStep=1),
                    scale=alt.Scale(zero=False, nice=False)),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
            stroke=alt.Stroke("split:N", scale=SPLIT_COLORS, legend=_split_legend()),
            strokeDash=alt.StrokeDash("network:N", sort=networks, legend=None),
            detail="network:N",
            tooltip=["network", "phase", "epoch", "split", alt.Tooltip("value:Q", format=".4f")],
        )
    )
    title = alt.TitleParams(f"{metric.capitalize()} per epoch, each network", subtitle=_dash_words(networks))
    return alt.layer(lines).properties(height=height, title=title)


def _dash_words(networks: list[str]) -> str:
    """The subtitle that says which line is which network: a legend of dashes drew no dashes beside a
    colour legend of the same lines (Vega-Lite gives its symbols no stroke)."""
    if len(networks) == 2:
        return f"{networks[0]} solid, {networks[1]} dashed"
    return "each network dashed its own way"


def container_height(chart: alt.TopLevelMixin) -> int:
    """The height a page gives ``st.altair_chart`` for ``chart``: the plot, its title's lines and the
    legend's two rows above the plot.

    Why: the container's height, not the spec's, is what Vega fits the chart into."""
    subtitle = 16 if isinstance(chart.title, alt.TitleParams) and chart.title.subtitle else 0
    return int(chart.height) + TITLE_HEIGHT + subtitle + 2 * LEGEND_ROW_PX


def per_class_chart(per_class: pd.DataFrame, height: int = 240) -> alt.Chart:
    """Per-class accuracy (recall) bars in the class colours, the support in the tooltip."""
    return (
        alt.Chart(per_class)
        .mark_bar()
        .encode(
            x=alt.X("class:N", sort=list(per_class["class"]), title=None),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="accuracy"),
            color=alt.Color("class:N", scale=class_scale(per_class["class"]), legend=None),
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


__all__ = ["CLASS_COLORS", "NO_FACE", "SPLIT_COLORS", "class_color", "class_scale", "confusion_chart",
           "container_height", "history_table", "learning_curve_chart", "named_spans",
           "per_class_chart", "probability_chart", "probability_frame"]
