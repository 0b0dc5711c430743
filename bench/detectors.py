"""Detector benchmark: what Haar's settings cost, and Haar vs YuNet, on 640x480 frames.

The original project lowered Haar's ``minSize`` from 30 to 10 (and its scale factor) to catch
more faces. This prints, per configuration, milliseconds per frame and the share of frames in
which the face was found, on frames made from a real face photo at several sizes, some darkened
and some turned (the cases where Haar misses).

    .venv/bin/python bench/detectors.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core.inference.detection import HaarDetector, YuNetDetector, yunet_available  # noqa: E402
from fer_core.settings import get_settings  # noqa: E402


def frames() -> list[tuple[np.ndarray, tuple[float, float]]]:
    """(frame, face centre) pairs: sizes 60-260 px, some dark, some rotated by up to 25 degrees."""
    from skimage import data

    face = data.astronaut()[0:320, 80:400]
    out = []
    rng = np.random.default_rng(0)
    for i in range(60):
        side = int(60 + 200 * (i % 10) / 9)
        crop = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        if i % 3 == 1:
            crop = (crop * 0.35).astype(np.uint8)
        if i % 3 == 2:
            m = cv2.getRotationMatrix2D((side / 2, side / 2), float(rng.uniform(-25, 25)), 1.0)
            crop = cv2.warpAffine(crop, m, (side, side), borderMode=cv2.BORDER_REFLECT)
        frame = np.full((480, 640, 3), 80, np.uint8)
        x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
        frame[y:y + side, x:x + side] = crop
        # the face sits at about (0.45, 0.38) of the crop
        out.append((frame, (x + 0.45 * side, y + 0.38 * side)))
    return out


def measure(det, data) -> tuple[float, float]:
    hits, times = 0, []
    for frame, (cx, cy) in data:
        t = time.perf_counter()
        boxes = det.detect(frame)
        times.append((time.perf_counter() - t) * 1000)
        hits += any(b.x <= cx <= b.x + b.w and b.y <= cy <= b.y + b.h for b in boxes)
    return float(np.median(times)), hits / len(data)


def main() -> int:
    data = frames()
    configs = [
        ("haar 1.1/5/30 full frame (fer-style)", HaarDetector(1.1, 5, 30, max_side=0)),
        ("haar 1.05/5/10 full frame (original project)", HaarDetector(1.05, 5, 10, max_side=0)),
        ("haar 1.1/5/30 on 320 px copy", HaarDetector(1.1, 5, 30, max_side=320)),
        ("haar 1.05/5/10 on 320 px copy", HaarDetector(1.05, 5, 10, max_side=320)),
    ]
    s = get_settings()
    if yunet_available(s):
        configs += [("yunet full frame", YuNetDetector(s.yunet_path, max_side=0)),
                    ("yunet on 320 px copy", YuNetDetector(s.yunet_path, max_side=320))]
    else:
        print(f"(YuNet not measured: no model at {s.yunet_path})")
    print(f"{len(data)} frames 640x480, faces 60-260 px, a third darkened, a third turned")
    print(f"{'detector':<46}{'ms/frame':>10}{'found':>8}")
    for name, det in configs:
        ms, rate = measure(det, data)
        print(f"{name:<46}{ms:>10.1f}{rate:>8.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
