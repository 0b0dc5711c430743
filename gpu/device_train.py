"""Train the plan's networks on a lent GPU machine inside a time budget; pack each result into ``--out``.

Why a driver: a lent machine gives about 15 minutes in all, at most 10 a command, and
nothing installed survives it. So one command does everything: it times one epoch of each kind of
network on this machine (a few steps on random pixels, not a guess), shrinks the plan's epochs so that
every job ends inside the budget, runs the jobs side by side (small networks leave most of a GPU idle),
and writes one ``NAME.tar.gz`` per job (the model folder, its log; the weights only when small enough
to come back) plus ``summary.json``. Each job is an ordinary ``python -m fer_core.train`` run, with the
same model folder, card and report as on the CPU, under Keras on PyTorch.

    PYTHONPATH=/tmp/site:. KERAS_BACKEND=torch python3 gpu/device_train.py --budget 560 --out "$OUT"

It also runs on a CPU (``--plan`` with tiny jobs, a few seconds of budget): the test suite does so.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

log = logging.getLogger("device_train")

MAX_BACK_BYTES = 15 * 2**20  # a file larger than 16 MiB does not come back from the machine
TOTAL_BACK_BYTES = 60 * 2**20  # nor more than 64 MiB together
MAX_JOBS = 7  # at most 8 files come back: one archive per job and the summary
JOB_OVERHEAD_S = 45.0  # start, data loading, test-time views and the test report of one job (measured on CPU: less)
TAIL_S = 30.0  # after a job's last epoch: its test report, then the packing of every job
SLOWDOWN_PER_LANE = 0.45  # an epoch's slowdown per lane sharing the GPU (measured on an H200: 6 lanes 2.7x)


@dataclass
class Job:
    """One line of the plan: a training run and the epochs it would like."""

    name: str
    args: list[str]
    epochs: int
    min_epochs: int = 3
    seconds_per_epoch: float = 0.0
    run_epochs: int = 0
    lane: int = 0
    result: dict[str, Any] = field(default_factory=dict)


def load_plan(path: Path) -> list[Job]:
    """The plan file: a JSON list of ``{"name", "args", "epochs", "min_epochs"?}``."""
    raw = json.loads(path.read_text())
    jobs = [Job(str(j["name"]), [str(a) for a in j["args"]], int(j["epochs"]), int(j.get("min_epochs", 3)))
            for j in raw]
    names = [j.name for j in jobs]
    if len(jobs) > MAX_JOBS:
        raise ValueError(f"{path}: at most {MAX_JOBS} jobs (8 files come back from the machine: "
                         "one per job and the summary)")
    if len(set(names)) != len(names) or not all(n.replace("_", "").replace("-", "").isalnum() for n in names):
        raise ValueError(f"{path}: job names must be unique letters, digits, '-' and '_'")
    return jobs


def _option(args: list[str], name: str, default: str) -> str:
    return args[args.index(name) + 1] if name in args else default


def probe_seconds_per_epoch(job: Job, n_train: int, n_val: int, steps: int = 8) -> float:
    """Seconds one epoch of ``job``'s network takes here: ``steps`` timed batches of random pixels
    through the training wrapper (augmentation included), plus the validation pass, scaled up."""
    import keras

    from fer_core.training.architectures import backbone_spec, build_model, normalization_layer
    from fer_core.training.augment import build_augmentation

    backbone = _option(job.args, "--backbone", "fer_cnn")
    spec = backbone_spec(backbone, "none")
    size = int(_option(job.args, "--input-size", "0")) or spec.default_size
    batch = int(_option(job.args, "--batch-size", "128"))
    channels = 1 if spec.color_mode == "grayscale" else 3
    if "--precision" in job.args and _option(job.args, "--precision", "") == "bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    net = build_model(backbone, 8, (size, size), width=int(_option(job.args, "--width", "32")))
    inputs = keras.Input(shape=(size, size, channels))
    x = build_augmentation()(keras.layers.Rescaling(1.0)(inputs))
    model = keras.Model(inputs, net(normalization_layer(spec.normalization, channels)(x)))
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy", jit_compile=False)
    rng = np.random.default_rng(0)
    xs = rng.integers(0, 256, (batch * (steps + 2), size, size, channels)).astype("float32")
    ys = np.eye(8, dtype="float32")[rng.integers(0, 8, len(xs))]
    model.fit(xs[: 2 * batch], ys[: 2 * batch], batch_size=batch, epochs=1, verbose=0)  # warm-up
    t = time.perf_counter()
    model.fit(xs[2 * batch:], ys[2 * batch:], batch_size=batch, epochs=1, verbose=0)
    train_step = (time.perf_counter() - t) / steps
    t = time.perf_counter()
    model.predict(xs[: 2 * batch], batch_size=batch, verbose=0)
    val_step = (time.perf_counter() - t) / 2
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()
    return train_step * -(-n_train // batch) + val_step * -(-n_val // batch)


def probe_key(job: Job) -> tuple[str, ...]:
    """What an epoch's time depends on: the network, its input, the batch and the precision (not labels or seed)."""
    return tuple(_option(job.args, name, "") for name in
                 ("--backbone", "--width", "--input-size", "--batch-size", "--precision"))


