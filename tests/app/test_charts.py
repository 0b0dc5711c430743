"""webui.charts: the probability bars, and one learning curve for a model's history and a running training."""

from __future__ import annotations

import json
import math

import pandas as pd

from webui.charts import container_height, history_table, learning_curve_chart, probability_chart
from webui.model_text import model_summary


def test_probability_chart() -> None:
    chart = probability_chart({"happy": 0.7, "sad": 0.3}).to_dict()
    assert chart["mark"]["type"] == "bar" and chart["encoding"]["x"]["scale"]["domain"] == [0, 1]
    titled = probability_chart({"happy": 0.7, "sad": 0.3}, title="Share of time").to_dict()
    assert titled["height"] > chart["height"]  # the title gets its own room, the rows keep theirs


EPOCHS = [
    {"phase": "head", "epoch": 1, "loss": 1.2, "accuracy": 0.4, "val_loss": 1.3, "val_accuracy": 0.35},
    {"phase": "head", "epoch": 2, "loss": 1.0, "accuracy": 0.5, "val_loss": math.inf, "val_accuracy": None},
    {"phase": "finetune", "epoch": 1, "loss": 0.9, "accuracy": 0.6, "val_loss": 1.0, "val_accuracy": 0.55},
]


def test_one_history_table_for_job_rows_and_history_files() -> None:
    rows = history_table(EPOCHS)
    frame = history_table(pd.DataFrame(EPOCHS))
    assert list(rows["step"]) == [1, 2, 3] and list(rows["phase"]) == ["head", "head", "finetune"]
    assert math.isnan(rows["val_loss"][1]) and math.isnan(rows["val_accuracy"][1])  # gaps, not points
    pd.testing.assert_frame_equal(rows, frame)


def test_learning_curve_is_one_view_with_phases_and_splits() -> None:
    for metric in ("loss", "accuracy"):
        spec = learning_curve_chart(EPOCHS, metric).to_dict()
        assert spec["title"] == f"{metric.capitalize()} per epoch"
        assert "layer" in spec and not {"hconcat", "vconcat", "concat"} & set(spec)
        text = json.dumps(spec)
        assert '"phase"' in text and '"split"' in text
        legends = [enc[ch]["legend"] for layer in spec["layer"] for enc in [layer.get("encoding", {})]
                   for ch in ("color", "stroke") if ch in enc and enc[ch].get("legend")]
        assert legends and all(lg["orient"] == "top" for lg in legends)  # the plot keeps the column's width
        values = [v for d in spec["datasets"].values() for v in d if v.get("metric") == metric]
        assert {v["split"] for v in values} == {"train", "val"} and len(values) == 5  # the inf and None left out


def test_model_summary() -> None:
    class Card:
        class_names = ["a", "b"]
        backbone, weights, input_size, color_mode = "mobilenet_v2", "imagenet", (96, 96), "rgb"
        metrics = {"PrivateTest": {"accuracy": 0.6543}}

    s = model_summary(Card())
    assert s["Test accuracy"] == "65.4% on PrivateTest" and s["Backbone"] == "mobilenet_v2 (imagenet weights)"
    assert s["Test-time views"] == "original"

    class Ensemble(Card):
        backbone, weights = "fer_cnn", "ensemble of a, b"
        training = {"ensemble": [{"name": "a"}, {"name": "b"}]}
        tta = ["hflip", "zoom:1.1"]

    e = model_summary(Ensemble())
    assert e["Backbone"] == "2 × fer_cnn, probabilities averaged"
    assert e["Test-time views"] == "original + mirrored, zoom ×1.1 + mirrored"

    class Weighted(Ensemble):
        training = {"ensemble": [{"name": "a", "share": 0.45}, {"name": "b", "share": 0.45},
                                 {"name": "c", "share": 0.1}]}

    assert model_summary(Weighted())["Backbone"] == "3 × fer_cnn, probabilities averaged with weights 45% / 45% / 10%"
    Weighted.training = {"ensemble": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}
    assert model_summary(Weighted())["Backbone"] == "2 × fer_cnn, probabilities averaged"



