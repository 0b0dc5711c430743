"""Background jobs (model training) that outlive a page run: a process-wide registry by job id.

Why: a training takes minutes, a Streamlit script run must not; and a rerun, a second tab or
another page must still see the training's progress. So jobs live here, at module level in
the server process (never in ``st.session_state``), and pages only read ``get_job(id)``.

A training runs ``fer_core.training.trainer.train(cfg, progress=...)`` in a child process
(``python -m fer_core.training.jobs``): TensorFlow's global state (precision policy, seeds, memory)
stays out of the app serving live video, the child runs at lower CPU priority, and it can
be cancelled. Its progress events come back as JSON lines on its stdout. A failure (an
exception in the child, a crash, a kill) always ends the job as ``failed`` with a message.
"""

from __future__ import annotations

import collections
import ctypes
import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer_core.data.keep_classes import kept_folder
from fer_core.errors import FerError, exception_line
from fer_core.inference.classifier import forget_classifier
from fer_core.model_folder import card_path, is_model_folder
from fer_core.settings import PROJECT_ROOT, get_settings
from fer_core.training.callbacks import ProgressFn
from fer_core.training.config import TrainConfig, keep_extra, personal_config
from fer_core.training.phases import planned_epochs
from fer_core.training.trainer import train

log = logging.getLogger(__name__)

EVENT_PREFIX = "@@fer-progress "
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
MAX_JOBS_KEPT = 20
MAX_QUEUED = MAX_JOBS_KEPT // 2  # trainings waiting at once, all owners together: a flood of new cookies stops here


class JobError(FerError):
    """A job that cannot start (another one runs, the model name is taken)."""


@dataclass
class JobInfo:
    """A copy of a job's state for a page (safe to keep; the job goes on changing its own)."""

    id: str
    kind: str
    name: str
    state: str = RUNNING
    started: float = 0.0
    finished: float | None = None
    progress: float = 0.0  # 0..1
    message: str = "starting"
    phase: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)  # epoch rows (history.json's format)
    result: str | None = None  # the model directory for a finished training
    error: str | None = None
    log_tail: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    owner: str = ""  # the owner's key (fer_core.owners); "" for jobs nobody owns
    ahead: int = 0  # while queued: trainings that start before this one

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def active(self) -> bool:
        """Running or waiting in the queue."""
        return self.state in (RUNNING, QUEUED)

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started


class _Job:
    """The live job: its info under a lock, plus the means to cancel it."""

    def __init__(self, info: JobInfo) -> None:
        self.info = info
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.cancel_requested = False
        self.done = threading.Event()
        self.log: collections.deque[str] = collections.deque(maxlen=60)

    def update(self, **changes: Any) -> None:
        with self.lock:
            for key, value in changes.items():
                setattr(self.info, key, value)

    def snapshot(self) -> JobInfo:
        with self.lock:
            info = dataclasses.replace(self.info, history=[dict(h) for h in self.info.history],
                                       log_tail=list(self.log), meta=dict(self.info.meta))
        if info.state == QUEUED:
            with _lock:
                info.ahead = next((i for i, q in enumerate(_queue) if q.job is self), 0) + _running_count()
        return info


@dataclass
class _Queued:
    """A training waiting for a slot: what ``_watch_child`` needs to start it."""

    job: _Job
    cfg: TrainConfig
    ckpt: Path
    python: str


_jobs: dict[str, _Job] = {}
_queue: list[_Queued] = []  # trainings waiting for a slot, oldest first
_lock = threading.Lock()


# ----------------------------------------------------------------------------- registry


def get_job(job_id: str | None) -> JobInfo | None:
    """The job's current state, or None for an unknown id."""
    with _lock:
        job = _jobs.get(job_id or "")
    return job.snapshot() if job else None


def list_jobs(kind: str | None = None, owner: str | None = None) -> list[JobInfo]:
    """Every kept job (newest first), optionally of one kind and of one owner only."""
    with _lock:
        jobs = [j for j in _jobs.values() if owner is None or j.info.owner == owner]
    infos = [j.snapshot() for j in jobs]
    return sorted((i for i in infos if kind is None or i.kind == kind), key=lambda i: -i.started)


