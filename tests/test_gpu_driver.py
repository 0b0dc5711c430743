"""gpu/device_train.py, the one command a lent GPU machine runs: planning, running and packing, on the CPU."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from fer_core.data.packed import pack_npz
from fer_core.inference.classifier import Classifier
from tests.helpers import write_npz

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("device_train", ROOT / "gpu" / "device_train.py")
assert spec is not None and spec.loader is not None
device_train = importlib.util.module_from_spec(spec)
sys.modules["device_train"] = device_train  # dataclasses look their module up there
spec.loader.exec_module(device_train)
Job = device_train.Job

TINY = ["--width", "4", "--batch-size", "16", "--precision", "float32", "--labels", "fer2013"]


def _plan(tmp_path: Path, jobs: list[dict]) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(jobs))
    return path


def test_the_shipped_plan_reads_and_names_only_known_options():
    from fer_core.training.config import build_parser

    jobs = device_train.load_plan(ROOT / "gpu" / "plan.json")
    labels = [device_train._option(j.args, "--labels", "") for j in jobs]
    assert labels.count("fer2013") >= 2 and labels.count("ferplus") >= 1  # FER2013 is what the leases lack most
    for job in jobs:  # every job's options parse as fer_core.train's
        build_parser().parse_args(["--data", "x", *job.args, "--epochs", "1"])


def test_bad_plans_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unique"):
        device_train.load_plan(_plan(tmp_path, [{"name": "a", "args": [], "epochs": 1}] * 2))
    with pytest.raises(ValueError, match="letters"):
        device_train.load_plan(_plan(tmp_path, [{"name": "../x", "args": [], "epochs": 1}]))
    with pytest.raises(ValueError, match="8 files"):
        device_train.load_plan(_plan(tmp_path, [{"name": f"j{i}", "args": [], "epochs": 1} for i in range(8)]))


def test_the_slowdown_grows_with_the_lanes_as_the_leases_measured():
    assert device_train.auto_slowdown(1) == 1.0
    assert 2.5 <= device_train.auto_slowdown(6) <= 2.9  # H200, 6 lanes: 2.7
    assert device_train.auto_slowdown(5) < device_train.auto_slowdown(6)


def test_jobs_share_the_cpu_threads_out_among_the_lanes(monkeypatch):
    monkeypatch.setattr(device_train.os, "cpu_count", lambda: 16)
    assert device_train.job_environment(6)["OMP_NUM_THREADS"] == "2"
    assert device_train.job_environment(1)["MKL_NUM_THREADS"] == "16"
    monkeypatch.setattr(device_train.os, "cpu_count", lambda: None)
    env = device_train.job_environment(0)
    assert env["OMP_NUM_THREADS"] == "1" and env["PATH"] == device_train.os.environ["PATH"]  # the rest inherited


def test_schedule_shrinks_epochs_to_the_budget_and_drops_what_cannot_fit():
    jobs = [Job("a", [], 100, seconds_per_epoch=2.0), Job("b", [], 100, seconds_per_epoch=2.0),
            Job("c", [], 50, min_epochs=20, seconds_per_epoch=20.0)]
    device_train.schedule(jobs, budget_s=245.0, lanes=2, slowdown=1.0)
    a, b, c = jobs
    assert c.lane != a.lane and a.lane == b.lane  # the heaviest job gets a lane of its own
    assert a.run_epochs == b.run_epochs == 38  # (245 - 2 * 45) / (2 * 100 * 2.0) of 100
    assert c.run_epochs == 0  # 200 s left for 1000 s of epochs: below its 20-epoch minimum
    roomy = [Job("a", [], 10, seconds_per_epoch=1.0)]
    device_train.schedule(roomy, budget_s=1000.0, lanes=3, slowdown=1.5)
    assert roomy[0].run_epochs == 10  # never more than the plan asks


def test_the_driver_trains_the_plan_and_packs_loadable_models(tmp_path):
    data = pack_npz(write_npz(tmp_path / "d.npz", n_per_class=6), tmp_path / "packed.npz")
    plan = _plan(tmp_path, [{"name": "small", "args": [*TINY, "--seed", "1"], "epochs": 2, "min_epochs": 1},
                            {"name": "huge", "args": [*TINY, "--seed", "2"], "epochs": 10**6, "min_epochs": 10**6}])
    out, work = tmp_path / "out", tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "gpu" / "device_train.py"), "--plan", str(plan), "--data", str(data),
         "--out", str(out), "--work", str(work), "--budget", "400", "--lanes", "2", "--probe-steps", "2"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    jobs = {j["name"]: j for j in summary["jobs"]}
    assert jobs["small"]["run_epochs"] == 2 and jobs["small"]["returncode"] == 0
    assert jobs["small"]["probe_s_per_epoch"] > 0 and jobs["small"]["test_accuracy"] is not None
    assert jobs["huge"]["run_epochs"] == 0 and "returncode" not in jobs["huge"]  # never started
    assert summary["environment"]["backend"] == "tensorflow"
    with tarfile.open(out / "small.tar.gz") as tar:
        names = set(tar.getnames())
        assert {"small/model.keras", "small/model.json", "small/report.json", "small/train.log"} <= names
        tar.extractall(tmp_path / "back", filter="data")
    card = json.loads((tmp_path / "back" / "small" / "model.json").read_text())
    assert len(card["training"]["epochs_run"]) and card["training"]["config"]["epochs"] == 2
    probs = Classifier(tmp_path / "back" / "small").predict([np.full((48, 48), 128, np.uint8)])
    assert probs.shape == (1, len(card["class_names"])) and abs(float(probs.sum()) - 1) < 1e-4


def _drive_one_long_job(tmp_path: Path, args: list[str], out: Path) -> subprocess.CompletedProcess[str]:
    """The driver on a one-job plan ``long`` with a 75-second budget (the deadline tests)."""
    data = pack_npz(write_npz(tmp_path / "d.npz", n_per_class=6), tmp_path / "packed.npz")
    plan = _plan(tmp_path, [{"name": "long", "args": args, "epochs": 1, "min_epochs": 1}])
    return subprocess.run(
        [sys.executable, str(ROOT / "gpu" / "device_train.py"), "--plan", str(plan), "--data", str(data),
         "--out", str(out), "--work", str(tmp_path / "work"), "--budget", "75", "--probe-steps", "1"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def test_a_job_that_asks_for_more_than_the_budget_ends_in_time_with_its_model(tmp_path):
    # its own --epochs (after the scheduled one) asks for far more than the budget holds
    endless = [*TINY, "--epochs", "100000", "--patience", "100000", "--no-tta"]
    out = tmp_path / "out"
    proc = _drive_one_long_job(tmp_path, endless, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = json.loads((out / "summary.json").read_text())["jobs"][0]
    # it stopped itself (the driver did not have to kill it) and came back with a tested model
    assert "killed_at_deadline" not in job and job["test_accuracy"] is not None
    with tarfile.open(out / "long.tar.gz") as tar:
        assert {"long/model.keras", "long/model.json"} <= set(tar.getnames())
        card = json.load(tar.extractfile("long/model.json"))  # type: ignore[arg-type]
    assert 1 <= card["training"]["epochs_run"]["train"] < 100000


def test_a_job_still_running_at_the_deadline_is_killed_and_its_checkpoint_comes_back(tmp_path):
    # far more epochs than the budget holds, and its own --deadline 0 turns the driver's off: as a hang would
    endless = [*TINY, "--epochs", "100000", "--patience", "100000", "--no-tta", "--deadline", "0"]
    out = tmp_path / "out"
    proc = _drive_one_long_job(tmp_path, endless, out)
    assert proc.returncode == 1, proc.stderr[-3000:]  # a job that did not finish is a failed run
    job = json.loads((out / "summary.json").read_text())["jobs"][0]
    assert job["killed_at_deadline"] and job["returncode"] != 0
    with tarfile.open(out / "long.tar.gz") as tar:
        names = set(tar.getnames())
    assert "long/train.log" in names and "long/checkpoint/state.json" in names, names


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="PyTorch is not installed in this venv (the GPU machine has it; gpu/README.md says how "
                           "to check the torch path on a CPU)")
def test_the_driver_under_keras_on_pytorch(tmp_path):  # pragma: no cover - only where torch is installed
    data = pack_npz(write_npz(tmp_path / "d.npz", n_per_class=6), tmp_path / "packed.npz")
    plan = _plan(tmp_path, [{"name": "t", "args": [*TINY, "--seed", "3"], "epochs": 1, "min_epochs": 1}])
    proc = subprocess.run(
        [sys.executable, str(ROOT / "gpu" / "device_train.py"), "--plan", str(plan), "--data", str(data),
         "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), "--budget", "300", "--probe-steps", "2"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "KERAS_BACKEND": "torch"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["environment"]["backend"] == "torch"
