"""Plumbing for the real-browser tests: a Streamlit server, Debian Chromium, a fake camera, screenshots.

Why a module beside conftest.py: the fixtures in ``tests/e2e/conftest.py`` are thin wrappers over these
functions, so a test (or a script) that needs a second server or a different camera video can call them
directly. Nothing here downloads anything: the browser is the distribution's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path(os.environ.get("FER_E2E_CHROMIUM", "/usr/bin/chromium"))

# Flags from the project brief: headless, no sandbox (CI runs as root), no network side traffic.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
WEBRTC_IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'


def in_ci() -> bool:
    """CI sets CI=true; there a missing browser is an error, not a reason to skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- Streamlit server


@dataclass
class StreamlitServer:
    """A ``streamlit run`` child process in its own process group (so teardown kills all of it)."""

    process: subprocess.Popen
    url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)  # the FER_* (etc.) overrides it was started with

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's combined stdout/stderr, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return text[-chars:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left."""
        if self.process.poll() is not None:
            return
        pgid = self.process.pid  # start_new_session=True: the child leads its own group
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            try:
                self.process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # A grandchild could outlive the leader; make sure the group is gone.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def start_streamlit(script: str = "streamlit_app.py", *, log_dir: Path, env: dict[str, str] | None = None,
                    timeout: float = 90.0, python: str | None = None) -> StreamlitServer:
    """Start ``streamlit run SCRIPT`` headless on a free loopback port and wait for ``/_stcore/health``.

    The server dies with the thread that started it (Linux PDEATHSIG): call this from the main thread.
    """
    port = free_port()
    python = python or _venv_python()
    cmd = [
        python, "-c", _DIE_WITH_PARENT, "run", script,
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
    ]
    child_env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"streamlit-{port}.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = StreamlitServer(proc, f"http://127.0.0.1:{port}", log_path, dict(env or {}))
    deadline = time.monotonic() + timeout
    try:
        while True:
            if not server.alive():
                raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{server.log_tail()}")
            if _healthy(server.url):
                return server
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit not healthy after {timeout:.0f} s:\n{server.log_tail()}")
            time.sleep(0.3)
    except BaseException:
        server.stop()
        raise


# Runs ``python -m streamlit ARGS`` after asking Linux to SIGTERM it when the test process dies, so even a
# killed pytest (where no teardown runs) leaves no server behind. PDEATHSIG survives the exec.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "if sys.platform.startswith('linux'):\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'streamlit', *sys.argv[1:]])\n"
)


def _venv_python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


# --------------------------------------------------------------------------- fake camera


def camera_frames(photo: np.ndarray, n_frames: int = 60, size: tuple[int, int] = (640, 480)) -> Iterator[np.ndarray]:
    """RGB frames of ``photo`` on a grey background, drifting and zooming a little, like a person on a webcam."""
    import cv2

    width, height = size
    for i in range(n_frames):
        t = 2 * np.pi * i / n_frames
        scale = 0.85 + 0.05 * np.sin(t)  # of the frame height
        side = int(height * scale)
        img = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        frame = np.full((height, width, 3), 128, np.uint8)
        x = (width - side) // 2 + int(40 * np.sin(t))
        y = (height - side) // 2 + int(10 * np.cos(t))
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + side, width), min(y + side, height)
        frame[y0:y1, x0:x1] = img[y0 - y:y1 - y, x0 - x:x1 - x]
        yield frame


def write_y4m(path: Path, frames: Iterator[np.ndarray] | list[np.ndarray], fps: int = 30) -> Path:
    """Write RGB frames as an uncompressed YUV4MPEG2 (4:2:0) file, the format Chromium's fake camera plays."""
    import cv2

    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    if width % 2 or height % 2:
        raise ValueError("y4m 4:2:0 needs even frame sizes")
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for frame in (first, *frames):
            if frame.shape[:2] != (height, width):
                raise ValueError("all frames must have the same size")
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())  # Y plane, then U, then V
    return path


# --------------------------------------------------------------------------- browser


def launch_chromium(playwright: Any, profile_dir: Path, *, camera: Path | None = None,
                    extra_args: list[str] | None = None) -> Any:
    """A headless Chromium persistent context on a fresh profile; with ``camera`` a fake webcam plays that y4m."""
    args = list(CHROMIUM_FLAGS)
    if camera is not None:
        args += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera}"]
    args += extra_args or []
    return playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=str(CHROMIUM), headless=True, args=args,
        viewport=VIEWPORT, accept_downloads=True,
    )


# --------------------------------------------------------------------------- page helpers