def active_job(kind: str | None = None, owner: str | None = None) -> JobInfo | None:
    """The running or queued job (of ``kind``, of ``owner``), if any."""
    return next((i for i in list_jobs(kind, owner) if i.active), None)


def wait(job_id: str, timeout: float | None = None) -> JobInfo:
    """Block until the job ends (or ``timeout`` passes); return its state."""
    with _lock:
        job = _jobs.get(job_id)
    if job is None:
        raise KeyError(job_id)
    job.done.wait(timeout)
    return job.snapshot()


def cancel(job_id: str, owner: str | None = None) -> bool:
    """Stop a running or queued job (a training child is terminated); True if it was active.

    With ``owner``, only that owner's job: another owner's job id is treated as unknown.
    """
    with _lock:
        job = _jobs.get(job_id)
        if job is None or not job.info.active or (owner is not None and job.info.owner != owner):
            return False
        waiting = next((q for q in _queue if q.job is job), None)
        if waiting is not None:
            _queue.remove(waiting)
    if waiting is not None:
        shutil.rmtree(waiting.ckpt, ignore_errors=True)
        _finish(job, CANCELLED)
        return True
    job.cancel_requested = True
    proc = job.proc
    if proc is not None and proc.poll() is None:
        proc.terminate()
    return True


def _register(kind: str, name: str, meta: dict[str, Any] | None = None, owner: str = "",
              state: str = RUNNING) -> _Job:
    job = _Job(JobInfo(id=uuid.uuid4().hex[:10], kind=kind, name=name, started=time.time(), meta=meta or {},
                       owner=owner, state=state, message="waiting for a free training slot" if state == QUEUED
                       else "starting"))
    with _lock:
        for old in _forgettable()[: max(0, len(_jobs) - MAX_JOBS_KEPT + 1)]:
            _jobs.pop(old.info.id, None)
        _jobs[job.info.id] = job
    return job


def _forgettable() -> list[_Job]:
    """Finished jobs, the first to forget first: older results of an owner who has a newer one go before
    anyone's latest result, so many new jobs of one owner cannot push out everyone else's last training
    (call with ``_lock`` held)."""
    finished = sorted((j for j in _jobs.values() if not j.info.active), key=lambda j: -j.info.started)
    latest: set[str] = set()
    ranked = []
    for j in finished:  # newest first
        ranked.append((j.info.owner in latest, j))
        latest.add(j.info.owner)
    return [j for superseded, j in sorted(ranked, key=lambda r: (not r[0], r[1].info.started))]


def _finish(job: _Job, state: str, error: str | None = None, result: str | None = None, message: str = "") -> None:
    with job.lock:
        info = job.info
        info.state, info.finished = state, time.time()
        info.error = error
        if result is not None:
            info.result = result
        if state == DONE:
            info.progress = 1.0
        info.message = message or {DONE: "finished", FAILED: f"failed: {error}", CANCELLED: "cancelled"}[state]
    job.done.set()
    (log.info if state == DONE else log.warning)("job %s (%s %s) %s%s", job.info.id, job.info.kind,
                                                 job.info.name, state, f": {error}" if error else "")


# ----------------------------------------------------------------------------- progress events


