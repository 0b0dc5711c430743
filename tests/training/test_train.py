import json
import time
from dataclasses import replace

import numpy as np

from fer_core.inference.card import load_card
from fer_core.inference.classifier import Classifier
from fer_core.training.config import TrainConfig, build_parser
from fer_core.training.data import class_weights
from fer_core.training.jobs import planned_epochs
from fer_core.training.trainer import main, train
from tests.helpers import write_folder


def _planned_by_the_trainer(events: list[dict]) -> int:
    """Epochs of the phases the trainer announced (its plan, whatever early stopping did)."""
    return sum(e["epochs"] for e in events if e["event"] == "phase")


def test_tiny_training_writes_a_loadable_model_dir(tiny_model_dir):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"model.keras", "model.json", "history.json", "report.json"} <= names
    card = load_card(tiny_model_dir)
    assert card.backbone == "fer_cnn" and card.input_size == (48, 48) and card.color_mode == "grayscale"
    assert "PrivateTest" in card.metrics
    history = json.loads((tiny_model_dir / "history.json").read_text())["epochs"]
    keys = {"phase", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert history and keys <= set(history[0])
    clf = Classifier(tiny_model_dir)
    assert clf.predict([np.zeros((48, 48), np.uint8)]).shape == (1, 3)


def test_class_weights():
    labels = np.array([0] * 90 + [1] * 10)
    bal = class_weights(labels, 2, "balanced")
    assert bal[1] / bal[0] == np.float64(9.0)
    sq = class_weights(labels, 2, "sqrt")
    assert abs(sq[1] / sq[0] - 3.0) < 1e-9
    assert class_weights(labels, 2, "none") is None
    # weighted mean over samples stays 1, so the loss scale is unchanged
    assert abs((90 * bal[0] + 10 * bal[1]) / 100 - 1.0) < 1e-9


def test_resume_continues_from_checkpoint(tmp_path):
    data = write_folder(tmp_path / "d", n_per_class=6)
    common = dict(data=str(data), out=str(tmp_path / "m"), width=4, batch_size=8, precision="float32", verbose=0,
                  checkpoint_dir=str(tmp_path / "ck"), patience=10)
    events: list[dict] = []
    train(TrainConfig(epochs=2, **common), progress=events.append)
    state = json.loads((tmp_path / "ck" / "state.json").read_text())
    assert [h["epoch"] for h in state["history"]] == [1, 2]
    assert _planned_by_the_trainer(events) == planned_epochs(TrainConfig(epochs=2, **common)) == 2  # fer_cnn
    # a run that asks for the same schedule resumes and trains nothing again
    train(TrainConfig(epochs=2, **common))
    state2 = json.loads((tmp_path / "ck" / "state.json").read_text())
    assert [h["epoch"] for h in state2["history"]] == [1, 2]
    # carved validation split from a folder without splits is recorded on the card
    assert "carved" in load_card(tmp_path / "m").trained_on


def test_fer2013_labels_smoothed_by_votes_train_a_seven_class_model(tmp_path):
    from tests.data.test_ferplus import FER7, write_fer_npz_and_votes

    data, _, _, _ = write_fer_npz_and_votes(tmp_path)
    common = dict(data=str(data), width=4, batch_size=8, precision="float32", verbose=0, epochs=1, tta=False,
                  checkpoint_dir=str(tmp_path / "ck"))
    out = train(TrainConfig(out=str(tmp_path / "m"), vote_weight=0.3, **common))
    card = load_card(out)
    assert card.class_names == FER7  # FER2013's own classes: the votes smooth them, they do not relabel
    assert "smoothed by 0.3 of the FER+ votes" in card.trained_on
    assert card.training["config"]["vote_weight"] == 0.3
    # a checkpoint made with smoothed targets is not resumed by a run without them
    events: list[dict] = []
    train(TrainConfig(out=str(tmp_path / "m2"), **common), progress=events.append)
    state = json.loads((tmp_path / "ck" / "state.json").read_text())
    assert state["config"]["vote_weight"] == 0.0 and [h["epoch"] for h in state["history"]] == [1]


def test_fine_tune_from_an_existing_model(tiny_model_dir, tmp_path):
    data = write_folder(tmp_path / "own", n_per_class=5, class_dirs=["happy", "sad", "scream"])
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "own_model"), init_model=str(tiny_model_dir),
                      epochs=2, finetune_epochs=1, unfreeze=4, batch_size=8, precision="float32", verbose=0,
                      checkpoint_dir=str(tmp_path / "ck2"))
    events: list[dict] = []
    out = train(cfg, progress=events.append)
    assert _planned_by_the_trainer(events) == planned_epochs(cfg) == 3  # head + fine-tune
    card = load_card(out)
    assert card.class_names == ["happy", "sad", "scream"]
    assert card.weights.startswith("model ")
    phases = {h["phase"] for h in json.loads((out / "history.json").read_text())["epochs"]}
    assert phases == {"head", "finetune"}
    assert Classifier(out).predict([np.zeros((30, 30, 3), np.uint8)]).shape == (1, 3)


