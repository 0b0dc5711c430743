"""Two browsers on a private server (issue 15), in real Chromium: each browser is its own owner, kept
across reloads by Streamlit's XSRF cookie; one's captures show on its Teach page, never on the other's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.captures import write_captures
from tests.e2e import support
from tests.e2e.support import chromium_pages, exception_texts, main_text, open_app_page, wait_for_text


@pytest.fixture()
def private_server(browser_ready: None, tmp_path: Path) -> Iterator[support.StreamlitServer]:
    with support.app_server_with(tmp_path, FER_OWNER_ROOT=str(tmp_path / "owners"), FER_OWNERS="private") as server:
        yield server


@pytest.fixture()
def two_browsers(playwright_driver: Any, tmp_path: Path) -> Iterator[list[Any]]:
    with chromium_pages(playwright_driver, tmp_path, 2) as pages:
        yield pages


def _homes(root: Path) -> set[Path]:
    return {p for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


def test_each_browser_sees_only_its_own_pictures(private_server, two_browsers, astronaut, screenshot):
    owners = Path(private_server.env["FER_OWNER_ROOT"])
    ann, bob = two_browsers
    open_app_page(ann, private_server.url, "Teach")
    wait_for_text(ann, "No pictures yet", timeout=30)
    (ann_home,) = _homes(owners)
    open_app_page(bob, private_server.url, "Teach")
    wait_for_text(bob, "No pictures yet", timeout=30)
    (bob_home,) = _homes(owners) - {ann_home}
    write_captures(ann_home / "captures", astronaut, classes=("happy", "sad"), per_class=3)
    for page in (ann, bob):  # a reload is the same browser: the same owner, no new folder
        open_app_page(page, private_server.url, "Teach")
    assert _homes(owners) == {ann_home, bob_home}
    wait_for_text(ann, r"Only this browser sees your captures", timeout=30)
    assert "No pictures yet" not in main_text(ann) and "3 of 3 pictures of happy" in main_text(ann)
    assert "No pictures yet" in main_text(bob) and "pictures of happy" not in main_text(bob)
    for page in (ann, bob):
        assert not exception_texts(page), exception_texts(page)
    screenshot(ann, "teach_private")
