import json
import shutil

import numpy as np
import pytest

from fer_core.inference.card import load_card
from fer_core.inference.classifier import Classifier
from fer_core.training.ensemble import build_ensemble, main
from fer_core.training.reports import history_long, load_history


@pytest.fixture(scope="module")
def second_model(tmp_path_factory):
    from fer_core.training.trainer import TrainConfig, train
    from tests.helpers import write_npz

    root = tmp_path_factory.mktemp("second")
    data = write_npz(root / "d.npz", n_per_class=16)
    return train(TrainConfig(data=str(data), out=str(root / "second"), width=4, epochs=1, batch_size=16,
                             precision="float32", verbose=0, checkpoint_dir=str(root / "ck"), seed=7, resume=False))


def test_ensemble_averages_its_members(tiny_model_dir, second_model, tmp_path, astronaut):
    out = build_ensemble([tiny_model_dir, second_model], tmp_path / "ens", name="both")
    card = load_card(out)
    assert card.class_names == load_card(tiny_model_dir).class_names
    assert [m["folder"] for m in card.training["ensemble"]] == [str(tiny_model_dir), str(second_model)]
    assert card.training["config"]["width"] == 4
    crops = [astronaut, astronaut[:150, :120], np.full((30, 30), 90, np.uint8)]
    a, b, e = Classifier(tiny_model_dir), Classifier(second_model), Classifier(out)
    x = a.prepare(crops)
    pa, pb, pe = (c.predict_batch(x, tta=[]) for c in (a, b, e))
    assert not np.allclose(pa, pb)  # two different networks
    assert np.allclose(pe, (pa + pb) / 2, atol=1e-5)
    rows = json.loads((out / "history.json").read_text())["epochs"]
    assert {row["phase"] for row in rows} == {"member 1: train", "member 2: train"}
    assert len(rows) == sum(len(json.loads((d / "history.json").read_text())["epochs"])
                            for d in (tiny_model_dir, second_model))  # unrelated networks: every epoch kept
    assert set(history_long(load_history(out))["network"]) == {"member 1", "member 2"}


def _copy_with_card(src, dst, **changes):
    shutil.copytree(src, dst)
    card = load_card(dst)
    for key, value in changes.items():
        setattr(card, key, value)
    card.save(dst)
    return dst


def test_members_must_take_the_same_input(tiny_model_dir, tmp_path):
    other = _copy_with_card(tiny_model_dir, tmp_path / "other", color_mode="rgb")
    with pytest.raises(ValueError, match="color_mode"):
        build_ensemble([tiny_model_dir, other], tmp_path / "ens")
    with pytest.raises(ValueError, match="at least two"):
        build_ensemble([tiny_model_dir], tmp_path / "ens")
    with pytest.raises(ValueError, match="one of the members"):
        build_ensemble([tiny_model_dir, other], other)
    assert not (tmp_path / "ens").exists()


