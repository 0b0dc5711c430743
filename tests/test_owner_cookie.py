"""The owner cookie on a real server (``streamlit run streamlit_app.py``): issued by the server, HttpOnly,
SameSite=Lax, Secure behind HTTPS, lasting the visitor time to live, and never a value the browser chose."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from fer_core.owner_cookie import COOKIE, issue_token, verify_token
from tests.e2e import support


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.StreamlitServer]:
    folder = tmp_path_factory.mktemp("cookie_server")
    with support.app_server_with(folder, FER_VISITOR_TTL_HOURS="36") as srv:
        yield srv


def _get(url: str, headers: dict[str, str] | None = None) -> list[str]:
    """The ``Set-Cookie`` lines the server answers a page load with."""
    request = urllib.request.Request(url, headers={"Accept": "text/html", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers.get_all("Set-Cookie") or []


def _owner_cookie(lines: list[str]) -> tuple[str, str]:
    (line,) = [x for x in lines if x.startswith(f"{COOKIE}=")]
    jar: SimpleCookie = SimpleCookie()
    jar.load(line)
    return jar[COOKIE].value, line


def test_a_page_load_gets_a_new_random_httponly_cookie(server):
    first, line = _owner_cookie(_get(f"{server.url}/"))
    second, _ = _owner_cookie(_get(f"{server.url}/Teach"))
    assert first != second and len(first) >= 80
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in line.split(";")[1:]}
    assert "httponly" in attributes and attributes["samesite"].lower() == "samesite=lax"
    assert attributes["max-age"] == f"Max-Age={36 * 3600}" and attributes["path"] == "Path=/"
    assert "secure" not in attributes  # plain HTTP: a Secure cookie would never come back
    _, https_line = _owner_cookie(_get(f"{server.url}/", {"X-Forwarded-Proto": "https"}))
    assert "; Secure" in https_line


def test_a_cookie_the_browser_chose_is_replaced_and_an_issued_one_renewed(server):
    owners = Path(server.env["FER_OWNER_ROOT"])
    issued, _ = _owner_cookie(_get(f"{server.url}/"))
    assert verify_token(issued, (owners / ".owner_secret").read_bytes())
    other_server_token = issue_token(b"k" * 32)
    for planted in ("00", "x" * 43, issued[:-1] + ("A" if issued[-1] != "A" else "B"), other_server_token,
                    issued + "." + issued):
        value, _ = _owner_cookie(_get(f"{server.url}/", {"Cookie": f"{COOKIE}={planted}"}))
        assert value != planted and verify_token(value, (owners / ".owner_secret").read_bytes())
    again, _ = _owner_cookie(_get(f"{server.url}/", {"Cookie": f"{COOKIE}={issued}"}))
    assert again == issued  # the same owner, its lifetime renewed


def test_only_pages_carry_the_cookie(server):
    assert not [x for x in _get(f"{server.url}/_stcore/health") if x.startswith(f"{COOKIE}=")]


def test_the_secret_is_private_to_the_server_user(server):
    secret = Path(server.env["FER_OWNER_ROOT"]) / ".owner_secret"
    assert secret.stat().st_mode & 0o077 == 0 and len(secret.read_bytes()) >= 32