@contextlib.contextmanager
def app_server_with(folder: Path, models: tuple[str, ...] = ("default",), **env: str) -> Iterator[StreamlitServer]:
    """A real app server of its own: the shipped ``models`` (the default one alone unless told) copied into
    ``folder/models``, captures in ``folder/captures``, plus ``env`` (FER_* overrides); stopped afterwards."""
    models_dir = folder / "models"
    for name in models:
        shutil.copytree(ROOT / "models" / name, models_dir / name)
    env = {"FER_MODELS_DIR": str(models_dir), "FER_CAPTURE_ROOT": str(folder / "captures"),
           "FER_OWNER_ROOT": str(folder / "owners"), "FER_DEFAULT_MODEL": "default", **env}
    server = start_streamlit("streamlit_app.py", log_dir=folder, env=env)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def chromium_pages(playwright: Any, profiles: Path, n: int, *, camera: Path | None = None,
                   cookies: Callable[[int], list[dict[str, Any]]] | None = None,
                   extra_args: list[str] | None = None) -> Iterator[list[Any]]:
    """``n`` separate browsers (own profiles, so own cookies), one tab each; all closed afterwards.
    ``cookies(k)`` gives the cookies browser ``k`` starts with."""
    contexts, pages = [], []
    try:
        for k in range(n):
            context = launch_chromium(playwright, profiles / f"profile-{k}", camera=camera, extra_args=extra_args)
            contexts.append(context)
            if cookies is not None:
                context.add_cookies(cookies(k))
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(30_000)
            pages.append(page)
        yield pages
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()


def page_url(base_url: str, page: str = "") -> str:
    """URL of a multipage-app page: ``Live_webcam`` for pages/1_Live_webcam.py, "" for home."""
    return f"{base_url}/{page.strip('/')}" if page else f"{base_url}/"


def wait_for_app(page: Any, timeout: float = 60.0) -> None:
    """Wait until Streamlit connected and the script run finished (``data-test-script-state=notRunning``)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout * 1000, state="attached")
    wait_for_charts(page, timeout=min(timeout, 20.0))


CHARTS_DRAWN_JS = """() => Array.from(document.querySelectorAll('[data-testid="stVegaLiteChart"]'))
    .every(c => c.querySelector('canvas, svg') !== null)"""


def wait_for_charts(page: Any, timeout: float = 20.0) -> None:
    """Wait until every Altair/Vega-Lite chart has drawn (they render asynchronously after the run)."""
    page.wait_for_timeout(300)  # late deltas
    page.wait_for_function(CHARTS_DRAWN_JS, timeout=timeout * 1000)
    page.wait_for_timeout(300)  # the first paint after the canvas appears


def single(locator: Any, timeout: float = 15.0) -> Any:
    """``locator`` once it matches exactly one element: right after a rerun Streamlit can briefly keep the
    previous run's copy of a widget beside the new one, and a click on either is a strict-mode error."""
    deadline = time.monotonic() + timeout
    while locator.count() != 1 and time.monotonic() < deadline:
        locator.page.wait_for_timeout(200)
    return locator.first


def open_app_page(page: Any, base_url: str, name: str = "", timeout: float = 90.0) -> None:
    """Navigate to an app page and wait until its script run is over."""
    page.goto(page_url(base_url, name), wait_until="domcontentloaded", timeout=timeout * 1000)
    wait_for_app(page, timeout)


def start_webrtc(page: Any, timeout: float = 60.0, index: int = 0) -> None:
    """Press START in the page's ``index``-th streamlit-webrtc component (its own button, inside its iframe).

    With the ``browser_context`` fixture the camera permission is auto-granted and the fake camera plays.
    """
    frame = page.frame_locator(WEBRTC_IFRAME).nth(index) if index else page.frame_locator(WEBRTC_IFRAME).first
    frame.get_by_role("button", name="START").click(timeout=timeout * 1000)


def stop_webrtc(page: Any, timeout: float = 30.0, index: int = 0) -> None:
    """Press STOP in the ``index``-th streamlit-webrtc component."""
    frame = page.frame_locator(WEBRTC_IFRAME).nth(index) if index else page.frame_locator(WEBRTC_IFRAME).first
    frame.get_by_role("button", name="STOP").click(timeout=timeout * 1000)


def exception_texts(page: Any) -> list[str]:
    """Texts of Streamlit exception boxes (``stException``) on the page; empty when there are none."""
    return [el.inner_text() for el in page.query_selector_all('[data-testid="stException"]')]


def main_text(page: Any) -> str:
    """The visible text of the app (main area and sidebar)."""
    return page.inner_text('[data-testid="stApp"]')


