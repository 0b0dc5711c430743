"""Keeping the starting model's other classes through the training queue: the temporary folder the job
trains on, its removal however the job ends, and a real tiny training whose card lists the kept classes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from fer_core.data.datasets import load_dataset
from fer_core.data.keep_classes import find_source, plan_keep
from fer_core.inference.card import load_card
from fer_core.training import jobs
from fer_core.training.jobs import CANCELLED, DONE, FAILED, personal_config, start_training
from tests.data.test_keep_classes import write_fer_npz, write_png_captures

pytestmark = pytest.mark.usefixtures("clean_jobs")


def _keep_config(tmp_path: Path, init_model: Path, name: str, per_class: int = 4, **overrides: Any):
    """Captures of happy and a new wink; the tiny model (angry, happy, sad) loses angry and sad without help."""
    captures = write_png_captures(tmp_path / "captures", {"happy": 6, "wink": 6})
    source = find_source(write_fer_npz(tmp_path / "fer2013.npz"))
    plan = plan_keep(load_card(init_model).class_names, {"happy": 6, "wink": 6}, source, per_class=per_class)
    assert plan.kept == ("angry", "sad")
    return personal_config(captures, name, init_model=init_model, models_dir=tmp_path / "models", keep=plan,
                           **overrides)


def test_the_job_trains_on_a_temporary_folder_and_removes_it(tmp_path: Path, tiny_model_dir: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_train(cfg, progress=None):
        seen["data"] = Path(cfg.data)
        seen["classes"] = load_dataset(cfg.data).class_names
        seen["files"] = sorted(str(p.relative_to(cfg.data)) for p in Path(cfg.data).rglob("*.png"))
        if seen.get("fail"):
            raise RuntimeError("the training broke")
        return tmp_path / "models" / cfg.name

    monkeypatch.setattr(jobs, "train", fake_train)
    job_dir = tmp_path / "ckpt"
    job_dir.mkdir()
    cfg = _keep_config(tmp_path, tiny_model_dir, "kept", checkpoint_dir=str(job_dir))
    events: list[dict[str, Any]] = []
    jobs.train_keeping_classes(cfg, progress=events.append)
    assert seen["data"].is_relative_to(job_dir) and not seen["data"].exists()  # made in the job's folder, gone
    assert list(job_dir.iterdir()) == []
    assert set(seen["classes"]) == {"angry", "happy", "sad", "wink"}
    assert sum(f.startswith("angry/") for f in seen["files"]) == 4 and sum(
        f.startswith("sad/") for f in seen["files"]) == 4
    assert events[0]["message"] == "adding 4 FER2013 faces each of angry, sad"
    seen["fail"] = True
    with pytest.raises(RuntimeError):
        jobs.train_keeping_classes(cfg)
    assert not seen["data"].exists() and list(job_dir.iterdir()) == []
    assert not (tmp_path / "captures" / "angry").exists()  # the captures folder was never written to


def test_a_cancelled_job_leaves_no_folder_behind(models_dir: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    cfg = _keep_config(tmp_path, tiny_model_dir, "cancelled", per_class=10)
    job_id = start_training(cfg)
    ckpt = Path(jobs.get_job(job_id).meta["config"]["checkpoint_dir"])
    deadline = time.time() + 120
    while not list(ckpt.glob("fer-keep-*/captures/sad/*.png")) and time.time() < deadline:
        assert jobs.get_job(job_id).active, jobs.get_job(job_id).error
        time.sleep(0.2)
    assert list(ckpt.glob("fer-keep-*/captures/angry/*.png")), "the job built its folder in its own temporary folder"
    assert jobs.cancel(job_id)
    info = jobs.wait(job_id, 60)
    assert info.state == CANCELLED and not ckpt.exists()


def test_a_job_whose_source_vanished_fails_and_cleans_up(models_dir: Path, tmp_path: Path,
                                                         tiny_model_dir: Path) -> None:
    cfg = _keep_config(tmp_path, tiny_model_dir, "nosource")
    (tmp_path / "fer2013.npz").unlink()
    job_id = start_training(cfg)
    ckpt = Path(jobs.get_job(job_id).meta["config"]["checkpoint_dir"])
    info = jobs.wait(job_id, 120)
    assert info.state == FAILED and "no such dataset" in (info.error or "")
    assert not ckpt.exists() and not (models_dir / "nosource").exists()


def test_a_real_training_keeps_the_starting_models_other_classes(models_dir: Path, tmp_path: Path,
                                                                 tiny_model_dir: Path) -> None:
    cfg = _keep_config(tmp_path, tiny_model_dir, "kept_real", per_class=6, epochs=2, finetune_epochs=1, unfreeze=4,
                       precision="float32")
    job_id = start_training(cfg)
    ckpt = Path(jobs.get_job(job_id).meta["config"]["checkpoint_dir"])
    info = jobs.wait(job_id, 300)
    assert info.state == DONE, (info.error, info.log_tail[-10:])
    card = load_card(info.result)
    assert card.class_names == ["angry", "happy", "sad", "wink"]  # angry and sad kept, wink learnt
    assert "6 FER2013 training faces each of angry, sad" in card.notes
    assert Path(card.training["config"]["data"]).name == "captures"  # its report filed as without keeping
    assert not ckpt.exists()
    assert card.training["config"]["whole"]  # the whole starting model nudged, not a new head
    compared = json.loads((Path(info.result) / "report.json").read_text())["compared"]
    assert compared["start_model"] == tiny_model_dir.name and compared["own_classes"] == ["happy", "wink"]
    assert set(compared["models"]) == {"new", "start"}
    assert compared["models"]["start"]["per_class"]["wink"] == 0.0  # the starting model cannot name wink
    assert compared["n"] == json.loads((Path(info.result) / "report.json").read_text())["n"]