def _layer_rows(spec: dict, mark: str) -> list[dict]:
    layer = next(x for x in spec["layer"] if x["mark"]["type"] == mark)
    return spec["datasets"][(layer.get("data") or spec["data"])["name"]]


def test_phase_names_only_where_they_fit() -> None:
    """A chain's short restarts lose their names (they overlapped); the long one and the shading keep all."""
    rows = [{"phase": f"{name}: train", "epoch": e, "loss": 1.0, "val_loss": 1.0}
            for name, n in (("fer_s7", 53), ("fer_s7wr", 3), ("fer_s7wr2", 3)) for e in range(1, n + 1)]
    spec = learning_curve_chart(rows, "loss").to_dict()
    assert [r["phase"] for r in _layer_rows(spec, "text")] == ["fer_s7: train"]
    assert len(_layer_rows(spec, "rect")) == 3
    two = learning_curve_chart([EPOCHS[0]] * 8 + [EPOCHS[2]] * 4, "accuracy").to_dict()  # 8 and 4 epochs: both fit
    assert {r["phase"] for r in _layer_rows(two, "text")} == {"head", "finetune"}


def test_ensemble_members_each_start_at_their_own_first_epoch() -> None:
    """An ensemble's members were trained apart: each is its own line from its own epoch 1, never the second
    drawn after the first on one axis (which read as one training whose loss jumped)."""
    rows = [{"phase": f"member {m}: train", "epoch": e, "loss": 2.0 - e / 10, "val_loss": 1.5}
            for m in (1, 2) for e in (1, 2, 3)]
    spec = learning_curve_chart(rows, "loss").to_dict()
    line = next(x for x in spec["layer"] if x["mark"]["type"] == "line")
    assert line["encoding"]["detail"]["field"] == "network"
    assert line["encoding"]["strokeDash"]["field"] == "network" and line["encoding"]["x"]["field"] == "member_epoch"
    values = _layer_rows(spec, "line")
    assert {(v["network"], v["member_epoch"]) for v in values if v["split"] == "train"} == {
        ("member 1", 1), ("member 1", 2), ("member 1", 3), ("member 2", 1), ("member 2", 2), ("member 2", 3)}
    assert not [x for x in spec["layer"] if x["mark"]["type"] == "rect"]  # no phase bands: the members share the axis
    single = _layer_rows(learning_curve_chart(EPOCHS, "loss").to_dict(), "line")
    assert {v["network"] for v in single} == {""}  # head and finetune: one network, one line


def test_interval_note_for_good_and_damaged_reports() -> None:
    from webui.model_text import interval_note

    good = {"class_names": ["a", "b"], "confusion_matrix": [[40, 10], [5, 45]],
            "per_class": {"a": {"support": 50}, "b": {"support": 50}}}
    note = interval_note(good)
    assert note is not None and note.startswith("95% range with other faces like these: accuracy ")
    for damaged in ({"class_names": ["a", "b"], "confusion_matrix": [[1, "x"], [0, 1]], "per_class": {}},
                    {"class_names": ["a", "b"], "confusion_matrix": [[1, -5], [0, 1]], "per_class": {}},
                    {"class_names": ["a", "b"], "confusion_matrix": [[1, 0], [0, 1]], "per_class": {"a": 3}},
                    {"class_names": ["a"], "confusion_matrix": [[0]], "per_class": {}}):
        assert interval_note(damaged) is None  # the page still shows the figures, without a range