def test_cli_reports_bad_data(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "m")]) == 2
    assert "error:" in capsys.readouterr().err


def test_refuses_to_overwrite_the_model_it_starts_from(tiny_model_dir, tmp_path):
    import pytest

    data = write_folder(tmp_path / "own", n_per_class=2)
    with pytest.raises(ValueError, match="starts from"):
        train(TrainConfig(data=str(data), out=str(tiny_model_dir), init_model=str(tiny_model_dir), verbose=0))


def test_choose_tta_keeps_the_best_validation_views(tiny_model_dir, tmp_path):
    import shutil

    from fer_core.training.tta import TTA_CANDIDATES, choose_tta
    from tests.helpers import write_npz

    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    data = np.load(write_npz(tmp_path / "v.npz", n_per_class=10))
    x, y = data["images"][..., None], data["labels"].astype(np.int64)
    chosen = choose_tta(d, x, y)
    card = load_card(d)
    assert card.tta == chosen and tuple(chosen) in TTA_CANDIDATES
    scores = card.training["tta_validation_accuracy"]
    assert set(scores) == {"+".join(c) or "none" for c in TTA_CANDIDATES}
    # the kept list scores highest; on a tie the cheaper (earlier) list wins
    best = max(scores.values())
    first_best = next(c for c in TTA_CANDIDATES if scores["+".join(c) or "none"] == best)
    assert chosen == list(first_best)
    # the score is the real accuracy of that list
    clf = Classifier(d)
    probs = clf.predict_batch(clf.card.normalization.apply(x), tta=chosen)
    assert abs(float((probs.argmax(1) == y).mean()) - scores["+".join(chosen) or "none"]) < 1e-3


def test_whole_warm_restart_trains_every_layer_in_one_phase(tiny_model_dir, tmp_path):
    from tests.helpers import write_npz

    data = write_npz(tmp_path / "d.npz", n_per_class=6)
    before = Classifier(tiny_model_dir).model.get_layer("backbone").get_weights()
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "wr"), init_model=str(tiny_model_dir), whole=True,
                      epochs=1, batch_size=8, lr=1e-3, precision="float32", verbose=0,
                      checkpoint_dir=str(tmp_path / "ck3"))
    events: list[dict] = []
    out = train(cfg, progress=events.append)
    # one phase of --epochs: the job's plan no longer adds the fine-tune epochs a warm restart never runs
    assert _planned_by_the_trainer(events) == planned_epochs(cfg) == 1
    rows = json.loads((out / "history.json").read_text())["epochs"]
    parent = json.loads((tiny_model_dir / "history.json").read_text())["epochs"]
    # the earlier epochs come first, named after the model restarted, then the restart's own one phase
    assert [r["phase"] for r in rows[:len(parent)]] == [f"{tiny_model_dir.name}: {p['phase']}" for p in parent]
    assert [r["loss"] for r in rows[:len(parent)]] == [p["loss"] for p in parent]
    assert [r["phase"] for r in rows[len(parent):]] == ["train"]
    card = load_card(out)
    assert card.weights.startswith("model ") and card.training["config"]["width"] == 4
    after = Classifier(out).model.get_layer("backbone").get_weights()
    # every conv kernel moved (a head-only phase would leave them as they were)
    kernels = [(a, b) for a, b in zip(before, after) if a.ndim == 4]
    assert kernels and all(not np.allclose(a, b) for a, b in kernels)
    # a restart of the restart: one phase per network, each named by its card (not its folder), none nested
    card.name = "first_restart"
    card.save(out)
    again = train(replace(cfg, init_model=str(out), out=str(tmp_path / "wr2"), checkpoint_dir=str(tmp_path / "ck4")))
    rows2 = json.loads((again / "history.json").read_text())["epochs"]
    assert [r["phase"] for r in rows2] == [r["phase"] for r in rows[:len(parent)]] + ["first_restart: train", "train"]