def test_cli_chooses_views_on_validation_and_reports_on_test(tiny_model_dir, second_model, tmp_path, capsys):
    from tests.helpers import write_npz

    data = write_npz(tmp_path / "d.npz", n_per_class=9)
    out = tmp_path / "ens"
    assert main(["--members", str(tiny_model_dir), str(second_model), "--out", str(out), "--data", str(data)]) == 0
    card = load_card(out)
    assert "PrivateTest" in card.metrics and (out / "report.json").is_file()
    assert set(card.training["tta_validation_accuracy"]) >= {"none", "hflip"}
    assert "PrivateTest accuracy" in capsys.readouterr().out
    assert main(["--members", str(tiny_model_dir), str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 2
    assert "error:" in capsys.readouterr().err


def test_cli_keeps_views_within_max_views(tiny_model_dir, second_model, tmp_path, capsys):
    from fer_core.training.tta import candidates_within
    from tests.helpers import write_npz

    data = write_npz(tmp_path / "d.npz", n_per_class=9)
    out = tmp_path / "ens"
    assert main(["--members", str(tiny_model_dir), str(second_model), "--out", str(out), "--data", str(data),
                 "--max-views", "2"]) == 0
    card = load_card(out)
    assert set(card.training["tta_validation_accuracy"]) == {"none", "hflip"}  # six views never tried
    assert card.tta in ([], ["hflip"])
    assert len(candidates_within(0)) == 3 and candidates_within(1) == ((),)
    assert main(["--members", str(tiny_model_dir), str(second_model), "--out", str(tmp_path / "neg"),
                 "--data", str(data), "--max-views", "-1"]) == 2
    assert "--max-views" in capsys.readouterr().err
    assert not (tmp_path / "neg").exists()


def test_fine_tuning_starts_from_the_first_member(tiny_model_dir, second_model, tmp_path):
    from fer_core.training.trainer import TrainConfig, train
    from tests.helpers import write_folder

    ens = build_ensemble([tiny_model_dir, second_model], tmp_path / "ens")
    data = write_folder(tmp_path / "own", n_per_class=4, class_dirs=["happy", "sad", "scream"])
    out = train(TrainConfig(data=str(data), out=str(tmp_path / "mine"), init_model=str(ens), epochs=1,
                            finetune_epochs=0, batch_size=8, precision="float32", verbose=0,
                            checkpoint_dir=str(tmp_path / "ck")))
    assert Classifier(out).predict([np.zeros((30, 30, 3), np.uint8)]).shape == (1, 3)
    # the head phase leaves the backbone as the first member had it
    got = Classifier(out).model.get_layer("backbone").get_weights()
    want = Classifier(tiny_model_dir).model.get_layer("backbone").get_weights()
    assert all(np.allclose(g, w) for g, w in zip(got, want))


def test_cli_reports_on_ferplus_votes_when_asked(tiny_model_dir, second_model, tmp_path, capsys):
    from fer_core.data.datasets import load_dataset
    from tests.data.test_ferplus import write_fer_npz_and_votes

    data, _, _, usage = write_fer_npz_and_votes(tmp_path)
    out = tmp_path / "ens"
    assert main(["--members", str(tiny_model_dir), str(second_model), "--out", str(out), "--data", str(data),
                 "--labels", "ferplus"]) == 0
    kept = len(load_dataset(str(data), labels="ferplus").split("PrivateTest"))
    assert 0 < kept < int((usage == 2).sum())  # the majority protocol leaves faces out
    lines = {k: v for k, v in load_card(out).metrics.items() if v.get("labels") == "ferplus"}
    assert len(lines) == 1
    assert 0 < next(iter(lines.values()))["n"] <= kept  # faces of the FER+ test set (those of classes it knows)


def test_weighted_members_are_added_in_the_first_members_class_order(tiny_model_dir, tmp_path, astronaut):
    names = load_card(tiny_model_dir).class_names
    flipped = _copy_with_card(tiny_model_dir, tmp_path / "flipped", class_names=list(reversed(names)))
    out = build_ensemble([tiny_model_dir, flipped], tmp_path / "ens", weights=[3, 1])
    card = load_card(out)
    assert card.class_names == names
    assert [m["share"] for m in card.training["ensemble"]] == [0.75, 0.25]
    a, e = Classifier(tiny_model_dir), Classifier(out)
    x = a.prepare([astronaut, np.full((30, 30), 90, np.uint8)])
    pa, pe = a.predict_batch(x, tta=[]), e.predict_batch(x, tta=[])
    assert not np.allclose(pa, pa[:, ::-1])
    assert np.allclose(pe, 0.75 * pa + 0.25 * pa[:, ::-1], atol=1e-5)


@pytest.fixture(scope="module")
def two_class_model(tmp_path_factory):
    """A real tiny network that knows only two of the tiny model's three classes (as a FER2013 network lacks
    FER+'s contempt)."""
    from fer_core.training.trainer import TrainConfig, train
    from tests.helpers import write_npz

    root = tmp_path_factory.mktemp("two")
    data = write_npz(root / "d.npz", n_per_class=16, classes=["happy", "angry"])
    return train(TrainConfig(data=str(data), out=str(root / "two"), width=4, epochs=1, batch_size=16,
                             precision="float32", verbose=0, checkpoint_dir=str(root / "ck"), seed=3, resume=False))


def test_a_member_lacking_a_class_adds_nothing_to_it(tiny_model_dir, two_class_model, tmp_path, astronaut):
    names = load_card(tiny_model_dir).class_names
    two = load_card(two_class_model).class_names
    assert set(two) < set(names)
    out = build_ensemble([tiny_model_dir, two_class_model], tmp_path / "ens", weights=[0.6, 0.4])
    a, b, e = Classifier(tiny_model_dir), Classifier(two_class_model), Classifier(out)
    x = a.prepare([astronaut, np.full((30, 30), 90, np.uint8)])
    pa, pb, pe = (c.predict_batch(x, tta=[]) for c in (a, b, e))
    want = 0.6 * pa
    for j, name in enumerate(two):
        want[:, names.index(name)] += 0.4 * pb[:, j]
    assert np.allclose(pe, want, atol=1e-5)
    assert np.allclose(pe.sum(axis=1), 1.0, atol=1e-5)
    assert load_card(out).training["ensemble"][1]["class_names"] == two
    with pytest.raises(ValueError, match="sad.*first member lacks"):
        build_ensemble([two_class_model, tiny_model_dir], tmp_path / "ens2")
    assert not (tmp_path / "ens2").exists()


@pytest.mark.parametrize("weights, message", [([1.0], "1 weights for 2 members"), ([1.0, -1.0], "positive"),
                                              ([1.0, float("nan")], "positive"), ([0.0, 0.0], "positive")])
def test_bad_weights_are_refused_before_anything_is_written(tiny_model_dir, second_model, tmp_path, capsys,
                                                            weights, message):
    out = tmp_path / "ens"
    argv = ["--members", str(tiny_model_dir), str(second_model), "--out", str(out), "--weights", *map(str, weights)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_warm_restart_beside_its_start_brings_their_shared_epochs_once(tiny_model_dir, tmp_path):
    from fer_core.training.trainer import TrainConfig, train
    from tests.helpers import write_npz

    data = write_npz(tmp_path / "d.npz", n_per_class=16)
    restart = train(TrainConfig(data=str(data), out=str(tmp_path / "restart"), init_model=str(tiny_model_dir),
                                whole=True, epochs=1, batch_size=16, precision="float32", verbose=0,
                                checkpoint_dir=str(tmp_path / "ck"), seed=11, resume=False))
    first = json.loads((tiny_model_dir / "history.json").read_text())["epochs"]
    second = json.loads((restart / "history.json").read_text())["epochs"]
    assert len(second) == len(first) + 1  # the restart carries its start's epochs, then its own
    out = build_ensemble([tiny_model_dir, restart], tmp_path / "ens")
    rows = json.loads((out / "history.json").read_text())["epochs"]
    assert len(rows) == len(first) + 1
    assert [r["phase"] for r in rows] == ["member 1: train"] * len(first) + ["member 2: train"]
    assert rows[-1]["loss"] == second[-1]["loss"]
    # the start after its restart: its whole past is already there
    other = build_ensemble([restart, tiny_model_dir], tmp_path / "ens2")
    assert len(json.loads((other / "history.json").read_text())["epochs"]) == len(second)
