"""Behind a proxy, the default owner mode keeps visitors apart from the machine's own user, in real Chromium.

The app runs as installed (no ``FER_OWNERS``); nginx (``tests/nginx_proxy.py``, deploy/'s configuration)
sits in front of it on loopback, as on a server. The machine's user has pictures in the capture folder.
A browser that opens the app directly on 127.0.0.1 is that user and sees them; a browser that comes
through nginx, also from 127.0.0.1 and with the same Host, is a visitor: its own empty folder, never
the user's pictures. Only the proxy's forwarding headers tell the two apart, so a server that ignored
them would show every visitor the owner's face pictures. (Holds whether or not the owner rule also
checks the Host header: the proxied visit keeps the Host 127.0.0.1.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.captures import write_captures
from tests.e2e.support import app_server_with, chromium_pages, exception_texts, main_text, open_app_page, wait_for_text
from tests.nginx_proxy import NginxProxy, require_nginx


def _homes(root: Path) -> set[Path]:
    return {p for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


def test_a_visit_through_the_proxy_is_not_the_machines_user(browser_ready: None, playwright_driver: Any,
                                                            tmp_path: Path, astronaut: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    require_nginx()
    monkeypatch.delenv("FER_OWNERS", raising=False)  # the default owner mode
    app, owners = tmp_path / "app", tmp_path / "owners"
    write_captures(app / "captures", astronaut, classes=("happy", "sad"), per_class=3)  # the user's own pictures
    with app_server_with(app, FER_OWNER_ROOT=str(owners)) as server:
        proxy = NginxProxy(tmp_path / "nginx", [server.url.removeprefix("http://")]).start()
        try:
            with chromium_pages(playwright_driver, tmp_path / "profiles", 2) as (direct, proxied):
                open_app_page(direct, server.url, "Teach")
                wait_for_text(direct, "3 of 3 pictures of happy", timeout=60)  # the user, at the machine
                assert _homes(owners) == set(), "a direct local visit made a visitor's folder"
                open_app_page(proxied, proxy.url, "Teach")
                wait_for_text(proxied, "No pictures yet|pictures of happy", timeout=60)
                text = main_text(proxied)
                assert "pictures of happy" not in text, "a visitor through the proxy sees the user's pictures"
                assert "No pictures yet" in text and str(app / "captures") not in text, text[-1500:]
                assert len(_homes(owners)) == 1, "the proxied visit got no folder of its own"
                for page in (direct, proxied):
                    assert not exception_texts(page), exception_texts(page)
        finally:
            proxy.stop()