def test_a_chain_of_restarts_is_shaded_in_training_order_without_a_legend_that_narrows_the_plot() -> None:
    """Seven stages (a network and six warm restarts): shaded in turn in the order trained (alphabetically
    ``fer_s7wr2`` would come before ``fer_s7wr``), each named in its tooltip; no legend of stages (eleven
    entries took half of a chart's width in a narrow column), so the chart keeps its height whatever the count."""
    names = ["fer_s7: train"] + [f"fer_s7wr{i}: train" for i in ("", 2, 3, 4, 5)] + ["train"]
    rows = [{"phase": p, "epoch": e, "loss": 1.0, "val_loss": 1.1} for p in names for e in (1, 2, 3)]
    spec = learning_curve_chart(rows, "loss").to_dict()
    shade = next(x for x in spec["layer"] if x["mark"]["type"] == "rect")
    bands = _layer_rows(spec, "rect")
    assert [b["phase"] for b in bands] == names and [b["band"] for b in bands] == [0, 1, 0, 1, 0, 1, 0]
    assert shade["encoding"]["color"]["legend"] is None and shade["encoding"]["tooltip"][0]["field"] == "phase"
    short = learning_curve_chart(EPOCHS, "loss").to_dict()
    assert spec["height"] == short["height"] == 240
    # the page's container holds the plot, the title and the legend row above the plot
    many, two = learning_curve_chart(rows, "loss"), learning_curve_chart(EPOCHS, "loss")
    assert container_height(many) == container_height(two) > 240


def test_the_split_legend_says_in_words_which_faces_each_line_is() -> None:
    spec = learning_curve_chart(EPOCHS, "loss").to_dict()
    stroke = next(x for x in spec["layer"] if x["mark"]["type"] == "line")["encoding"]["stroke"]
    expr = stroke["legend"]["labelExpr"]
    assert "training faces" in expr and "held-out faces" in expr and stroke["legend"]["title"] is None


def test_an_ensembles_subtitle_says_which_dash_is_which_network() -> None:
    rows = [{"phase": f"member {m}: train", "epoch": e, "loss": 1.0, "val_loss": 1.1} for m in (1, 2) for e in (1, 2)]
    chart = learning_curve_chart(rows, "loss")
    spec = chart.to_dict()
    assert spec["layer"][0]["encoding"]["strokeDash"]["legend"] is None  # its symbols drew no dash
    assert spec["title"]["subtitle"] == "member 1 solid, member 2 dashed"
    assert container_height(chart) > container_height(learning_curve_chart(EPOCHS, "loss"))  # room for it


def test_a_class_has_one_colour_in_every_chart():
    """The probability bars, the per-class bars, the capture counts and the video timeline colour a class
    alike, whatever its neighbours; a captured class of one's own gets a colour by its name."""
    from fer_core.training.reports import per_class_frame
    from webui.charts import class_color, per_class_chart, probability_chart
    from webui.teach import counts_chart
    from webui.video import timeline_chart

    def colours(chart) -> dict[str, str]:
        found: dict[str, str] = {}
        stack = [chart.to_dict()]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                colour = (node.get("encoding") or {}).get("color") or {}
                scale = colour.get("scale") or {} if isinstance(colour, dict) else {}
                if isinstance(scale.get("domain"), list):
                    found.update(zip(scale["domain"], scale["range"]))
                stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        return found

    report = {"class_names": ["sad", "happy"], "per_class": {"sad": {"recall": 0.5}, "happy": {"recall": 0.9}}}
    charts = [probability_chart({"angry": 0.1, "happy": 0.8, "sad": 0.1}), probability_chart({"happy": 1.0}),
              per_class_chart(per_class_frame(report)), counts_chart({"happy": 3, "wink": 2, "unsorted": 1}),
              timeline_chart([], ["sad", "happy", "wink"], 10.0)]
    for chart in charts:
        for cls, colour in colours(chart).items():
            assert colour == class_color(cls), (cls, colour)
    assert colours(charts[0])["happy"] == colours(charts[1])["happy"] == colours(charts[3])["happy"]
    assert class_color("Happiness") == class_color("happy") and class_color("wink") == class_color("wink")
    assert len({class_color(c) for c in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
                                          "contempt")}) == 8