def schedule(jobs: list[Job], budget_s: float, lanes: int, slowdown: float) -> None:
    """Give each job a lane and its epochs: the plan's, shrunk alike so the busiest lane ends in time.

    ``slowdown`` is how much slower an epoch runs while other lanes share the GPU (a guess the
    summary lets a later session correct). A job that cannot get ``min_epochs`` is dropped (0 epochs).
    """
    load = [0.0] * lanes
    for job in sorted(jobs, key=lambda j: -j.epochs * j.seconds_per_epoch):
        job.lane = int(np.argmin(load))
        load[job.lane] += job.epochs * job.seconds_per_epoch
    factor = slowdown if lanes > 1 else 1.0
    for lane in range(lanes):
        mine = [j for j in jobs if j.lane == lane]
        usable = budget_s - JOB_OVERHEAD_S * len(mine)
        want = sum(j.epochs * j.seconds_per_epoch * factor for j in mine)
        scale = min(1.0, usable / want) if want > 0 else 0.0
        for j in mine:
            j.run_epochs = int(j.epochs * scale)
            if j.run_epochs < j.min_epochs:
                j.run_epochs = 0


def auto_slowdown(lanes: int) -> float:
    """How much slower an epoch runs with ``lanes`` jobs sharing the GPU than alone, as the leases measured.

    Why measured, not guessed: the probe times one network alone, and jobs sharing a GPU slow each other
    more than a guess allows; a plan that underestimates it runs every job past the budget.
    """
    return max(1.0, SLOWDOWN_PER_LANE * lanes)


def _command(job: Job, data: str, work: Path, deadline: float) -> list[str]:
    """The job's ``fer_core.train`` run; it ends its training by ``deadline`` (the job's own options come last)."""
    return [sys.executable, "-m", "fer_core.train", "--data", data, "--out", str(work / job.name),
            "--name", job.name, "--epochs", str(job.run_epochs), "--checkpoint-dir", str(work / f"ckpt_{job.name}"),
            "--verbose", "2", "--deadline", f"{deadline - TAIL_S:.0f}", *job.args]


