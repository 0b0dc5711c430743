"""Training metrics page: charts for a really trained model, side-by-side comparison, missing data."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.app.apptest import no_exceptions, page, texts


def _chart_specs(at) -> list[str]:
    return [c.proto.spec for c in at.get("vega_lite_chart")]


def test_trained_model_draws_all_charts(app_env: Path) -> None:
    at = page("pages/4_Training_metrics.py")
    at.session_state["model_name"] = "tiny"
    at.run()
    no_exceptions(at)
    assert not at.error
    specs = _chart_specs(at)
    assert len(specs) == 4  # loss, accuracy, per-class accuracy, confusion matrix
    assert "Loss per epoch" in specs[0] and "Accuracy per epoch" in specs[1]
    assert "Accuracy per class" in specs[2] and "Confusion matrix" in specs[3]
    assert '"phase"' in specs[0]  # phases shaded
    labels = {m.label for m in at.metric}
    assert {"Test accuracy", "Macro F1"} <= labels
    n = json.loads((app_env / "tiny" / "report.json").read_text())["n"]
    assert f"Measured on {n:,} faces: " in texts(at)
    # the range a figure could move with other faces, around the figure shown
    shown = float(next(m.value for m in at.metric if m.label == "Test accuracy").rstrip("%"))
    found = re.search(r"95% range with other faces like these: "
                      r"accuracy ([\d.]+)%–([\d.]+)%, macro F1 ([\d.]+)–([\d.]+)", texts(at))
    assert found, texts(at)
    low, high = float(found[1]), float(found[2])
    assert low <= shown <= high and low < high
    table = at.dataframe[0].value
    assert list(table["class"]) == ["angry", "happy", "sad"]
    assert list(table.columns) == ["class", "precision", "recall", "f1", "support"]


def test_compare_side_by_side_and_missing_report(app_env: Path) -> None:
    import shutil

    # a model with a history but no evaluation report: curves drawn, the missing report explained
    shutil.copytree(app_env / "tiny", app_env / "noreport")
    (app_env / "noreport" / "report.json").unlink()
    try:
        at = page("pages/4_Training_metrics.py")
        at.session_state["model_name"] = "tiny"
        at.run()
        compare = at.selectbox(key="metrics_compare")
        assert compare.options[0] == "— none —" and "tiny" not in compare.options
        compare.set_value("noreport").run()
        no_exceptions(at)
        assert [s.value for s in at.subheader] == ["tiny", "noreport"]
        assert len(_chart_specs(at)) == 4 + 2
        assert "noreport has no evaluation report" in texts(at)
        # the shipped model has everything: four charts beside the tiny model's four
        at.selectbox(key="metrics_compare").set_value("default").run()
        no_exceptions(at)
        assert len(_chart_specs(at)) == 4 + 4
    finally:
        shutil.rmtree(app_env / "noreport", ignore_errors=True)


def test_model_without_files_and_broken_model(app_env: Path) -> None:
    at = page("pages/4_Training_metrics.py").run()
    at.selectbox(key="metrics_compare").set_value("broken").run()
    no_exceptions(at)
    assert "broken has no training history or evaluation report" in texts(at)


def test_the_page_shows_the_sidebars_model_and_follows_it(app_env: Path) -> None:
    """One model selection across pages: no picker of its own that could disagree with the sidebar."""
    at = page("pages/4_Training_metrics.py")
    at.session_state["model_name"] = "tiny"
    at.run()
    no_exceptions(at)
    assert not [s for s in at.selectbox if s.key == "metrics_model"]
    assert at.subheader[0].value == "tiny"
    at.sidebar.selectbox(key="model_picker").set_value("default").run()
    assert at.subheader[0].value == "default"


def test_other_test_sets_are_offered_beside_the_own_one(app_env: Path) -> None:
    import shutil

    shutil.copytree(app_env / "tiny", app_env / "tiny_plus")
    report = json.loads((app_env / "tiny_plus" / "report.json").read_text())
    report["confusion_matrix"] = [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    report |= {"accuracy": 1.0, "n": 2, "labels": "ferplus"}
    (app_env / "tiny_plus" / "report_ferplus.json").write_text(json.dumps(report))
    at = page("pages/4_Training_metrics.py")
    at.session_state["model_name"] = "tiny_plus"
    at.run()
    radio = at.radio(key="metrics_set")
    assert radio.options[1] == "FER+ majority of ten taggers" and "trained for" in radio.options[0]
    assert at.metric[0].value != "100.0%"  # the model's own report first
    radio.set_value("FER+ majority of ten taggers").run()
    no_exceptions(at)
    assert at.metric[0].value == "100.0%" and "FER+ labels" in texts(at)
    shutil.rmtree(app_env / "tiny_plus")
