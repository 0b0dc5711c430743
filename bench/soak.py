"""Soak test: N live sessions at 30 fps plus a stream of photo uploads for a fixed time, on loopback.

Each live session is a ``fer_core.inference.live.LiveProcessor`` (what the live page runs) driven directly
at ``--fps`` with 640x480 frames made from a real face photo (scikit-image's astronaut, moved and
scaled); no browser and no WebRTC are involved. Uploads go through ``fer_core.inference.batch.analyze_upload``
(what the upload page runs) with real JPEG bytes. All share one cached pipeline, as the app's
sessions do. With ``--server`` a real Streamlit server is started on 127.0.0.1 and its
``/_stcore/health`` is polled every second meanwhile, to see that it stays responsive.

Everything is bounded: it stops by itself after ``--seconds`` (plus a short warm-up) and stops the
server it started. It prints frames per session, errors, resident memory after warm-up and at the
end, health latency, and last a headline:
``sessions=.. frames_per_session=.. errors=.. rss_growth_pct=.. health_p95_ms=..``

    nice -n 10 .venv/bin/python bench/soak.py [--sessions 4] [--seconds 600] [--server]
"""

from __future__ import annotations

import streamlit_webrtc  # noqa: F401  (pylibsrtp before tensorflow, or the process segfaults)

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_frames(n: int = 90) -> list[np.ndarray]:
    """640x480 RGB frames of a real face moving and scaling: the same ones ``bench/live.py`` uses."""
    sys.path.insert(0, str(ROOT / "bench"))
    from live import synthetic_frames

    return synthetic_frames(n)


def make_uploads() -> list[tuple[str, bytes]]:
    """Real JPEG photos of a face at a few sizes and qualities, as phones and cameras send them."""
    from PIL import Image
    from skimage import data

    astro = Image.fromarray(data.astronaut())
    out = []
    for side, quality in ((512, 90), (1024, 85), (2048, 80), (320, 70)):
        buf = io.BytesIO()
        astro.resize((side, side)).save(buf, "JPEG", quality=quality)
        out.append((f"astronaut_{side}.jpg", buf.getvalue()))
    return out


@dataclass
class SessionResult:
    frames: int = 0
    late: int = 0  # ticks skipped because processing fell behind
    exceptions: int = 0
    errors_seen: set[str] = field(default_factory=set)
    latencies_ms: list[float] = field(default_factory=list)
    labels: int = 0


