"""Every page renders in a real browser without a Streamlit exception box; screenshots for the README."""

from __future__ import annotations

import pytest

from tests.e2e.support import ROOT, exception_texts, main_text, open_app_page

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