class _Interrupted(Exception):
    """Stands in for a reboot or a killed process in the middle of a phase."""


def test_an_interrupted_phase_resumes_at_the_epoch_it_stopped(tmp_path):
    """Keras' BackupAndRestore brings the phase back where it stopped; the history has each epoch once."""
    data = write_folder(tmp_path / "d", n_per_class=6)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "m"), width=4, epochs=3, batch_size=8, precision="float32",
                      verbose=0, checkpoint_dir=str(tmp_path / "ck"), patience=10, tta=False)

    def stop_after_second_epoch(event: dict) -> None:
        if event["event"] == "epoch" and event["epoch"] == 2:
            raise _Interrupted

    import pytest

    with pytest.raises(_Interrupted):
        train(cfg, progress=stop_after_second_epoch)
    assert not (tmp_path / "m").exists()
    epochs_seen: list[int] = []
    train(cfg, progress=lambda e: epochs_seen.append(e["epoch"]) if e["event"] == "epoch" else None)
    assert epochs_seen and epochs_seen[0] == 2  # the interrupted epoch again, not the first one
    history = json.loads((tmp_path / "m" / "history.json").read_text())["epochs"]
    assert [(h["phase"], h["epoch"]) for h in history] == [("train", 1), ("train", 2), ("train", 3)]
    assert not (tmp_path / "ck" / "backup_train").exists()  # the backup goes once the phase ends


def test_a_deadline_ends_the_phase_after_the_last_epoch_that_fits_and_still_writes_the_model(tmp_path):
    """--deadline (the GPU driver's budget): an epoch that would end past it is not begun; the model is written."""
    data = write_folder(tmp_path / "d", n_per_class=6)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "m"), width=4, epochs=50, batch_size=8, precision="float32",
                      verbose=0, checkpoint_dir=str(tmp_path / "ck"), patience=100, tta=False, deadline=time.time())
    train(cfg)
    history = json.loads((tmp_path / "m" / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [1]  # the deadline had passed when the first epoch ended
    assert Classifier(tmp_path / "m").predict([np.full((48, 48), 128, np.uint8)]).shape[0] == 1
    roomy = replace(cfg, out=str(tmp_path / "m2"), checkpoint_dir=str(tmp_path / "ck2"), epochs=2,
                    deadline=time.time() + 3600)
    train(roomy)
    assert len(json.loads((tmp_path / "m2" / "history.json").read_text())["epochs"]) == 2  # far off: no effect


def test_the_command_line_keeps_every_option():
    options = {o for a in build_parser()._actions for o in a.option_strings}
    assert {"--fer2013-weight", "--vote-weight", "--labels", "--targets", "--init-model", "--whole", "--checkpoint-dir",
            "--no-resume", "--no-cache-features", "--finetune-epochs", "--unfreeze", "--max-per-class"} <= options
    fields = set(TrainConfig.__dataclass_fields__) - {"extra"}
    assert {a.dest for a in build_parser()._actions if a.dest != "help"} == fields