def job_environment(lanes: int) -> dict[str, str]:
    """The environment of one job: CPU threads shared out among the lanes.

    Why: each PyTorch process starts as many threads as the machine has cores, so several such processes
    fight over them and every epoch slows down. A step of these small networks is mostly Python on one core:
    a few threads each suffice.
    """
    threads = str(max(1, (os.cpu_count() or 1) // max(1, lanes)))
    return {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def run_all(jobs: list[Job], data: str, work: Path, deadline: float) -> None:
    """Run every scheduled job, one at a time per lane, lanes side by side.

    Each job ends its own training in time (``--deadline``) and still writes its model; what is still running
    at the deadline (a hang, or a job whose options turn that off) is killed.
    """
    lanes: dict[int, list[Job]] = {}
    for j in jobs:
        if j.run_epochs > 0:
            lanes.setdefault(j.lane, []).append(j)
    running: dict[int, tuple[Job, subprocess.Popen[bytes], float, Any]] = {}
    env = job_environment(len(lanes))
    while lanes or running:
        for lane in list(lanes):
            if lane not in running:
                job = lanes[lane].pop(0)
                if not lanes[lane]:
                    del lanes[lane]
                logf = open(work / f"{job.name}.log", "wb")  # noqa: SIM115 - closed when the job ends
                proc = subprocess.Popen(_command(job, data, work, deadline), stdout=logf, stderr=subprocess.STDOUT,
                                        cwd=ROOT, env=env)
                running[lane] = (job, proc, time.time(), logf)
                log.info("started %s: %d epochs on lane %d", job.name, job.run_epochs, lane)
        for lane, (job, proc, started, logf) in list(running.items()):
            if proc.poll() is None and time.time() > deadline:
                proc.kill()
                job.result["killed_at_deadline"] = True
            if proc.poll() is not None:
                logf.close()
                job.result.update(returncode=proc.returncode, seconds=round(time.time() - started, 1))
                log.info("%s ended (%s) after %.0f s", job.name, proc.returncode, time.time() - started)
                del running[lane]
        time.sleep(1.0)


@dataclass
class BackAllowance:
    """What may still come back from the machine: no file over 15 MiB, at most 60 MiB together."""

    used: int = 0

    def fits(self, size: int) -> bool:
        return size <= MAX_BACK_BYTES and self.used + size <= TOTAL_BACK_BYTES

    def take(self, size: int) -> None:
        self.used += size


def pack_results(jobs: list[Job], work: Path, out: Path) -> None:
    """One ``NAME.tar.gz`` per job: its model folder (weights only if they can come back) and its log.

    Weights stay behind when they do not fit the ``BackAllowance`` (the machine's limits on what comes
    back): four width-48 networks (11 MB each) and two width-32 (5 MB) fit.
    """
    allowance = BackAllowance()
    for job in jobs:
        folder, logfile = work / job.name, work / f"{job.name}.log"
        report = folder / "report.json"
        if report.is_file():
            metrics = json.loads(report.read_text())
            job.result.update(test_split=metrics.get("split"), test_labels=metrics.get("labels"),
                              test_accuracy=metrics.get("accuracy"), test_macro_f1=metrics.get("macro_f1"))
        with tarfile.open(out / f"{job.name}.tar.gz", "w:gz") as tar:
            if logfile.is_file():
                tar.add(logfile, arcname=f"{job.name}/train.log")
            for f in sorted(folder.glob("*")) if folder.is_dir() else []:
                size = f.stat().st_size
                if f.suffix == ".keras" and not allowance.fits(size):
                    job.result["weights_left_behind"] = f"{size / 2**20:.0f} MiB"
                    continue
                allowance.take(size)
                tar.add(f, arcname=f"{job.name}/{f.name}")
            if not (folder / "model.json").is_file():  # cut short: its checkpoint resumes here (--checkpoint-dir)
                ckpt = work / f"ckpt_{job.name}"
                for f in sorted(ckpt.rglob("*")):  # backup_<phase>/ too: the last epoch, to resume from
                    if f.is_file() and allowance.fits(size := f.stat().st_size):
                        allowance.take(size)
                        tar.add(f, arcname=f"{job.name}/checkpoint/{f.relative_to(ckpt)}")


def environment() -> dict[str, Any]:
    """What ran the jobs: the Keras backend, and the GPU when PyTorch sees one."""
    import keras

    env: dict[str, Any] = {"keras": keras.__version__, "backend": keras.backend.backend()}
    try:
        import torch

        env["torch"] = torch.__version__
        env["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:
        env["device"] = "cpu (no torch)"
    return env


def split_sizes(data: str) -> tuple[int, int]:
    """Training and PublicTest image counts of the dataset (for the epoch timing)."""
    from fer_core.data.datasets import load_dataset

    ds = load_dataset(data)
    return len(ds.split("Training")), len(ds.split("PublicTest"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plan", default=str(ROOT / "gpu" / "plan.json"))
    p.add_argument("--data", default=str(ROOT / ".carry" / "data" / "fer2013" / "fer2013.npz"))
    p.add_argument("--out", default=os.environ.get("OUT", "gpu_out"))
    p.add_argument("--work", default="/tmp/gpu_runs", help="where the jobs write (outside the checkout)")
    p.add_argument("--budget", type=float, default=560.0, help="seconds from start to the last job's end")
    p.add_argument("--lanes", type=int, default=6, help="jobs run side by side")
    p.add_argument("--slowdown", type=float, default=0.0,
                   help="an epoch's slowdown while lanes share the GPU; 0: as measured on the leases (0.45 a lane)")
    p.add_argument("--probe-steps", type=int, default=8)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = parse_args(argv)
    start = time.time()
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    jobs = load_plan(Path(args.plan))
    lanes = min(args.lanes, len(jobs))
    summary: dict[str, Any] = {"environment": environment(), "budget_s": args.budget, "lanes": lanes}
    n_train, n_val = split_sizes(args.data)
    timed: dict[tuple[str, ...], float] = {}  # jobs with the same network and batch share one probe (seconds count)
    for job in jobs:
        key = probe_key(job)
        if key not in timed:
            timed[key] = round(probe_seconds_per_epoch(job, n_train, n_val, args.probe_steps), 2)
        job.seconds_per_epoch = timed[key]
        log.info("%s: about %.1f s an epoch here", job.name, job.seconds_per_epoch)
    remaining = args.budget - (time.time() - start)
    schedule(jobs, remaining, lanes, args.slowdown or auto_slowdown(lanes))
    run_all(jobs, args.data, work, deadline=start + args.budget)
    pack_results(jobs, work, out)
    summary["seconds"] = round(time.time() - start, 1)
    summary["jobs"] = [{"name": j.name, "planned_epochs": j.epochs, "run_epochs": j.run_epochs, "lane": j.lane,
                        "probe_s_per_epoch": j.seconds_per_epoch, **j.result} for j in jobs]
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0 if all(j.result.get("returncode") == 0 for j in jobs if j.run_epochs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