def save_screenshot(page: Any, name: str, directory: Path = SCREENSHOTS) -> Path:
    """Save a viewport screenshot as ``directory/NAME.png`` (the README shows docs/screenshots/*.png)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name if name.endswith(".png") else f"{name}.png")
    page.mouse.move(0, 0)  # no hover overlays (video controls, tooltips) in the picture
    page.screenshot(path=str(path), animations="disabled")
    return path


def wait_for_text(page: Any, pattern: str | re.Pattern, timeout: float, poll: float = 0.5,
                  locator: str = '[data-testid="stApp"]') -> re.Match:
    """Poll the page text until ``pattern`` matches; raise TimeoutError with the last text seen."""
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    deadline = time.monotonic() + timeout
    text = ""
    while True:
        with contextlib.suppress(Exception):  # the DOM is rebuilt on reruns
            text = page.inner_text(locator, timeout=2000)
            m = rx.search(text)
            if m:
                return m
        if time.monotonic() > deadline:
            raise TimeoutError(f"{rx.pattern!r} not on the page after {timeout:.0f} s; page text:\n{text[-2000:]}")
        page.wait_for_timeout(poll * 1000)


class ChartSpecs:
    """Every Vega-Lite spec the server sent a page, decoded from Streamlit's websocket messages.

    Why: what a chart shows (which colour a class gets) is in its spec, not in the canvas it is drawn on.
    Create it before the page opens the app, so the first messages are seen too.
    """

    def __init__(self, page: Any) -> None:
        self.specs: list[dict[str, Any]] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: Any) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if not isinstance(payload, bytes):
            return
        try:
            msg = ForwardMsg.FromString(payload)
        except Exception:  # noqa: BLE001 - not a ForwardMsg: nothing of ours
            return
        if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        if element.WhichOneof("type") == "vega_lite_chart":
            self.specs.append(json.loads(element.vega_lite_chart.spec))

    def class_charts(self) -> list[dict[str, Any]]:
        """The specs that show classes (a field named ``class`` or ``label`` in some encoding)."""
        return [s for s in self.specs if any(e.get("field") in CLASS_FIELDS for e in _encodings(s))]


CLASS_FIELDS = ("class", "label")


def _encodings(spec: Any) -> Iterator[dict[str, Any]]:
    """Every channel definition of every view in ``spec`` (layers and concatenations included)."""
    if isinstance(spec, dict):
        for channel in (spec.get("encoding") or {}).values():
            if isinstance(channel, dict):
                yield channel
        for value in spec.values():
            if isinstance(value, (dict, list)):
                yield from _encodings(value)
    elif isinstance(spec, list):
        for value in spec:
            yield from _encodings(value)


def class_colours(spec: dict[str, Any]) -> dict[str, str]:
    """Class -> colour from the spec's colour channels on a class field (explicit domain and range)."""
    out: dict[str, str] = {}
    stack: list[Any] = [spec]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            colour = (node.get("encoding") or {}).get("color")
            if isinstance(colour, dict) and colour.get("field") in CLASS_FIELDS:
                scale = colour.get("scale") or {}
                if isinstance(scale.get("domain"), list) and isinstance(scale.get("range"), list):
                    out.update(zip(scale["domain"], scale["range"]))
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
    return out


def assert_one_colour_per_class(specs: list[dict[str, Any]], classes: list[str]) -> dict[str, str]:
    """Every chart that shows classes colours each of them, by the app's colour for it (``fer_core.colors``,
    the same on every page and on the boxes), and no two classes alike; returns the colours."""
    from fer_core.colors import class_color

    assert specs, "no chart showing classes was sent"
    seen: dict[str, str] = {}
    for spec in specs:
        colours = class_colours(spec)
        title = spec.get("title") or [c.get("title") for c in spec.get("vconcat", [])]
        missing = [c for c in classes if c not in colours]
        assert not missing, f"chart {title!r} gives no colour of its own to {missing}"
        for cls, colour in colours.items():
            assert seen.setdefault(cls, colour) == colour, f"{cls} is {seen[cls]} in one chart, {colour} in {title!r}"
    wrong = {c: colour for c, colour in seen.items() if colour != class_color(c)}
    assert not wrong, f"not the app's colour of the class: {wrong}"
    wanted = [seen[c] for c in classes]
    assert len(set(wanted)) == len(wanted), f"two classes share a colour: {dict(zip(classes, wanted))}"
    return seen


def chromium_available() -> str | None:
    """None when the browser and the playwright package are usable, else why not."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:  # pragma: no cover - requirements-dev.txt has it
        return f"playwright Python package missing: {exc}"
    return None


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
