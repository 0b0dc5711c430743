"""Capacity benchmark: what one live session costs the server, the whole path, and how many fit at 30 fps.

Each session is what the server does for one browser on the live page, minus the network: a VP8
frame as the browser sends it is decoded (aiortc's ``Vp8Decoder``, libvpx through PyAV), converted
to RGB, run through ``fer_core.inference.live.LiveProcessor`` (detection, the classification worker,
drawing: exactly the page's processor on the shared pipeline), converted back and re-encoded to VP8
(aiortc's ``Vp8Encoder`` with aiortc's own settings), 30 times a second, late ticks dropped as
streamlit-webrtc drops frames the callback cannot take. The frames are 640x480, made from a real face
photo (scikit-image's astronaut, moving and scaling, ``bench/live.py``'s frames) or read from
``--video``, and VP8-encoded once beforehand at 1.5 Mbit/s as a browser would send them.

Sessions run as threads of one process sharing one model, as the app's sessions do. For 1, 2, ...
sessions (``--max-sessions``) each step runs ``--seconds`` after a warm-up (for the load governor to
settle) and stops at the first step that misses the target: every session at 30 fps (95% of its frames on
time) with frame latency p95 within 33 ms. The app's sessions follow one ``LoadGovernor`` (fewer views
per label, then fewer detections, when the process is busy: ``fer_core/inference/load.py``); each step
gets a fresh one and prints the level it settled at. CPU time of the process
(all threads) per frame gives the cost of a session at 30 fps, independent of what else the machine
runs; ``per_core`` is how many sessions one core carries at that cost.

Levers, measured the same way with ``--lever-sessions`` sessions (default 1):
  full quality    the app's path without the governor (the card's test-time views on every label)
  boxes-only      decode and analyse, no drawing and no re-encoding: the server would send boxes and
                  labels as data and the browser draw them over its own camera (no video back)
  detect-every-6  the page's "Detect faces every N frames" at 6 instead of 2: faces found and
                  classified 5 times a second instead of 15 (labels refresh more slowly)
  both            the two together
The peer, in the same run: a fer-style loop (Haar 1.1/5/30 on the full frame and fer's mini-Xception on
every face of every frame, ``bench/fer_baseline.py``) in the same decode/draw/encode path.

    nice -n 19 .venv/bin/python bench/capacity.py [--max-sessions 8] [--seconds 8] [--lever-sessions 1]

The last line is the headline: ``sessions_at_30fps=… p95_ms=… per_core=… ratio_vs_fer=…``; the lines
before it give each lever's ``per_core`` and its ratio to the app's path.
"""

from __future__ import annotations

import streamlit_webrtc  # noqa: F401  (pylibsrtp before tensorflow, or the process segfaults)

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import record  # noqa: E402

VIDEO_CLOCK = 90_000  # RTP video clock (aiortc's VIDEO_TIME_BASE)
BROWSER_BITRATE = 1_500_000  # what Chrome sends for 640x480 is of this order; aiortc's own maximum
KEEP_UP = 0.95  # a session keeps up when at least this share of its 30 fps ticks got a frame through
P95_TARGET_MS = 33.0  # and the latency target: 95% of frames through within one frame's time


# ---------------------------------------------------------------- the browser's side, made once
def encode_stream(frames: list[np.ndarray], fps: int) -> list[tuple[bytes, int]]:
    """The frames as VP8 frames (depacketized payloads) and RTP timestamps, as the server receives them."""
    import av
    from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload

    enc = Vp8Encoder()
    enc.target_bitrate = BROWSER_BITRATE
    step = VIDEO_CLOCK // fps
    out = []
    for i, rgb in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        vf.pts, vf.time_base = i * step, Fraction(1, VIDEO_CLOCK)
        payloads, ts = enc.encode(vf, force_keyframe=i == 0)
        out.append((b"".join(vp8_depayload(p) for p in payloads), ts))
    return out


# ---------------------------------------------------------------- what the server does per frame
@dataclass(frozen=True)
class Mode:
    name: str
    encode: bool  # draw and re-encode the annotated video (else boxes and labels go back as data)
    detect_every: int = 2
    fer_style: bool = False
    adapt: bool = False  # follow a load governor shared by the step's sessions, as the app's sessions do


APP = Mode("app (re-encode, detect every 2, load governor)", encode=True, adapt=True)
LEVERS = [Mode("full quality always (no governor)", encode=True),
          Mode("boxes-only (no draw, no re-encode)", encode=False),
          Mode("detect-every-6 (classify 5/s)", encode=True, detect_every=6),
          Mode("both", encode=False, detect_every=6)]
FER = Mode("fer-style peer (Haar + mini-Xception, re-encode)", encode=True, fer_style=True)


