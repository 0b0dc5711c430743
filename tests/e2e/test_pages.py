"""Every page renders in a real browser without a Streamlit exception box; screenshots for the README."""

from __future__ import annotations

import pytest

from tests.e2e import support
from tests.e2e.support import (
    ROOT,
    ChartSpecs,
    assert_one_colour_per_class,
    exception_texts,
    main_text,
    open_app_page,
    single,
    wait_for_app,
)

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
    it (``fer_core.colors.class_color``, the one palette the video and live charts and the boxes use too)."""
    specs = ChartSpecs(page)
    open_app_page(page, app_server.url, "Training_metrics")
    assert not exception_texts(page), exception_texts(page)
    assert_one_colour_per_class(specs.class_charts(), model_classes)


# Texts (chart titles, legends, axes, metric values) drawn outside their chart or cut with an ellipsis.
CLIPPED_JS = """() => {
    const cut = [];
    for (const chart of document.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
        const box = chart.getBoundingClientRect();
        for (const t of chart.querySelectorAll('svg text')) {
            const r = t.getBoundingClientRect();
            // a rotated axis title's line box pokes out a few pixels past its glyphs
            if (r.width > 0 && (r.left < box.left - 4 || r.right > box.right + 4)) cut.push(t.textContent);
        }
    }
    for (const value of document.querySelectorAll('[data-testid="stMetricValue"], [data-testid="stMetricValue"] *')) {
        if (value.scrollWidth > value.clientWidth + 1) cut.push(value.textContent);
    }
    return cut;
}"""


def test_two_models_side_by_side_fit_a_small_window(page, browser_ready, tmp_path, screenshot):
    """Two models compared on Training metrics sit in two narrow columns: every figure, title, legend and
    axis must still be read whole, not cut at the column's edge."""
    with support.app_server_with(tmp_path, models=("default", "fer2013")) as server:
        page.set_viewport_size({"width": 1024, "height": 900})
        open_app_page(page, server.url, "Training_metrics")
        single(page.get_by_label("Compare with", exact=True)).click()
        single(page.get_by_role("option", name="fer2013")).click()
        wait_for_app(page)
        assert page.get_by_role("heading", name="fer2013").count() == 1
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 6  # two curves and the class bars, twice
        assert not exception_texts(page), exception_texts(page)
        clipped = page.evaluate(CLIPPED_JS)
        assert not clipped, f"cut at a column's edge: {clipped}"
        page.get_by_role("heading", name="default").evaluate("h => h.scrollIntoView({block: 'start'})")
        screenshot(page, "metrics_compare")