def run_session(pipe, frames: list[np.ndarray], fps: float, stop: threading.Event, counting: threading.Event,
                result: SessionResult, offset: int) -> None:
    """Feed frames at ``fps`` until ``stop``; count only while ``counting`` (after warm-up)."""
    from fer_core.inference.live import LiveProcessor

    proc = LiveProcessor(pipe)
    period = 1.0 / fps
    next_tick = time.perf_counter()
    i = offset
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                out = proc.process(frames[i % len(frames)])
                if out.shape != frames[0].shape:
                    raise AssertionError(f"frame came back as {out.shape}")
            except Exception as exc:  # process() must never raise: count it
                result.exceptions += 1
                result.errors_seen.add(f"{type(exc).__name__}: {exc}"[:160])
            dt = (time.perf_counter() - t0) * 1000.0
            i += 1
            if counting.is_set():
                result.frames += 1
                result.latencies_ms.append(dt)
                snap = proc.snapshot()
                if snap.error:
                    result.errors_seen.add(snap.error)
                result.labels += snap.label is not None
            next_tick += period
            rest = next_tick - time.perf_counter()
            if rest > 0:
                stop.wait(rest)
            else:  # behind: drop the missed ticks instead of bursting
                missed = int(-rest // period)
                result.late += missed if counting.is_set() else 0
                next_tick += missed * period
    finally:
        proc.close()


@dataclass
class UploadResult:
    done: int = 0
    errors: list[str] = field(default_factory=list)
    faces: int = 0
    seconds: list[float] = field(default_factory=list)


def run_uploads(pipe, uploads: list[tuple[str, bytes]], interval: float, stop: threading.Event,
                counting: threading.Event, result: UploadResult) -> None:
    from fer_core.inference.batch import analyze_upload

    i = 0
    while not stop.is_set():
        name, data = uploads[i % len(uploads)]
        i += 1
        try:
            r = analyze_upload(name, data, pipe)
            err = r.error
        except Exception as exc:  # analyze_upload must never raise: count it
            err, r = f"{name}: raised {type(exc).__name__}: {exc}", None
        if counting.is_set():
            result.done += 1
            if err:
                result.errors.append(err)
            elif r is not None:
                result.faces += len(r.faces)
                result.seconds.append(r.seconds)
        stop.wait(interval)


# ---------------------------------------------------------------- optional server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real ``streamlit run streamlit_app.py`` on 127.0.0.1, stopped (its own process group) on exit."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/_stcore/health"
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
               "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def health_ms(self, timeout: float = 5.0) -> float | None:
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(self.url, timeout=timeout) as resp:
                ok = resp.status == 200 and resp.read().strip() == b"ok"
        except OSError:
            return None
        return (time.perf_counter() - t0) * 1000.0 if ok else None

    def wait_ready(self, timeout: float = 120.0) -> bool:
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            if self.proc.poll() is not None:
                return False
            if self.health_ms(timeout=2.0) is not None:
                return True
            time.sleep(0.5)
        return False

    def rss_mb(self) -> float:
        import psutil

        try:
            p = psutil.Process(self.proc.pid)
            return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20
        except psutil.Error:
            return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group this script started, by its id
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


def poll_health(server: Server, stop: threading.Event, counting: threading.Event,
                latencies: list[float], failures: list[float]) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        ms = server.health_ms()
        if counting.is_set():
            if ms is None:
                failures.append(time.perf_counter())
            else:
                latencies.append(ms)
        stop.wait(max(0.0, 1.0 - (time.perf_counter() - t)))


# ---------------------------------------------------------------- main
def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=4, help="concurrent live sessions (default 4)")
    p.add_argument("--seconds", type=float, default=600.0, help="measured duration (default 600; 20 for a quick run)")
    p.add_argument("--warmup", type=float, default=None, help="seconds before measuring (default 10%%, 3..30)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second per session (default 30)")
    p.add_argument("--upload-interval", type=float, default=1.0, help="seconds between uploads (default 1)")
    p.add_argument("--model", default=None, help="model name or folder (default: the default model)")
    p.add_argument("--detector", default=None, help="auto | yunet | haar (default: settings)")
    p.add_argument("--server", action="store_true", help="also run a Streamlit server and poll its health")
    p.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    args = p.parse_args(argv)
    if not (1 <= args.sessions <= 64 and 1 <= args.seconds <= 3600 and 1 <= args.fps <= 120):
        p.error("bounds: 1-64 sessions, 1-3600 seconds, 1-120 fps")
    warmup = args.warmup if args.warmup is not None else min(30.0, max(3.0, args.seconds * 0.1))

    import psutil

    from fer_core.inference.pipeline import get_pipeline

    me = psutil.Process()
    frames = make_frames()
    uploads = make_uploads()
    print(f"live: {args.sessions} sessions, each a LiveProcessor driven directly at {args.fps:g} fps with "
          f"{frames[0].shape[1]}x{frames[0].shape[0]} frames made from a real face photo (skimage astronaut); "
          "no browser or WebRTC")
    print(f"uploads: fer_core.inference.batch.analyze_upload of real JPEG bytes ({', '.join(n for n, _ in uploads)}), "
          f"one every {args.upload_interval:g} s")
    t = time.perf_counter()
    pipe = get_pipeline(args.model, args.detector)
    pipe.classifier.warm_up()
    print(f"model {pipe.classifier.directory.name} loaded in {time.perf_counter() - t:.1f}s; "
          f"detector {pipe.detector.name}; {os.cpu_count()} CPUs")

    server = None
    if args.server:
        port = args.port or free_port()
        server = Server(port, ROOT / "tmp" / "soak_server.log" if (ROOT / "tmp").is_dir()
                        else Path(os.environ.get("TMPDIR", "/tmp")) / f"soak_server_{port}.log")
        t = time.perf_counter()
        if not server.wait_ready():
            server.stop()
            print(f"error: the Streamlit server did not become healthy (log: {server.log.name})", file=sys.stderr)
            return 2
        print(f"server: streamlit on 127.0.0.1:{port} healthy after {time.perf_counter() - t:.1f}s; "
              "polling /_stcore/health every second")

    stop, counting = threading.Event(), threading.Event()
    sessions = [SessionResult() for _ in range(args.sessions)]
    uploaded = UploadResult()
    health: list[float] = []
    health_failures: list[float] = []
    threads = [threading.Thread(target=run_session, name=f"session-{k}", daemon=True,
                                args=(pipe, frames, args.fps, stop, counting, sessions[k], k * 7))
               for k in range(args.sessions)]
    threads.append(threading.Thread(target=run_uploads, name="uploads", daemon=True,
                                    args=(pipe, uploads, args.upload_interval, stop, counting, uploaded)))
    if server:
        threads.append(threading.Thread(target=poll_health, name="health", daemon=True,
                                        args=(server, stop, counting, health, health_failures)))
    rss_samples: list[float] = []
    try:
        for th in threads:
            th.start()
        time.sleep(warmup)
        rss_start = me.memory_info().rss / 2**20
        server_rss_start = server.rss_mb() if server else float("nan")
        counting.set()
        t_start = time.perf_counter()
        print(f"warm-up {warmup:.0f}s done; measuring for {args.seconds:g}s (rss {rss_start:.0f} MB)", flush=True)
        next_report = 60.0
        while (elapsed := time.perf_counter() - t_start) < args.seconds:
            time.sleep(min(1.0, args.seconds - elapsed))
            rss_samples.append(me.memory_info().rss / 2**20)
            if elapsed >= next_report:
                print(f"  {elapsed:4.0f}s  frames/session {np.mean([s.frames for s in sessions]):.0f}  "
                      f"uploads {uploaded.done}  rss {rss_samples[-1]:.0f} MB", flush=True)
                next_report += 60.0
        measured = time.perf_counter() - t_start
        counting.clear()
        rss_end = me.memory_info().rss / 2**20
        server_rss_end = server.rss_mb() if server else float("nan")
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=15)
        if server:
            server.stop()
    stuck = [th.name for th in threads if th.is_alive()]

    errors = 0
    print(f"\nmeasured {measured:.1f}s")
    for k, s in enumerate(sessions):
        errors += s.exceptions + len(s.errors_seen)
        print(f"session {k}: frames {s.frames} ({s.frames / measured:.1f} fps of {args.fps:g}), late ticks {s.late}, "
              f"process p50 {pct(s.latencies_ms, 50):.1f} ms p95 {pct(s.latencies_ms, 95):.1f} ms, "
              f"frames with a label {s.labels}, exceptions {s.exceptions}, errors {sorted(s.errors_seen) or 0}")
    errors += len(uploaded.errors)
    print(f"uploads: {uploaded.done} analysed, {uploaded.faces} faces, p95 {pct(uploaded.seconds, 95) * 1000:.0f} ms, "
          f"errors {len(uploaded.errors)}" + (f" (first: {uploaded.errors[0]})" if uploaded.errors else ""))
    growth = (rss_end - rss_start) / rss_start * 100.0
    print(f"memory (this process): rss after warm-up {rss_start:.0f} MB, end {rss_end:.0f} MB, "
          f"max {max(rss_samples, default=rss_end):.0f} MB, growth {growth:+.1f}%")
    health_p95 = float("nan")
    if server:
        errors += len(health_failures)
        health_p95 = pct(health, 95)
        print(f"server health: {len(health)} polls ok, {len(health_failures)} failed, "
              f"p50 {pct(health, 50):.1f} ms p95 {health_p95:.1f} ms max {max(health, default=float('nan')):.1f} ms; "
              f"server rss {server_rss_start:.0f} -> {server_rss_end:.0f} MB")
    if stuck:
        errors += len(stuck)
        print(f"threads still running at the end: {stuck}")
    frames_per_session = int(np.mean([s.frames for s in sessions]))
    print(f"sessions={args.sessions} frames_per_session={frames_per_session} errors={errors} "
          f"rss_growth_pct={growth:.1f} health_p95_ms={health_p95:.1f}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
