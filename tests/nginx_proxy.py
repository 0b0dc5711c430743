"""nginx in front of replicas for tests: deploy/nginx_site.py's configuration, run standalone in a tmp folder.

Why a helper: tests/test_deploy.py (dummy backends) and tests/e2e/test_replicas.py (real Streamlit replicas)
run the same generated configuration docs/serving.md tells people to deploy. nginx runs in the foreground as a
child of the test (its own process group, SIGTERMed when the test process dies), loopback only, with pid,
logs and temp files under the given folder; ``stop`` ends it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def nginx_missing() -> str | None:
    """None when nginx can be run, else why not (for a skip)."""
    if NGINX is None:
        return "nginx is not installed (apt-get install -y nginx)"
    return None


def require_nginx() -> None:
    """Skip (locally) or fail (CI=true, where .ci/run installs it) when nginx is missing."""
    import pytest

    reason = nginx_missing()
    if reason is None:
        return
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"nginx unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child before exec
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG


class NginxProxy:
    """``deploy/nginx_site.py --standalone`` for ``replicas`` (``host:port``), listening on 127.0.0.1:``port``."""

    def __init__(self, prefix: Path, replicas: list[str], port: int | None = None, fail_timeout: int = 10) -> None:
        self.prefix = prefix
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        prefix.mkdir(parents=True, exist_ok=True)
        conf = subprocess.run(
            [sys.executable, str(ROOT / "deploy" / "nginx_site.py"), "--listen", f"127.0.0.1:{self.port}",
             "--fail-timeout", str(fail_timeout), "--standalone", str(prefix),
             *[arg for r in replicas for arg in ("--replica", r)]],
            check=True, capture_output=True, text=True).stdout
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(conf)
        self.process: subprocess.Popen | None = None

    def check(self) -> str:
        """``nginx -t`` on the configuration: its output; raises CalledProcessError when it is refused."""
        done = subprocess.run([NGINX or "nginx", "-t", "-p", str(self.prefix), "-c", str(self.conf)],
                              capture_output=True, text=True, timeout=30)
        if done.returncode:
            raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
        return done.stderr

    def start(self, timeout: float = 15.0) -> NginxProxy:
        with open(self.prefix / "stderr.log", "wb") as err:
            self.process = subprocess.Popen(
                [NGINX or "nginx", "-p", str(self.prefix), "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}: {self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx not listening after {timeout:.0f} s: {self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for name in ("stderr.log", "error.log"):
            with contextlib.suppress(OSError):
                parts.append(f"--- {name}\n" + (self.prefix / name).read_text(errors="replace")[-chars:])
        return "\n".join(parts)

    def stop(self) -> None:
        """TERM nginx's process group (master and worker), then KILL what is left."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a worker that outlived the master
