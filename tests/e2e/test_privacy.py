"""Owners in real Chromium: each browser is its own owner, kept across reloads and browser restarts by the
server's own HttpOnly cookie; one's captures show on its Teach page, never on the other's. Behind a relay that
adds no forwarding header (issue 36) visitors are private in the default mode too, and only this machine's own
browser (Host 127.0.0.1) is the local owner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fer_core.owner_cookie import COOKIE
from tests.captures import write_captures
from tests.e2e import support
from tests.e2e.support import chromium_pages, exception_texts, main_text, open_app_page, wait_for_text
from tests.relay import tcp_relay

PUBLIC_NAME = "fer.example"
RESOLVE_TO_RELAY = [f"--host-resolver-rules=MAP {PUBLIC_NAME} 127.0.0.2"]


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


@pytest.fixture()
def auto_server(browser_ready: None, tmp_path: Path) -> Iterator[support.StreamlitServer]:
    with support.app_server_with(tmp_path) as server:  # FER_OWNERS left at its default
        yield server


def test_behind_a_relay_every_browser_is_private_and_keeps_its_cookie(auto_server, playwright_driver, tmp_path,
                                                                       astronaut, screenshot):
    owners = Path(auto_server.env["FER_OWNER_ROOT"])
    local_captures = Path(auto_server.env["FER_CAPTURE_ROOT"])
    write_captures(local_captures, astronaut, classes=("happy", "sad"), per_class=3)  # the machine's own user
    port = int(auto_server.url.rsplit(":", 1)[1])
    planted = [{"name": COOKIE, "value": "00", "domain": PUBLIC_NAME, "path": "/"}]
    with tcp_relay(port) as relay_port, chromium_pages(
            playwright_driver, tmp_path / "profiles", 3, extra_args=RESOLVE_TO_RELAY,
            cookies=lambda k: planted if k == 2 else []) as pages:
        public = f"http://{PUBLIC_NAME}:{relay_port}"
        homes: list[Path] = []
        for page in pages:
            seen = _homes(owners)
            open_app_page(page, public, "Teach")
            wait_for_text(page, "Only this browser sees your captures", timeout=60)
            assert "No pictures yet" in main_text(page), "a visitor behind the relay saw the local user's pictures"
            (home,) = _homes(owners) - seen
            homes.append(home)
            assert not exception_texts(page), exception_texts(page)
        assert len(set(homes)) == 3
        ann = pages[0]
        cookie = next(c for c in ann.context.cookies() if c["name"] == COOKIE)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > 0  # outlives the browser
        assert COOKIE not in ann.evaluate("document.cookie")  # no script on any port of this host can read it
        planted_cookie = next(c for c in pages[2].context.cookies() if c["name"] == COOKIE)
        assert planted_cookie["value"] != "00"
        write_captures(homes[0] / "captures", astronaut, classes=("happy",), per_class=2)
    # Ann closes her browser and opens it again: the same owner, her pictures still there
    with chromium_pages(playwright_driver, tmp_path / "profiles", 1, extra_args=RESOLVE_TO_RELAY) as (ann,), \
            tcp_relay(port) as relay_port:
        open_app_page(ann, f"http://{PUBLIC_NAME}:{relay_port}", "Teach")
        wait_for_text(ann, "2 of 2 pictures of happy", timeout=60)
        screenshot(ann, "teach_private")
    assert _homes(owners) == set(homes)
    # this machine's own browser, straight to the server: the local owner, with its pictures
    with chromium_pages(playwright_driver, tmp_path / "local", 1) as (me,):
        open_app_page(me, auto_server.url, "Teach")
        wait_for_text(me, "3 of 3 pictures of happy", timeout=60)
        assert "Only this browser" not in main_text(me)
