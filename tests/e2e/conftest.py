"""Fixtures for the real-browser tests (Debian Chromium driven by playwright against a live Streamlit server).

Use them from any ``tests/e2e/test_*.py``::

    from tests.e2e.support import exception_texts, open_app_page, start_webrtc, wait_for_text

    def test_something(page, app_url, screenshot):
        open_app_page(page, app_url, "Capture")       # URL path = page file name without its number prefix
        assert not exception_texts(page)               # no Streamlit exception box
        start_webrtc(page)                             # START in the streamlit-webrtc iframe; fake camera plays
        wait_for_text(page, r"Frames processed: [1-9]", timeout=90)
        screenshot(page, "capture")                    # -> docs/screenshots/capture.png

Fixtures:
- ``app_server`` (package): a ``StreamlitServer`` running ``streamlit_app.py`` on a free loopback port, in its
  own process group, killed when the last tests/e2e test is done (not kept through the rest of the suite).
  ``.url``, ``.log_tail()``, ``.env`` (the overrides,
  e.g. ``Path(app_server.env["FER_CAPTURE_ROOT"])``). Tests never write into the checkout: captures go to a
  tmp FER_CAPTURE_ROOT, and FER_MODELS_DIR is a tmp folder holding a copy of the shipped models/default only.
- ``model_classes`` (session): class names of the model the pages use by default (from its model.json).
- ``app_url`` (package): ``app_server.url``.
- ``fake_camera`` (session): a .y4m video (640x480, 60 frames) of a real face (skimage astronaut) drifting a
  little; Chromium plays it as the webcam.
- ``browser_context`` (function): fresh headless Chromium persistent context (new tmp profile) with the fake
  camera and media permission auto-accepted. ``page`` (function): its first tab, default timeout 30 s;
  ``page.errors`` lists uncaught JS errors. On test failure a screenshot goes to tests/e2e/artifacts/.
- ``screenshot`` (function): ``screenshot(page, "name")`` saves docs/screenshots/name.png (committed, shown in
  the README).

Helpers in ``tests.e2e.support``: ``open_app_page`` / ``wait_for_app`` (script run over, charts drawn),
``wait_for_text`` (poll the page text for a regex, bounded), ``exception_texts``, ``main_text``,
``start_webrtc`` / ``stop_webrtc``, ``save_screenshot``, and ``start_streamlit`` / ``write_y4m`` /
``camera_frames`` / ``launch_chromium`` for a test that needs its own server, video or browser.

A missing browser skips these tests locally and FAILS them when CI=true (CI must really run them).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import support

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Remember each phase's report on the item so fixtures can tell whether the test failed."""
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(scope="session")
def browser_ready() -> None:
    """Skip (locally) or fail (CI=true) when /usr/bin/chromium or playwright is missing."""
    reason = support.chromium_available()
    if reason is None:
        return
    if support.in_ci():
        pytest.fail(f"e2e browser unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"e2e browser unavailable: {reason}")


@pytest.fixture(scope="package")
def app_server(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.StreamlitServer]:
    """``streamlit run streamlit_app.py`` on loopback for the whole session (process group killed at the end)."""
    if not (support.ROOT / "streamlit_app.py").exists():
        pytest.fail("streamlit_app.py is missing", pytrace=False)
    work = tmp_path_factory.mktemp("e2e_server")
    models = work / "models"
    shutil.copytree(support.ROOT / "models" / "default", models / "default")
    env = {"FER_CAPTURE_ROOT": str(work / "captures"), "FER_MODELS_DIR": str(models),
           "FER_OWNER_ROOT": str(work / "owners"), "FER_DEFAULT_MODEL": "default"}
    try:
        server = support.start_streamlit("streamlit_app.py", log_dir=work, env=env)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def model_classes() -> list[str]:
    """The shipped default model's class names (a placeholder model may say any of them)."""
    from fer_core.inference.card import load_card

    return list(load_card(support.ROOT / "models" / "default").class_names)


@pytest.fixture(scope="package")
def app_url(app_server: support.StreamlitServer) -> str:
    return app_server.url


@pytest.fixture(scope="session")
def fake_camera(tmp_path_factory: pytest.TempPathFactory, astronaut: Any) -> Path:
    """A webcam video of a real face for Chromium's ``--use-file-for-fake-video-capture``."""
    path = tmp_path_factory.mktemp("camera") / "astronaut.y4m"
    return support.write_y4m(path, support.camera_frames(astronaut, n_frames=60))


@pytest.fixture(scope="package")
def playwright_driver(browser_ready: None) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture()
def browser_context(playwright_driver: Any, fake_camera: Path, tmp_path: Path) -> Iterator[Any]:
    """A fresh Chromium (new profile) whose webcam is ``fake_camera``."""
    profile = tmp_path / "chromium-profile"
    context = support.launch_chromium(playwright_driver, profile, camera=fake_camera)
    try:
        yield context
    finally:
        context.close()
        support.remove_tree(profile)


@pytest.fixture()
def page(browser_context: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The context's tab; on failure its screenshot is kept in tests/e2e/artifacts/ for debugging."""
    tab = browser_context.pages[0] if browser_context.pages else browser_context.new_page()
    tab.set_default_timeout(30_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.errors = errors  # type: ignore[attr-defined]
    yield tab
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        try:
            support.save_screenshot(tab, f"{name}.png", ARTIFACTS)
        except Exception:  # the page may be gone; the failure itself is what matters
            pass


@pytest.fixture()
def screenshot() -> Callable[[Any, str], Path]:
    """``screenshot(page, "live")`` saves docs/screenshots/live.png (override the folder with FER_SCREENSHOTS)."""
    directory = Path(os.environ.get("FER_SCREENSHOTS", support.SCREENSHOTS))

    def take(page: Any, name: str) -> Path:
        return support.save_screenshot(page, name, directory)

    return take