def _apply_event(job: _Job, event: dict[str, Any]) -> None:
    kind = event.get("event")
    with job.lock:
        info = job.info
        if kind == "status":
            info.message = str(event.get("message", ""))
        elif kind == "phase":
            info.phase = str(event.get("phase", ""))
            # kept for "stopped after 4 of 5"
            info.meta.setdefault("phase_epochs", {})[info.phase] = event.get("epochs")
            info.message = f"{info.phase}: {event.get('epochs', '?')} epochs"
        elif kind == "epoch":
            keys = ("phase", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")
            row: dict[str, Any] = {k: event[k] for k in keys if k in event}
            info.history.append(row)
            planned = int(info.meta.get("planned_epochs") or 0)
            if planned:
                info.progress = min(0.99, len(info.history) / planned)
            acc = row.get("val_accuracy")
            info.message = (f"{row.get('phase', '')} epoch {row.get('epoch')}/{event.get('total_epochs', '?')}"
                            + (f", validation accuracy {acc:.0%}" if isinstance(acc, float) and acc == acc else ""))
        elif kind == "batch":
            _apply_batch(info, event)
        elif kind == "done":
            info.result = str(event.get("model_dir", "")) or info.result
            info.message = "writing the model"
        elif kind == "error":
            info.error = str(event.get("message", "failed"))


def _apply_batch(info: JobInfo, event: dict[str, Any]) -> None:
    """Progress inside an epoch: the bar moves and the line says which batch, during a long epoch too."""
    try:
        batch, steps = int(event["batch"]), int(event["steps"])
    except (KeyError, TypeError, ValueError):
        return
    if steps <= 0:
        return
    planned = int(info.meta.get("planned_epochs") or 0)
    if planned:
        info.progress = min(0.99, max(info.progress, (len(info.history) + min(batch, steps) / steps) / planned))
    phase = str(event.get("phase") or info.phase)
    info.message = f"{phase} epoch {event.get('epoch', '?')}/{event.get('epochs', '?')}, batch {batch}/{steps}"


# ----------------------------------------------------------------------------- training


def start_training(cfg: TrainConfig, *, owner: str = "", overwrite: bool = False, python: str | None = None) -> str:
    """Queue ``train(cfg)`` to run in a child process as ``owner``'s ``train`` job; return the job id.

    At most ``settings.max_training_jobs`` trainings run at once (two cores do not train two
    models well); the others wait in one queue, oldest first. An owner has one training at a
    time, running or waiting. Refuses (``JobError``) that, and a ``cfg.out`` that already holds
    a model, unless ``overwrite``.
    """
    out = Path(cfg.out)
    if card_path(out).exists() and not overwrite:
        raise JobError(f"a model named {out.name!r} already exists; pick another name or delete it first")
    mine = active_job("train", owner)
    if mine is not None:
        raise JobError(f"your training {mine.name!r} is still {mine.state}; wait for it or cancel it")
    with _lock:
        waiting = len(_queue)
    if waiting >= MAX_QUEUED:
        raise JobError(f"the server already has {waiting} trainings waiting; try again in a while")
    ckpt = Path(tempfile.mkdtemp(prefix="fer-train-"))
    cfg = dataclasses.replace(cfg, checkpoint_dir=str(ckpt), resume=False, verbose=0)
    job = _register("train", cfg.name or out.name,
                    {"planned_epochs": planned_epochs(cfg), "out": str(out), "config": dataclasses.asdict(cfg)},
                    owner=owner, state=QUEUED)
    with _lock:
        _queue.append(_Queued(job, cfg, ckpt, python or sys.executable))
    _start_waiting()
    return job.info.id


def _running_count() -> int:
    """Trainings running now (call with ``_lock`` held)."""
    return sum(1 for j in _jobs.values() if j.info.kind == "train" and j.info.state == RUNNING)


def _start_waiting() -> None:
    """Start queued trainings while slots are free."""
    slots = max(1, get_settings().max_training_jobs)
    while True:
        with _lock:
            if not _queue or _running_count() >= slots:
                return
            nxt = _queue.pop(0)
            nxt.job.update(state=RUNNING, message="starting", started=time.time())
        threading.Thread(target=_run_then_next, args=(nxt,), name=f"job-{nxt.job.info.id}", daemon=True).start()


def _run_then_next(queued: _Queued) -> None:
    try:
        _watch_child(queued.job, queued.cfg, queued.ckpt, queued.python)
    finally:
        _start_waiting()


def _watch_child(job: _Job, cfg: TrainConfig, ckpt: Path, python: str) -> None:
    """Run the training child, relay its progress, and always end the job."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.Popen([python, "-m", "fer_core.training.jobs"], cwd=PROJECT_ROOT, env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        _finish(job, FAILED, error=f"the training process could not start ({exc})")
        shutil.rmtree(ckpt, ignore_errors=True)
        return
    job.proc = proc
    if job.cancel_requested:
        proc.terminate()
    stderr_thread = threading.Thread(target=_pump_stderr, args=(job, proc), daemon=True)
    stderr_thread.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(dataclasses.asdict(cfg)))
        proc.stdin.close()
        for line in proc.stdout:
            if line.startswith(EVENT_PREFIX):
                try:
                    _apply_event(job, json.loads(line[len(EVENT_PREFIX):]))
                except json.JSONDecodeError:
                    job.log.append(line.rstrip())
            elif line.strip():
                job.log.append(line.rstrip())
        rc = proc.wait()
        stderr_thread.join(5)
    except Exception as exc:  # noqa: BLE001 - the job must end, whatever happened here
        proc.kill()
        _finish(job, FAILED, error=f"lost the training process ({exception_line(exc)})")
        return
    finally:
        shutil.rmtree(ckpt, ignore_errors=True)
    with job.lock:
        error, result = job.info.error, job.info.result
    if job.cancel_requested:
        _finish(job, CANCELLED)
    elif rc == 0 and result and is_model_folder(result):
        try:
            forget_classifier(result)
        except Exception:  # noqa: BLE001 - a stale cache entry reloads by itself
            pass
        _finish(job, DONE, result=result)
    else:
        if not error:
            tail = [line for line in job.log if line.strip()]
            error = (f"the training process exited with code {rc}"
                     + (f": {tail[-1][:300]}" if tail else ""))
        _finish(job, FAILED, error=error)


def _pump_stderr(job: _Job, proc: subprocess.Popen) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        text = line.rstrip()
        if text and not text.startswith(("I0000", "WARNING: All log messages", "E0000", "W0000")):
            job.log.append(text)


# ----------------------------------------------------------------------------- child process


def _die_with_parent() -> None:
    """Linux: end this training when the app that started it ends (no orphaned trainings)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent is already gone
            sys.exit(1)
    except (OSError, AttributeError):
        pass


def train_keeping_classes(cfg: TrainConfig, progress: ProgressFn | None = None) -> Path:
    """``train(cfg)``; for a personal config that keeps the starting model's other classes
    (``keep_extra``), on a temporary folder of the captures plus source faces of those classes.

    The folder is made inside the job's checkpoint folder when there is one: the parent removes
    that folder however the job ends (a cancelled child is killed before it can clean up), and
    the child removes its own folder when training returns or fails.
    """
    keep = keep_extra(cfg)
    if keep is None:
        return train(cfg, progress=progress)  # its progress events: phases, epochs, batches inside long epochs
    if progress is not None:
        progress({"event": "status", "message": f"adding {keep['per_class']} {keep.get('source_label') or 'source'} "
                                                f"faces each of {', '.join(keep['classes'])}"})
    with kept_folder(cfg.data, keep["source"], keep["classes"], int(keep["per_class"]), seed=int(keep.get("seed", 0)),
                     parent=cfg.checkpoint_dir or None) as built:
        log.info("training on %s: %s (%s added)", built.root, built.counts, built.added)
        return train(dataclasses.replace(cfg, data=str(built.root)), progress=progress)


def _child_main() -> int:
    """``python -m fer_core.training.jobs``: read a TrainConfig as JSON on stdin, train, report on stdout."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        os.nice(10)  # the app's live video comes first
    except OSError:
        pass
    _die_with_parent()
    out = sys.stdout

    def emit(event: dict[str, Any]) -> None:
        out.write(EVENT_PREFIX + json.dumps(event, default=str) + "\n")
        out.flush()

    sys.stdout = sys.stderr  # anything else printed (Keras) stays out of the event channel
    try:
        cfg = TrainConfig(**json.loads(sys.stdin.read()))
        train_keeping_classes(cfg, progress=emit)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then a failing exit code
        log.exception("training failed")
        emit({"event": "error", "message": exception_line(exc)})
        return 1
    return 0


# personal_config (the Teach page's preset) and planned_epochs live with the config and the phase plan.
__all__ = ["CANCELLED", "DONE", "FAILED", "QUEUED", "RUNNING", "JobError", "JobInfo", "active_job", "cancel", "get_job",
           "list_jobs", "personal_config", "planned_epochs", "start_training",
           "train_keeping_classes", "wait"]


if __name__ == "__main__":
    sys.exit(_child_main())
