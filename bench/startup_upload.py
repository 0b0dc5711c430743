"""Start-up and upload benchmark.

1. Start-up, in a fresh process: importing TensorFlow, then loading the shipped model and making
   its first prediction (the figure the 3-second target is about), and separately the imports a
   first page view needs (no TensorFlow).
2. Upload: 20 photos of 1280x960 (JPEG bytes made from a real face photo) through exactly the
   upload page's path (``fer_core.inference.batch.analyze_uploads``: decode, detect, classify, annotate),
   end to end, compared with the fer-style pipeline (Haar on the full image, mini-Xception).

    .venv/bin/python bench/startup_upload.py
"""

from __future__ import annotations

import streamlit_webrtc  # noqa: F401  (pylibsrtp before tensorflow, or the process segfaults)

import io
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from results import record  # noqa: E402

_STARTUP = """
import time; t0 = time.perf_counter()
import streamlit_webrtc
t1 = time.perf_counter()
import tensorflow
t2 = time.perf_counter()
from fer_core.inference.pipeline import get_pipeline
p = get_pipeline()
import numpy as np
p.analyze(np.zeros((480, 640, 3), np.uint8)); p.classifier.warm_up()
t3 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f}")
"""

_PAGE = """
import time, sys; t0 = time.perf_counter()
import streamlit_webrtc, streamlit
import webui.models, webui.navigation, fer_core.registry, fer_core.settings
print(f"{time.perf_counter() - t0:.3f} {'tensorflow' in sys.modules}")
"""


def photos(n: int = 20) -> list[tuple[str, bytes]]:
    from PIL import Image
    from skimage import data

    face = data.astronaut()
    out = []
    for i in range(n):
        canvas = np.full((960, 1280, 3), 60 + 5 * i, np.uint8)
        side = 400 + 20 * (i % 10)
        x, y = min(40 + 30 * i, 1280 - side), 40 + 20 * (i % 7)
        canvas[y:y + side, x:x + side] = cv2.resize(face, (side, side))
        buf = io.BytesIO()
        Image.fromarray(canvas).save(buf, format="JPEG", quality=90)
        out.append((f"photo_{i:02d}.jpg", buf.getvalue()))
    return out


def main() -> int:
    env_cmd = [sys.executable, "-c"]
    r = subprocess.run(env_cmd + [_STARTUP], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        print(r.stderr[-2000:])
        return 1
    webrtc, tf, model = (float(v) for v in r.stdout.split()[-3:])
    print(f"start-up (fresh process): streamlit_webrtc import {webrtc:.2f}s, tensorflow import {tf:.2f}s, "
          f"model load + first prediction {model:.2f}s")
    r = subprocess.run(env_cmd + [_PAGE], capture_output=True, text=True, cwd=ROOT)
    page_s, has_tf = r.stdout.split()[-2:]
    print(f"first page view imports: {float(page_s):.2f}s, tensorflow imported: {has_tf}")

    from fer_core.inference.batch import analyze_uploads
    from fer_core.inference.pipeline import get_pipeline

    files = photos()
    pipe = get_pipeline()
    pipe.classifier.warm_up()
    t = time.perf_counter()
    results = analyze_uploads(files, pipe)
    ours = time.perf_counter() - t
    found = sum(1 for res in results if res.faces)

    import fer_baseline

    from fer_core.data.imageio import decode_image

    fer = fer_baseline.FerStylePipeline()
    fer.process(decode_image(files[0][1]))
    t = time.perf_counter()
    fer_found = sum(1 for name, data in files if fer.process(decode_image(data, name)))
    theirs = time.perf_counter() - t
    print(f"upload: {len(files)} photos 1280x960, ours {ours:.2f}s ({found} with a face), "
          f"fer-style {theirs:.2f}s ({fer_found} with a face)")
    headline = (f"startup_model_s={model:.2f} tf_import_s={tf:.2f} upload20_s={ours:.2f} "
                f"ratio_vs_fer={theirs / ours:.2f}")
    print(headline)
    record("startup_upload", [headline])
    return 0


if __name__ == "__main__":
    sys.exit(main())
