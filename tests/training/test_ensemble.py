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
    phases = {row["phase"] for row in json.loads((out / "history.json").read_text())["epochs"]}
    assert phases == {"member 1: train", "member 2: train"}
    assert set(history_long(load_history(out))["network"]) == {"member 1", "member 2"}


def test_members_must_take_the_same_input(tiny_model_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    card = load_card(other)
    card.class_names = list(reversed(card.class_names))
    card.save(other)
    with pytest.raises(ValueError, match="class_names"):
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
