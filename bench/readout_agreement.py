"""Does the live page's expression line say what the box on the video says, at the same moment?

A real server and Chromium, whose fake camera plays a grey-scale video that switches every two seconds
between two faces with different expressions: the astronaut smiling (scikit-image) and a film face from
``../shared/data/crossdomain/imfdb_faces`` that the default model reads with another expression (picked
here: the one it is surest of, among the classes with a saturated colour). Inside the page, every 40 ms,
one script reads the expression line and the video frame the browser shows; the box's class is the class
colour (``fer_core.colors``) that most saturated pixels are nearest to (the camera's picture is grey, so
only the box and its tag have colour; a grey box, neutral, counts as "neutral").

The page as it is, and the same page with the readout refreshed every 0.5 s with its charts (the cadence
before the expression line got its own refresh), are measured in the same run. The last line is the
headline: ``agree=… lag_ms_p50=… old_agree=… old_lag_ms_p50=… ratio=…`` where ``agree`` is the share of
samples whose line and box name the same class, ``lag`` how long after the box changed its class the line
changed to it (negative: the line was first, as the video reaches the screen after the page's text), and
``ratio`` the page's agreement over the old cadence's.

    .venv/bin/python bench/readout_agreement.py [--seconds 40]   (needs /usr/bin/chromium and ../shared)
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from results import record  # noqa: E402

from fer_core.colors import CLASS_COLORS, class_rgb  # noqa: E402
from tests.e2e import support  # noqa: E402

SWITCH_FRAMES = 60  # two seconds of each face at 30 fps
OTHER_CLASSES = ("surprise", "angry", "sad", "fear")  # saturated colours, far from happy's yellow
MIN_BOX_PIXELS = 60  # saturated pixels (of a 320x240 copy of the frame) that make a box's colour
OLD_CADENCE = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport fer_core.inference.timing as t\n"
               "t.LABEL_REFRESH_S, t.DETAILS_EVERY, t.TIMELINE_EVERY = 0.5, 1, 4\n")

SAMPLE_JS = """async ({seconds, colours, iframe}) => {
    const video = document.querySelector(iframe).contentDocument.querySelector('video');
    const canvas = document.createElement('canvas');
    canvas.width = 320; canvas.height = 240;
    const ctx = canvas.getContext('2d', {willReadFrequently: true});
    const samples = [];
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
        const line = [...document.querySelectorAll('h3')].map(h => h.textContent)
            .find(t => t.startsWith('Expression:')) || null;
        ctx.drawImage(video, 0, 0, 320, 240);
        const px = ctx.getImageData(0, 0, 320, 240).data;
        const counts = new Array(colours.length).fill(0);
        for (let i = 0; i < px.length; i += 4) {
            const r = px[i], g = px[i + 1], b = px[i + 2];
            if (Math.max(r, g, b) - Math.min(r, g, b) < 60) continue;  // grey: the picture, a neutral box
            let best = 0, bd = Infinity;
            colours.forEach((c, k) => {
                const d = (r - c[0]) ** 2 + (g - c[1]) ** 2 + (b - c[2]) ** 2;
                if (d < bd) { bd = d; best = k; }
            });
            if (bd < 3 * 70 * 70) counts[best] += 1;
        }
        samples.push([performance.now() - t0, line, counts]);
        await new Promise(r => setTimeout(r, 40));
    }
    return samples;
}"""


def grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def padded(face: np.ndarray) -> np.ndarray:
    """A face crop in the middle of a grey square twice its size, framed as a webcam frames a head."""
    import cv2

    side = 512
    inner = cv2.resize(face, (side // 2, side // 2), interpolation=cv2.INTER_CUBIC)
    out = np.full((side, side, 3), 128, np.uint8)
    out[side // 4:side // 4 + side // 2, side // 4:side // 4 + side // 2] = inner
    return out


def pick_other_face(shared: Path) -> tuple[np.ndarray, str, float]:
    """The film face the default model names most surely with a class other than happy, on a camera frame."""
    from fer_core.data.imageio import read_image
    from fer_core.inference.pipeline import get_pipeline

    pipe = get_pipeline()
    best: tuple[float, np.ndarray, str] | None = None
    for cls in OTHER_CLASSES:
        for path in sorted((shared / cls).glob("*.jpg")):
            photo = padded(grey(read_image(path)))
            frame = next(support.camera_frames(photo, n_frames=SWITCH_FRAMES))
            faces = pipe.analyze(frame)
            if len(faces) != 1 or faces[0].label != cls:
                continue
            score = float(faces[0].score or 0.0)
            if best is None or score > best[0]:
                best = (score, photo, cls)
    if best is None:
        raise SystemExit(f"no face in {shared} is read as one of {OTHER_CLASSES}")
    return best[1], best[2], best[0]


def camera(path: Path, other: np.ndarray) -> Path:
    from skimage import data

    happy = grey(data.astronaut())
    frames = [*support.camera_frames(happy, SWITCH_FRAMES), *support.camera_frames(other, SWITCH_FRAMES)]
    return support.write_y4m(path, frames)


def box_class(counts: list[int], names: list[str]) -> str:
    k = int(np.argmax(counts))
    return names[k] if counts[k] >= MIN_BOX_PIXELS else "neutral"


def measure(pw: Any, work: Path, cam: Path, seconds: float, env: dict[str, str]) -> tuple[float, float, int]:
    """(share of samples that agree, median lag in ms, samples compared) for one server."""
    names = list(CLASS_COLORS)
    with support.app_server_with(work, **env) as server, \
            support.chromium_pages(pw, work / "profiles", 1, camera=cam) as (page,):
        support.open_app_page(page, server.url, "Live_webcam")
        support.start_webrtc(page, timeout=90)
        support.wait_for_text(page, re.compile(r"Expression:\s*[a-z]+ \d+%"), timeout=90)
        page.wait_for_timeout(3000)  # past the first label and the first smoothing
        samples = page.evaluate(SAMPLE_JS, {"seconds": seconds, "colours": [class_rgb(n) for n in names],
                                            "iframe": support.WEBRTC_IFRAME})
        support.stop_webrtc(page)
    rows = []
    for t, line, counts in samples:
        said = re.match(r"Expression:\s*([a-z_]+) \d+%", line or "")
        if said:
            rows.append((t, said[1], box_class(counts, names)))
    agree = sum(1 for _, said, box in rows if said == box) / max(1, len(rows))
    return agree, _median_lag(rows), len(rows)


def _changes(rows: list[tuple[float, str, str]], column: int) -> list[tuple[float, str]]:
    """(time, new class) at each sample where the line (column 1) or the box (column 2) changed."""
    return [(b[0], b[column]) for a, b in zip(rows, rows[1:]) if a[column] != b[column]]


def _median_lag(rows: list[tuple[float, str, str]]) -> float:
    """For each change of the box's class, when the line changed to the same class, the nearest such change
    within 1.5 s: its time minus the box's (negative: the line was first)."""
    said = _changes(rows, 1)
    lags = []
    for t, box in _changes(rows, 2):
        near = [u - t for u, cls in said if cls == box and abs(u - t) < 1500]
        if near:
            lags.append(min(near, key=abs))
    return statistics.median(lags) if lags else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=40.0, help="how long each page is sampled")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data" / "crossdomain" / "imfdb_faces")
    args = ap.parse_args()
    if reason := support.chromium_available():
        print(f"needs a browser: {reason}")
        return 1
    if not args.shared.is_dir():
        print(f"needs the film faces: {args.shared} is missing")
        return 1
    from playwright.sync_api import sync_playwright

    other, cls, score = pick_other_face(args.shared)
    print(f"the other face: {cls} {score:.0%} on a camera frame")
    with tempfile.TemporaryDirectory(prefix="readout-") as tmp:
        work = Path(tmp)
        cam = camera(work / "switch.y4m", other)
        old = work / "old_cadence"
        old.mkdir()
        (old / "sitecustomize.py").write_text(OLD_CADENCE)
        with sync_playwright() as pw:
            now = measure(pw, work / "now", cam, args.seconds, {})
            print(f"the page: agree {now[0]:.1%}, lag p50 {now[1]:.0f} ms, {now[2]} samples")
            before = measure(pw, work / "old", cam, args.seconds, {"PYTHONPATH": str(old)})
            print(f"0.5 s readout: agree {before[0]:.1%}, lag p50 {before[1]:.0f} ms, {before[2]} samples")
    headline = (f"agree={now[0]:.3f} lag_ms_p50={now[1]:.0f} old_agree={before[0]:.3f} "
                f"old_lag_ms_p50={before[1]:.0f} ratio={now[0] / max(before[0], 1e-9):.2f}")
    print(headline)
    record("readout_agreement", [headline])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