def make_analyser(mode: Mode, pipe, fer, governor=None
                  ) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[], None], Callable[[], int]]:
    """``(analyse(rgb) -> frame to send, close(), classifications so far)`` for one session."""
    import cv2

    from fer_core.inference.live import LiveProcessor
    from fer_core.inference.stream import StreamOptions

    if mode.fer_style:
        def fer_frame(rgb: np.ndarray) -> np.ndarray:
            found = fer.process(rgb)
            if not mode.encode:
                return rgb
            out = rgb.copy()
            for (x, y, w, h), label, score in found:
                cv2.rectangle(out, (x, y), (x + w, y + h), (60, 220, 60), 2)
                cv2.putText(out, f"{label} {score:.0%}", (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                            (60, 220, 60), 2)
            return out

        return fer_frame, lambda: None, lambda: 0

    class BoxesOnly(LiveProcessor):
        """The page's processor without the drawing: boxes and labels stay in ``snapshot()`` as data."""

        def _draw(self, rgb: np.ndarray) -> np.ndarray:
            with self._lock:
                self._stats.faces = len(self._boxes)
            return rgb

    cls = LiveProcessor if mode.encode else BoxesOnly
    proc = cls(pipe, StreamOptions(detect_every=mode.detect_every), governor=governor if mode.adapt else None)
    return proc.process, proc.close, lambda: proc.snapshot().classified


def stage_costs(pipe, stream: list[tuple[bytes, int]], frames: int = 60) -> dict[str, float]:
    """CPU milliseconds per frame of each stage of one session, one thread, classification inline.

    ``classify`` is per model run (the page runs it at most once per detection, in its worker thread).
    """
    import av
    from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder
    from aiortc.jitterbuffer import JitterFrame

    from fer_core.inference.live import LiveProcessor
    from fer_core.inference.stream import StreamOptions

    decoder, encoder = Vp8Decoder(), Vp8Encoder()
    proc = LiveProcessor(pipe, StreamOptions(async_classify=False, detect_every=1))
    cost = dict.fromkeys(("decode", "to_rgb", "detect_classify_draw", "from_rgb", "encode"), 0.0)
    clock = time.thread_time
    for i in range(frames):
        data, _ = stream[i % len(stream)]
        t = clock()
        frame = decoder.decode(JitterFrame(data, i * VIDEO_CLOCK // 30))[0]
        t, cost["decode"] = clock(), cost["decode"] + clock() - t
        rgb = frame.to_ndarray(format="rgb24")
        t, cost["to_rgb"] = clock(), cost["to_rgb"] + clock() - t
        p0 = time.process_time()  # the model may use threads of its own
        out = proc.process(rgb)
        cost["detect_classify_draw"] += time.process_time() - p0
        t = clock()
        vf = av.VideoFrame.from_ndarray(out, format="rgb24")
        vf.pts, vf.time_base = i * VIDEO_CLOCK // 30, Fraction(1, VIDEO_CLOCK)
        t, cost["from_rgb"] = clock(), cost["from_rgb"] + clock() - t
        encoder.encode(vf)
        cost["encode"] += clock() - t
    runs = max(1, proc.snapshot().classified)
    proc.close()
    out_ms = {k: v / frames * 1000.0 for k, v in cost.items()}
    crops = [np.zeros((96, 96, 3), np.uint8)]
    p0 = time.process_time()
    for _ in range(10):
        pipe.classifier.predict(crops)
    out_ms["classify (per run)"] = (time.process_time() - p0) / 10 * 1000.0
    out_ms["detect_draw"] = max(0.0, out_ms.pop("detect_classify_draw") - out_ms["classify (per run)"] * runs / frames)
    return out_ms


@dataclass
class SessionResult:
    frames: int = 0
    ticks: int = 0  # 30 fps ticks while counting (frames + late ones)
    latencies_ms: list[float] = field(default_factory=list)
    bytes_out: int = 0
    classified: int = 0  # fresh classifications of the largest face while counting (the label refresh)
    errors: list[str] = field(default_factory=list)


def run_session(mode: Mode, pipe, fer, stream: list[tuple[bytes, int]], fps: int, stop: threading.Event,
                counting: threading.Event, result: SessionResult, governor=None) -> None:
    """Decode -> analyse -> (draw, re-encode) at ``fps`` until ``stop``; late ticks are dropped, not queued."""
    import av
    from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder
    from aiortc.jitterbuffer import JitterFrame

    analyse, close, classified = make_analyser(mode, pipe, fer, governor)
    decoder, encoder = Vp8Decoder(), (Vp8Encoder() if mode.encode else None)
    period, step = 1.0 / fps, VIDEO_CLOCK // fps
    next_tick = time.perf_counter()
    i = 0
    counted_from: int | None = None
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            if counting.is_set() and counted_from is None:
                counted_from = classified()
            data, _ = stream[i % len(stream)]
            try:
                for frame in decoder.decode(JitterFrame(data, i * step)):
                    out = analyse(frame.to_ndarray(format="rgb24"))
                    if encoder is not None:
                        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(out), format="rgb24")
                        vf.pts, vf.time_base = i * step, Fraction(1, VIDEO_CLOCK)
                        payloads, _ = encoder.encode(vf)
                        if counting.is_set():
                            result.bytes_out += sum(len(p) for p in payloads)
            except Exception as exc:  # counted and shown: a benchmark that hides errors measures nothing
                if len(result.errors) < 3:
                    result.errors.append(f"{type(exc).__name__}: {exc}"[:160])
            i += 1
            if counting.is_set():
                result.frames += 1
                result.ticks += 1
                result.latencies_ms.append((time.perf_counter() - t0) * 1000.0)
            next_tick += period
            rest = next_tick - time.perf_counter()
            if rest > 0:
                stop.wait(rest)
            else:  # behind: skip the missed ticks (the browser's frames in between would be dropped)
                missed = int(-rest // period)
                if counting.is_set():
                    result.ticks += missed
                next_tick += missed * period
    finally:
        if counted_from is not None:  # counting ends just before stop is set
            result.classified = classified() - counted_from
        close()


@dataclass
class Step:
    mode: Mode
    sessions: int
    seconds: float
    cpu_s: float
    results: list[SessionResult]

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.results)

    @property
    def fps_each(self) -> list[float]:
        return [r.frames / self.seconds for r in self.results]

    @property
    def meets_target(self) -> bool:
        """30 fps kept (95% of frames on time) with frame latency p95 within one frame (33 ms)."""
        return self.keeps_up and self.p95_ms <= P95_TARGET_MS

    @property
    def keeps_up(self) -> bool:
        return all(r.ticks and r.frames >= KEEP_UP * r.ticks for r in self.results) and not self.errors

    @property
    def errors(self) -> list[str]:
        return [e for r in self.results for e in r.errors]

    @property
    def on_time(self) -> float:
        return min(r.frames / r.ticks if r.ticks else 0.0 for r in self.results)

    @property
    def p95_ms(self) -> float:
        lat = [x for r in self.results for x in r.latencies_ms]
        return float(np.percentile(lat, 95)) if lat else float("nan")

    @property
    def cpu_ms_per_frame(self) -> float:
        return self.cpu_s / self.frames * 1000.0 if self.frames else float("nan")

    def per_core(self, fps: int) -> float:
        """Sessions one core carries at ``fps`` at this step's CPU cost per frame."""
        return 1000.0 / (self.cpu_ms_per_frame * fps)


def measure(mode: Mode, sessions: int, pipe, fer, stream, fps: int, seconds: float, warmup: float) -> Step:
    stop, counting = threading.Event(), threading.Event()
    results = [SessionResult() for _ in range(sessions)]
    from fer_core.inference.load import LoadGovernor

    governor = LoadGovernor() if mode.adapt else None  # a fresh one per step: the server process's one
    threads = [threading.Thread(target=run_session, name=f"session-{k}", daemon=True,
                                args=(mode, pipe, fer, stream, fps, stop, counting, results[k], governor))
               for k in range(sessions)]
    for th in threads:
        th.start()
    try:
        time.sleep(warmup)
        cpu0, t0 = time.process_time(), time.perf_counter()
        counting.set()
        time.sleep(seconds)
        counting.clear()
        cpu1, t1 = time.process_time(), time.perf_counter()
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=15)
    step = Step(mode, sessions, t1 - t0, cpu1 - cpu0, results)
    fps_each = step.fps_each
    mbit = sum(r.bytes_out for r in results) * 8 / step.seconds / 1e6 / sessions
    labels = np.mean([r.classified for r in results]) / step.seconds
    print(f"  {mode.name:<52} N={sessions:<2} fps/session {np.mean(fps_each):5.1f} (min {min(fps_each):4.1f}, "
          f"{step.on_time:4.0%} on time)  p95 {step.p95_ms:6.1f} ms  labels/s {labels:4.1f}  "
          f"cpu {step.cpu_s / step.seconds:4.2f} cores  {step.cpu_ms_per_frame:5.1f} cpu-ms/frame  "
          f"per_core {step.per_core(fps):4.2f}"
          + (f"  {mbit:.2f} Mbit/s out" if mode.encode else "")
          + (f"  level {governor.quality.level} (cpu share {governor.share:.2f})" if governor else "")
          + ("  meets target" if step.meets_target else "  keeps up" if step.keeps_up else "  FALLS BEHIND")
          + (f"  errors {step.errors}" if step.errors else ""), flush=True)
    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-sessions", type=int, default=8, help="largest number of sessions tried (default 8)")
    p.add_argument("--seconds", type=float, default=8.0, help="measured seconds per step (default 8)")
    p.add_argument("--warmup", type=float, default=5.0,
                   help="seconds before each step is measured, for the load governor to settle (default 5)")
    p.add_argument("--fps", type=int, default=30, help="frames per second per session (default 30)")
    p.add_argument("--lever-sessions", type=int, default=1, help="sessions for the lever and peer steps (default 1)")
    p.add_argument("--model", default=None, help="model name or folder (default: the default model)")
    p.add_argument("--detector", default=None, help="auto | yunet | haar (default: settings)")
    p.add_argument("--video", default=None, help="a video file instead of the astronaut frames")
    p.add_argument("--skip-levers", action="store_true")
    p.add_argument("--skip-fer", action="store_true")
    args = p.parse_args(argv)
    if not (1 <= args.max_sessions <= 64 and 1 <= args.seconds <= 120 and 1 <= args.fps <= 60
            and 1 <= args.lever_sessions <= args.max_sessions):
        p.error("bounds: 1-64 sessions, 1-120 seconds per step, 1-60 fps, lever sessions <= max sessions")

    from live import synthetic_frames, video_frames

    from fer_core.inference.pipeline import get_pipeline

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    t = time.perf_counter()
    frames = video_frames(args.video, limit=150) if args.video else synthetic_frames(150)
    stream = encode_stream(frames, args.fps)
    del frames
    kbit = sum(len(d) for d, _ in stream) * 8 / (len(stream) / args.fps) / 1000
    print(f"{len(stream)} VP8 frames of 640x480 ({'video ' + args.video if args.video else 'from a real face photo'}),"
          f" {kbit:.0f} kbit/s as received; encoded in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    pipe = get_pipeline(args.model, args.detector)
    pipe.classifier.warm_up()
    print(f"model {pipe.classifier.directory.name} loaded in {time.perf_counter() - t:.1f}s; detector "
          f"{pipe.detector.name}; {cores} cores; load average {os.getloadavg()[0]:.1f} before the run")
    fer = None
    if not args.skip_fer:
        import fer_baseline

        fer = fer_baseline.FerStylePipeline()
        fer.process(synthetic_frames(1)[0])

    costs = stage_costs(pipe, stream)
    print("stage costs, CPU ms per frame (one session, one thread): "
          + ", ".join(f"{k} {v:.1f}" for k, v in costs.items()))

    def step(mode: Mode, n: int) -> Step:
        return measure(mode, n, pipe, fer, stream, args.fps, args.seconds, args.warmup)

    started = time.perf_counter()
    print(f"\nthe app's path, 1..{args.max_sessions} sessions at {args.fps} fps, {args.seconds:g} s each:")
    sweep: list[Step] = []
    for n in range(1, args.max_sessions + 1):
        sweep.append(step(APP, n))
        if not sweep[-1].meets_target:
            break
    kept = [s for s in sweep if s.meets_target]
    best = kept[-1] if kept else sweep[0]
    # levers and peer are compared with the app's path at the same number of sessions
    base = next((s for s in sweep if s.sessions == args.lever_sessions), None)
    levers: list[Step] = []
    if not args.skip_levers:
        print(f"\nlevers, {args.lever_sessions} session(s) each:")
        base = base or step(APP, args.lever_sessions)
        levers = [step(m, args.lever_sessions) for m in LEVERS]
    peer = None
    if fer is not None:
        print("\npeer:")
        peer = step(FER, args.lever_sessions)
    print(f"\nrun took {time.perf_counter() - started:.0f}s; load average {os.getloadavg()[0]:.1f} at the end")

    per_core = best.per_core(args.fps)
    for lv in levers:
        assert base is not None
        ratio = lv.per_core(args.fps) / base.per_core(args.fps)
        print(f"lever {lv.mode.name}: per_core={lv.per_core(args.fps):.2f} cpu_ms_per_frame={lv.cpu_ms_per_frame:.1f} "
              f"x{ratio:.2f} vs the app's path at the same sessions ({base.per_core(args.fps):.2f})")
    ratio_vs_fer = float("nan")
    if peer is not None:
        ratio_vs_fer = (base or best).per_core(args.fps) / peer.per_core(args.fps)
        print(f"peer fer-style: per_core={peer.per_core(args.fps):.2f} cpu_ms_per_frame={peer.cpu_ms_per_frame:.1f}")
    at_30 = best.sessions if kept else 0
    headline = (f"sessions_at_30fps={at_30} p95_ms={best.p95_ms:.1f} per_core={per_core:.2f} "
                f"cpu_ms_per_frame={best.cpu_ms_per_frame:.1f} cores={cores} ratio_vs_fer={ratio_vs_fer:.2f}")
    print(headline)
    record("capacity", [headline])
    return 0 if all(not s.errors for s in [*sweep, *levers]) else 1


if __name__ == "__main__":
    sys.exit(main())
