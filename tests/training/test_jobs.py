"""Background jobs: progress and failures of thread jobs, and real trainings in a child process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from fer_core.inference.card import load_card
from fer_core.inference.classifier import Classifier
from fer_core.training import jobs
from fer_core.training.jobs import CANCELLED, DONE, FAILED, JobError, personal_config, start_training
from tests.captures import write_captures
from tests.conftest import need_shared
from tests.helpers import start_thread_job

pytestmark = pytest.mark.usefixtures("clean_jobs")


def test_thread_job_reports_progress_and_result():
    def work(progress):
        for e in range(1, 4):
            progress({"event": "epoch", "phase": "train", "epoch": e, "total_epochs": 3, "loss": 1.0 / e,
                      "accuracy": 0.3 * e, "val_loss": 1.1 / e, "val_accuracy": 0.25 * e, "lr": 0.001,
                      "seconds": 0.01})
        progress({"event": "status", "message": "almost"})
        return "the result"

    job_id = start_thread_job("demo", "three epochs", work, meta={"planned_epochs": 3})
    info = jobs.wait(job_id, 10)
    assert info.state == DONE and info.result == "the result" and info.error is None
    assert [h["epoch"] for h in info.history] == [1, 2, 3] and info.progress == 1.0
    assert info.history[-1]["val_accuracy"] == pytest.approx(0.75)
    assert jobs.get_job(job_id).state == DONE  # readable again by id (another rerun, another tab)
    assert any(i.id == job_id for i in jobs.list_jobs("demo"))
    assert jobs.get_job("nope") is None


def test_batches_move_the_bar_and_the_line_inside_an_epoch():
    """A 60 s epoch must not leave the page at "starting" with a still bar (issue 13): batches report."""
    seen = []
    release = __import__("threading").Event()

    def work(progress):
        progress({"event": "phase", "phase": "finetune", "epochs": 2})
        progress({"event": "batch", "batch": 5, "steps": 20, "epoch": 1, "epochs": 2})
        seen.append("sent")
        release.wait(10)

    job_id = start_thread_job("demo", "long epoch", work, meta={"planned_epochs": 4})
    for _ in range(100):
        if seen:
            break
        time.sleep(0.05)
    info = jobs.get_job(job_id)
    release.set()
    jobs.wait(job_id, 10)
    assert info.message == "finetune epoch 1/2, batch 5/20"
    assert info.progress == pytest.approx(0.25 / 4)


def test_the_trainers_progress_callback_reports_batches_and_epochs(tmp_path):
    """Every ``fit`` of the trainer reports its batches (a long epoch moves the bar) and records its epochs."""
    import keras

    from fer_core.training.callbacks import progress_callback
    from fer_core.training.checkpoint import Checkpoint

    checkpoint = Checkpoint(tmp_path, config={})
    events = []
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    net.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    x = np.zeros((64, 3), np.float32)
    y = keras.utils.to_categorical(np.arange(64) % 2, 2)
    net.fit(x, y, batch_size=16, epochs=2, verbose=0,
            callbacks=[progress_callback("train", 2, checkpoint, events.append, every=0.0)])
    assert [(e["epoch"], e["batch"], e["steps"], e["epochs"]) for e in events if e["event"] == "batch"] == [
        (ep, b, 4, 2) for ep in (1, 2) for b in (1, 2, 3, 4)]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [(e["phase"], e["epoch"], e["total_epochs"]) for e in epochs] == [("train", 1, 2), ("train", 2, 2)]
    assert [(h["phase"], h["epoch"]) for h in checkpoint.history] == [("train", 1), ("train", 2)]
    saved = json.loads(checkpoint.state_path.read_text())["history"]  # written each epoch (NaN: no validation)
    assert [(h["phase"], h["epoch"], h["loss"]) for h in saved] == [(h["phase"], h["epoch"], h["loss"])
                                                                     for h in checkpoint.history]


def test_thread_job_failure_is_kept():
    def work(progress):
        progress({"event": "status", "message": "working"})
        raise ValueError("the data folder is empty")

    info = jobs.wait(start_thread_job("demo", "fails", work), 10)
    assert info.state == FAILED and info.error == "the data folder is empty"
    assert "failed" in info.message and not info.running


def test_personal_config_checks_names(models_dir, tmp_path):
    cfg = personal_config(tmp_path, "mine", init_model="models/default")
    assert Path(cfg.out) == models_dir / "mine" and cfg.init_model == "models/default" and cfg.finetune_epochs <= 6
    assert personal_config(tmp_path, "net", start="imagenet").backbone == "mobilenet_v2"
    for bad in ("../x", "/abs", "", "two words"):
        with pytest.raises(ValueError):
            personal_config(tmp_path, bad, init_model="models/default")


def test_training_a_tiny_captured_set_in_a_child_process(models_dir, tmp_path, tiny_model_dir, astronaut):
    data = write_captures(tmp_path / "captures", astronaut)  # 3 classes x 6 RGB crops of varied sizes
    cfg = personal_config(data, "mine", init_model=str(tiny_model_dir), epochs=2, finetune_epochs=1,
                          unfreeze=4, precision="float32")
    job_id = start_training(cfg)
    with pytest.raises(JobError, match="still (running|queued)"):  # one training per owner at a time
        start_training(personal_config(data, "other", init_model=str(tiny_model_dir)))
    seen_running = jobs.get_job(job_id).running
    info = jobs.wait(job_id, 240)
    assert seen_running
    assert info.state == DONE, (info.error, info.log_tail[-10:])
    out = models_dir / "mine"
    assert info.result == str(out)
    card = load_card(out)
    assert card.class_names == ["happy", "sad", "wink"] and card.weights.startswith("model ")
    assert card.backbone == "fer_cnn"  # taken from the model it started from
    history = json.loads((out / "history.json").read_text())["epochs"]
    # the whole starting model nudged in one phase; its own epochs come first in the history (a warm restart)
    own = history[len(history) - len(info.history):]
    assert [(h["phase"], h["epoch"]) for h in info.history] == [(h["phase"], h["epoch"]) for h in own]
    assert {h["phase"] for h in own} == {"train"} and card.training["config"]["whole"]
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "validation" and report["class_names"] == card.class_names
    probs = Classifier(out).predict([np.zeros((70, 50, 3), np.uint8)])
    assert probs.shape == (1, 3) and np.isclose(probs.sum(), 1, atol=1e-3)
    assert not list(models_dir.glob(".*"))  # no checkpoint litter in the models folder
    with pytest.raises(JobError, match="already exists"):
        start_training(cfg)


def test_a_failing_training_is_reported(models_dir, tmp_path):
    cfg = personal_config(tmp_path / "missing", "broken", start="imagenet")
    info = jobs.wait(start_training(cfg), 120)
    assert info.state == FAILED
    assert "no such dataset" in info.error
    assert not (models_dir / "broken").exists()


def test_cancel_stops_the_child(models_dir, tmp_path, astronaut):
    data = write_captures(tmp_path / "captures", astronaut, per_class=3)
    job_id = start_training(personal_config(data, "stopped", start="imagenet"))
    time.sleep(0.5)
    assert jobs.cancel(job_id)
    info = jobs.wait(job_id, 60)
    assert info.state == CANCELLED and not (models_dir / "stopped").exists()
    assert not jobs.cancel(job_id)


def test_training_from_imagenet_mobilenet(models_dir, tmp_path, astronaut):
    from fer_core.training.config import MOBILENET_WEIGHTS

    need_shared(MOBILENET_WEIGHTS)
    data = write_captures(tmp_path / "captures", astronaut, per_class=5)
    cfg = personal_config(data, "from_imagenet", start="imagenet", epochs=1, finetune_epochs=1, unfreeze=5,
                          input_size=64, precision="float32")
    info = jobs.wait(start_training(cfg), 300)
    assert info.state == DONE, (info.error, info.log_tail[-10:])
    card = load_card(models_dir / "from_imagenet")
    assert card.backbone == "mobilenet_v2" and card.color_mode == "rgb" and "mobilenet_v2" in card.weights
    assert (models_dir / "from_imagenet" / "report.json").is_file()


def _slow_child(tmp_path: Path, seconds: float, code: int = 3) -> str:
    """A stand-in for the training interpreter: reads the config, takes ``seconds``, exits ``code``.
    The queue is under test here, not the trainer (the tests above run the real child)."""
    script = tmp_path / f"child_{seconds}.sh"
    script.write_text(f"#!/bin/sh\ncat >/dev/null\nsleep {seconds}\nexit {code}\n")
    script.chmod(0o755)
    return str(script)


def test_one_queue_owners_and_their_own_cancel(models_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FER_MAX_TRAINING_JOBS", "1")
    child = _slow_child(tmp_path, 2.0)
    a = start_training(personal_config(tmp_path, "a_model", start="imagenet"), owner="ann", python=child)
    b = start_training(personal_config(tmp_path, "b_model", start="imagenet"), owner="bob", python=child)
    c = start_training(personal_config(tmp_path, "c_model", start="imagenet"), owner="cy", python=child)
    assert jobs.get_job(a).running
    queued_b, queued_c = jobs.get_job(b), jobs.get_job(c)
    assert queued_b.state == jobs.QUEUED and queued_b.ahead == 1 and queued_c.ahead == 2
    assert "waiting" in queued_b.message
    with pytest.raises(JobError, match="still queued"):
        start_training(personal_config(tmp_path, "b_again", start="imagenet"), owner="bob", python=child)
    assert [i.id for i in jobs.list_jobs("train", owner="bob")] == [b]
    assert not jobs.cancel(b, owner="ann")  # not hers: as if unknown
    assert jobs.get_job(b).state == jobs.QUEUED
    assert jobs.cancel(b, owner="bob")
    assert jobs.get_job(b).state == CANCELLED and jobs.get_job(c).ahead == 1
    first, third = jobs.wait(a, 30), jobs.wait(c, 30)
    assert first.state == third.state == FAILED and "code 3" in third.error
    assert third.started >= first.finished  # one at a time: c started once a was done (clock readings in order)


def test_two_slots_run_two_trainings_at_once(models_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FER_MAX_TRAINING_JOBS", "2")
    child = _slow_child(tmp_path, 1.5)
    ids = [start_training(personal_config(tmp_path, f"m{i}", start="imagenet"), owner=f"o{i}", python=child)
           for i in range(3)]
    assert [jobs.get_job(i).state for i in ids] == [jobs.RUNNING, jobs.RUNNING, jobs.QUEUED]
    assert all(jobs.wait(i, 30).state == FAILED for i in ids)


def test_a_flood_of_one_owners_jobs_keeps_everyone_elses_latest_result():
    """Many finished jobs of one owner (new cookies are free) must not push another owner's last training out
    of the jobs the server keeps."""
    ann = jobs.wait(start_thread_job("train", "anns", lambda progress: "ann's model", owner="ann"), 10)
    for i in range(jobs.MAX_JOBS_KEPT + 5):
        jobs.wait(start_thread_job("train", f"flood-{i}", lambda progress: "x", owner="mallory"), 10)
    assert [j.id for j in jobs.list_jobs("train", "ann")] == [ann.id]
    assert len(jobs.list_jobs()) <= jobs.MAX_JOBS_KEPT
    assert jobs.list_jobs("train", "mallory")[0].name == f"flood-{jobs.MAX_JOBS_KEPT + 4}"
