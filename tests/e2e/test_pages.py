"""Every page renders in a real browser without a Streamlit exception box; screenshots for the README."""

from __future__ import annotations

import pytest

from tests.e2e.support import ROOT, ChartSpecs, assert_one_colour_per_class, exception_texts, main_text, open_app_page

PAGES = [  # (script, url path, screenshot name)
    ("streamlit_app.py", "", "home"),
    ("pages/3_Dataset.py", "Dataset", "dataset"),
    ("pages/4_Training_metrics.py", "Training_metrics", "metrics"),
]


@pytest.mark.parametrize(("script", "path", "shot"), PAGES, ids=[p[2] for p in PAGES])
def test_page_renders_without_exception(page, app_server, screenshot, script, path, shot):
    if not (ROOT / script).exists():
        pytest.fail(f"{script} is missing", pytrace=False)
    open_app_page(page, app_server.url, path)
    assert not exception_texts(page), "\n".join(exception_texts(page)) + "\n" + app_server.log_tail()
    assert "Page not found" not in main_text(page)
    assert not page.errors, page.errors
    screenshot(page, shot)


def test_metrics_charts_colour_each_class_as_every_page_does(page, app_server, model_classes):
    """One colour per class: the per-class chart of Training metrics gives each class the app's colour for
    it (``webui.charts.class_color``, the one palette the video and live charts use too)."""
    from webui.charts import class_color

    specs = ChartSpecs(page)
    open_app_page(page, app_server.url, "Training_metrics")
    assert not exception_texts(page), exception_texts(page)
    colours = assert_one_colour_per_class(specs.class_charts(), model_classes)
    assert colours == {c: class_color(c) for c in colours}
