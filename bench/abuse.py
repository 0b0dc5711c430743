"""The server under hostile visitors (issue 36): memory for hostile uploads, and video slots left behind.

Runs a real ``streamlit run streamlit_app.py`` and real Chromium browsers that reach it through a TCP relay on
127.0.0.2 (``fer.example``), so every browser is a private visitor, as behind any proxy:

* memory: three visitors upload five 6300x6300 16-bit PNGs each (about 90 KB a file) at once; the server's
  resident memory is sampled before (idle), during (peak) and a minute after the browsers closed;
* video: two visitors upload a long video and close their tab while it waits or runs; a third visitor then
  uploads a short one, and the bench times how long it waited for a free analysis slot.

Prints one headline, ``idle_mb=... peak_mb=... after_leave_mb=... others_waited_s=... grace_s=...``. The bar:
peak under 1.5 GB, after_leave within 20% of idle, others_waited_s no more than grace_s (plus a poll). Run:
``.venv/bin/python bench/abuse.py`` (a few minutes; needs /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e import support  # noqa: E402
from tests.relay import tcp_relay  # noqa: E402
from webui.video import GRACE_S  # noqa: E402

PUBLIC = "fer.example"
VISITORS = 3
FILES_EACH = 5
SIDE = 6300


def rss_mb(pid: int) -> float:
    """Resident memory of the server process, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """The peak resident memory of ``pid`` while the block runs, sampled every 0.1 s."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.1)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def hostile_pngs(folder: Path, n: int) -> list[Path]:
    """``n`` 16-bit PNGs of ``SIDE`` x ``SIDE`` pixels: a smooth ramp, so each compresses to a few KB."""
    from PIL import Image

    ramp = (np.arange(SIDE, dtype=np.uint32) * 65535 // (SIDE - 1)).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(np.tile(ramp, (SIDE, 1))).save(buf, "PNG", optimize=True)
    paths = []
    for i in range(n):
        path = folder / f"hostile-{i}.png"
        path.write_bytes(buf.getvalue())
        paths.append(path)
    return paths


def face_photo(path: Path) -> Path:
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).save(path, quality=90)
    return path


def face_video(path: Path, seconds: float, fps: int = 15) -> Path:
    """An mp4 of the astronaut's face, ``seconds`` long (small frames, so it stays a few MB)."""
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut(), (240, 240))
    frame = np.full((240, 320, 3), 128, np.uint8)
    frame[:, 40:280] = face
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
    for i in range(int(seconds * fps)):
        writer.write(np.roll(frame, i % 20 - 10, axis=1)[:, :, ::-1])
    writer.release()
    return path


def upload(page: Any, label: str, files: list[Path] | Path) -> None:
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label)
    paths = str(files) if isinstance(files, Path) else [str(f) for f in files]
    uploader.locator('input[type="file"]').set_input_files(paths)


def memory_case(pw: Any, server: support.StreamlitServer, relay_port: int, work: Path) -> tuple[float, float, float]:
    pngs = hostile_pngs(work, FILES_EACH)
    url = f"http://{PUBLIC}:{relay_port}"
    args = [f"--host-resolver-rules=MAP {PUBLIC} 127.0.0.2"]
    with support.chromium_pages(pw, work / "warm", 1, extra_args=args) as (warm,):  # the model loaded: idle
        support.open_app_page(warm, url, "Upload_photos")
        upload(warm, "Photos", face_photo(work / "face.jpg"))
        support.wait_for_text(warm, r"photo\(s\) analysed", timeout=300)
    with support.chromium_pages(pw, work / "mem", VISITORS, extra_args=args) as pages:
        for page in pages:
            support.open_app_page(page, url, "Upload_photos")
        time.sleep(10)
        idle = rss_mb(server.process.pid)
        with Sampler(server.process.pid) as sampler:
            for page in pages:
                upload(page, "Photos", pngs)
            for page in pages:
                support.wait_for_text(page, r"photo\(s\) analysed", timeout=600)
                support.wait_for_app(page, timeout=600)
        peak = sampler.peak
        for k, page in enumerate(pages):  # what each visitor got: analysed, refused for the batch, server busy
            text = support.main_text(page)
            print(f"visitor {k + 1}: {re.search(r'[0-9*]+ of [0-9]+ photo', text).group(0)} analysed; "
                  f"{text.count('skipped, this batch')} over the batch total; {text.count('server is busy')} busy",
                  file=sys.stderr)
    time.sleep(60)  # the browsers are closed: their sessions end, their results go
    return idle, peak, rss_mb(server.process.pid)


def video_case(pw: Any, relay_port: int, work: Path) -> float:
    long_video = face_video(work / "long.mp4", seconds=300)
    short_video = face_video(work / "short.mp4", seconds=2)
    url = f"http://{PUBLIC}:{relay_port}"
    args = [f"--host-resolver-rules=MAP {PUBLIC} 127.0.0.2"]
    with support.chromium_pages(pw, work / "video-left", 2, extra_args=args) as leaving:
        for page in leaving:
            support.open_app_page(page, url, "Video")
            upload(page, "Video", long_video)
        for page in leaving:
            support.wait_for_text(page, r"Analysing long\.mp4|Waiting for another analysis", timeout=120)
    # both tabs are closed now, their analyses still hold the two slots
    with support.chromium_pages(pw, work / "video-late", 1, extra_args=args) as (late,):
        support.open_app_page(late, url, "Video")
        t0 = time.monotonic()
        upload(late, "Video", short_video)
        support.wait_for_text(late, r"Analysing short\.mp4|Frames analysed", timeout=600)
        return time.monotonic() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    reason = support.chromium_available()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="fer-abuse-"))
    try:
        with support.app_server_with(work) as server, sync_playwright() as pw:
            port = int(server.url.rsplit(":", 1)[1])
            with tcp_relay(port) as relay_port:
                idle, peak, after = memory_case(pw, server, relay_port, work)
                waited = video_case(pw, relay_port, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"idle_mb={idle:.0f} peak_mb={peak:.0f} after_leave_mb={after:.0f} others_waited_s={waited:.1f} "
          f"grace_s={GRACE_S:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
