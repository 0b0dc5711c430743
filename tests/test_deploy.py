"""deploy/: the nginx configuration people deploy is the one generated and tested here, it routes as the
docs/serving.md says (sticky by cookie, new browsers to the least busy replica, a dead replica's browsers moved and
their cookie with them), and the replica script and unit files are well-formed. Dummy HTTP backends on
loopback stand in for replicas (tests/e2e/test_replicas.py runs real ones with browsers)."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nginx_proxy import ROOT, NginxProxy, free_port, require_nginx

DEPLOY = ROOT / "deploy"


def test_committed_site_is_the_generated_one() -> None:
    out = subprocess.run([sys.executable, str(DEPLOY / "nginx_site.py")], check=True, capture_output=True,
                         text=True).stdout
    assert (DEPLOY / "nginx" / "fer.conf").read_text() == out, "python3 deploy/nginx_site.py > deploy/nginx/fer.conf"
    assert "least_conn" in out and "upgrade" in out and "max_fails=1" in out
    assert out.count("backup;") == 2 and "127.0.0.1:8601" in out and "127.0.0.1:8602" in out


def test_scripts_and_units_are_well_formed() -> None:
    script = DEPLOY / "start_replicas.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    usage = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert usage.returncode == 2 and "start N replicas" in usage.stderr
    unit = (DEPLOY / "systemd" / "fer-replica@.service").read_text()
    assert "--server.port %i" in unit and "EnvironmentFile=/etc/fer/fer.env" in unit and "[Install]" in unit
    env = (DEPLOY / "systemd" / "fer.env").read_text()
    assert "FER_MODELS_DIR=" in env and "STREAMLIT_SERVER_COOKIE_SECRET=" in env
    compose = (DEPLOY / "compose.yaml").read_text()
    assert "dockerfile: deploy/Dockerfile" in compose and "fer-data:/data" in compose
    assert "requirements.txt" in (DEPLOY / "Dockerfile").read_text()
    turn = (DEPLOY / "turnserver.conf").read_text()
    assert "lt-cred-mech" in turn and "FER_ICE_SERVERS" in turn


class _Named(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Backend:
    """An HTTP server on loopback that answers its name (a replica stand-in), stoppable."""

    def __init__(self, name: str) -> None:
        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Named)
        self.server.name = name  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def get(url: str, cookie: str | None = None) -> tuple[str, str | None, str | None]:
    """(body, Set-Cookie, X-FER-Replica)."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read().decode(), resp.headers.get("Set-Cookie"), resp.headers.get("X-FER-Replica")


@pytest.fixture()
def proxy(tmp_path: Path) -> Iterator[tuple[NginxProxy, list[Backend]]]:
    require_nginx()
    backends = [Backend("A"), Backend("B")]
    nginx = NginxProxy(tmp_path / "nginx", [f"127.0.0.1:{b.port}" for b in backends])
    try:
        nginx.check()
        nginx.start()
        yield nginx, backends
    finally:
        nginx.stop()
        for b in backends:
            b.stop()


def test_sticky_by_cookie_and_a_dead_replica_moves_its_browsers(proxy: tuple[NginxProxy, list[Backend]]) -> None:
    nginx, (a, b) = proxy
    body, cookie, served = get(nginx.url + "/")
    assert cookie and cookie.startswith(f"fer_replica={served};") and "HttpOnly" in cookie
    assert body == {"r1": "A", "r2": "B"}[served]
    for _ in range(5):  # with its cookie a browser stays; no new cookie while it does
        assert get(nginx.url + "/", "fer_replica=r1") == ("A", None, "r1")
        assert get(nginx.url + "/", "fer_replica=r2") == ("B", None, "r2")
    a.stop()
    body, cookie, served = get(nginx.url + "/", "fer_replica=r1")  # A is gone: B answers, the cookie moves
    assert (body, served) == ("B", "r2") and cookie and cookie.startswith("fer_replica=r2;")
    assert get(nginx.url + "/", "fer_replica=r2") == ("B", None, "r2")
    assert get(nginx.url + "/")[0] == "B", "new browsers go to the replica that is left"
