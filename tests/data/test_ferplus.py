"""FER+ votes: the paper's majority and cross-entropy protocols, and FER2013 relabelled by them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fer_core.data.datasets import load_dataset
from fer_core.data.ferplus import (
    FERPLUS_CLASSES,
    load_votes,
    majority_labels,
    smooth_with_votes,
    soft_targets,
    vote_shares,
)
from fer_core.errors import DatasetError
from tests.conftest import FER_NPZ, ROOT, need_shared
from tests.helpers import synthetic_faces

# The votes file's own column order (as Microsoft's FER+ CSV has it).
VOTE_NAMES = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF"]
FER7 = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def vote_row(**counts: int) -> list[int]:
    return [counts.get(name, 0) for name in VOTE_NAMES]


def ours(name: str) -> int:
    return FERPLUS_CLASSES.index(name)


def reorder(rows: list[list[int]]) -> np.ndarray:
    """Vote rows in the file's order -> our column order (8 emotions, unknown, NF), as load_votes does."""
    order = [VOTE_NAMES.index(n) for n in
             ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral", "contempt", "unknown", "NF")]
    return np.asarray(rows, dtype=np.float32)[:, order]


def test_majority_protocol_by_hand():
    votes = reorder([
        vote_row(neutral=5, happiness=4, sadness=1),  # the single vote is dropped: 5 of 9 is a majority
        vote_row(neutral=4, happiness=4, sadness=2),  # no emotion holds more than half
        vote_row(unknown=6, happiness=4),  # won by unknown: left out
        vote_row(NF=10),  # not a face
        [-1] * 10,  # left out by FER+
        vote_row(contempt=6, anger=2, disgust=2),  # contempt is an eighth class
    ])
    assert majority_labels(votes).tolist() == [ours("neutral"), -1, -1, -1, -1, ours("contempt")]


def test_crossentropy_protocol_by_hand():
    votes = reorder([
        vote_row(neutral=6, happiness=3, sadness=1),  # sadness's single vote dropped; top two hold 100%
        vote_row(neutral=3, happiness=3, sadness=2, anger=2),  # four emotions needed for 75%: dropped
        vote_row(unknown=7, happiness=3),  # unknown leads: dropped
        vote_row(happiness=5, unknown=3, surprise=2),  # unknown comes second: happiness alone is kept (5 of 10)
        vote_row(happiness=6, unknown=4),  # happiness alone holds more than half: kept
    ])
    t = soft_targets(votes)
    assert t[0][ours("neutral")] == pytest.approx(2 / 3) and t[0][ours("happy")] == pytest.approx(1 / 3)
    assert t[1].sum() == 0 and t[2].sum() == 0
    assert t[3].sum() == 0  # 5 of 10 votes is not more than half
    assert t[4][ours("happy")] == pytest.approx(1.0)
    assert np.allclose(t[t.sum(axis=1) > 0].sum(axis=1), 1.0)


def write_fer_npz_and_votes(tmp_path, n_per_class: int = 6):
    """A 7-class FER2013-layout npz with interleaved splits, and votes that name each row's class or not."""
    x, y = synthetic_faces(n_per_class, classes=FER7)
    usage = np.arange(len(y)) % 3
    data = tmp_path / "fer2013" / "fer2013.npz"
    data.parent.mkdir()
    np.savez(data, images=x, labels=y, usage=usage, class_names=np.array(FER7),
             usage_names=np.array(["Training", "PublicTest", "PrivateTest"]))
    fer_to_vote = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
                   "sad": "sadness", "surprise": "surprise", "neutral": "neutral"}
    rows = []
    for i, label in enumerate(y):
        name = fer_to_vote[FER7[label]]
        if i % 5 == 4:
            rows.append(vote_row(**{name: 4, "contempt": 6}))  # the crowd disagrees with FER2013: contempt
        elif i % 7 == 6:
            rows.append(vote_row(unknown=8, **{name: 2}))  # unknown: left out
        else:
            rows.append(vote_row(**{name: 7, "neutral" if name != "neutral" else "happiness": 3}))
    votes = tmp_path / "ferplus" / "ferplus_votes.npz"
    votes.parent.mkdir()
    np.savez(votes, votes=np.array(rows, dtype=np.int16), vote_names=np.array(VOTE_NAMES))
    return data, votes, y, usage


def test_fer2013_relabelled_by_votes_beside_it(tmp_path):
    data, _, y, usage = write_fer_npz_and_votes(tmp_path)
    ds = load_dataset(data, labels="ferplus")
    assert ds.class_names == list(FERPLUS_CLASSES)
    train, test = ds.split("Training"), ds.split("PrivateTest")
    # every row kept is aligned with its own votes, though the splits are interleaved in the file
    for split in (train, test):
        assert split.rows is not None
        for row, label in zip(split.rows, split.labels):
            want = ours("contempt") if row % 5 == 4 else ours(FER7[y[row]])
            assert label == want
            assert row % 7 != 6 or row % 5 == 4  # unknown-won rows are gone
        assert split.left_out == int((usage == list(ds.splits).index(split.name)).sum()) - len(split)
    assert train.targets is not None and train.targets.shape == (len(train), 8)
    assert test.targets is None  # validation and test use the majority protocol
    first = int(np.flatnonzero(train.rows % 5 != 4)[0])
    assert train.targets[first].max() == pytest.approx(0.7)  # 7 of 10 votes, soft


def test_fer2013_labels_blend_into_the_vote_distributions(tmp_path):
    data, _, y, _ = write_fer_npz_and_votes(tmp_path)
    plain = load_dataset(data, labels="ferplus").split("Training")
    mixed = load_dataset(data, labels="ferplus", fer2013_weight=0.3).split("Training")
    assert plain.targets is not None and mixed.targets is not None
    np.testing.assert_array_equal(mixed.rows, plain.rows)
    own = np.zeros_like(plain.targets)
    own[np.arange(len(own)), y[plain.rows]] = 1.0  # FER2013's seven classes lead our eight, same order
    np.testing.assert_allclose(mixed.targets, 0.7 * plain.targets + 0.3 * own, atol=1e-6)
    np.testing.assert_allclose(mixed.targets.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(mixed.labels, mixed.targets.argmax(axis=1))
    test = load_dataset(data, labels="ferplus", fer2013_weight=0.3).split("PrivateTest")
    assert test.targets is None  # the test set keeps the majority protocol, unblended
    with pytest.raises(DatasetError, match="must lie in"):
        load_dataset(data, labels="ferplus", fer2013_weight=1.5)
    with pytest.raises(DatasetError, match="vote distributions only"):
        load_dataset(data, labels="ferplus", targets="majority", fer2013_weight=0.3)


def test_vote_shares_and_smoothing_by_hand():
    votes = reorder([
        vote_row(sadness=6, neutral=3, happiness=1),  # the single vote dropped: 6 of 9 sad, 3 of 9 neutral
        vote_row(contempt=8, anger=2),  # contempt is not among FER2013's seven: only anger's 2 votes count
        vote_row(unknown=9, NF=1),  # no emotion votes at all
        [-1] * 10,  # left out by FER+
    ])
    shares = vote_shares(votes, 7)
    assert shares[0][ours("sad")] == pytest.approx(2 / 3) and shares[0][ours("neutral")] == pytest.approx(1 / 3)
    assert shares[0][ours("happy")] == 0
    assert shares[1][ours("angry")] == pytest.approx(1.0)
    assert shares[2].sum() == 0 and shares[3].sum() == 0
    labels = np.array([ours("neutral"), ours("disgust"), ours("fear"), ours("happy")])
    t = smooth_with_votes(labels, votes, 0.3, 7)
    assert t.shape == (4, 7)
    assert t[0][ours("neutral")] == pytest.approx(0.7 + 0.3 / 3) and t[0][ours("sad")] == pytest.approx(0.2)
    assert t[1][ours("disgust")] == pytest.approx(0.7) and t[1][ours("angry")] == pytest.approx(0.3)
    np.testing.assert_array_equal(t[2:], np.eye(7, dtype=np.float32)[labels[2:]])  # no usable votes: one-hot
    np.testing.assert_allclose(t.sum(axis=1), 1.0, atol=1e-6)
    assert (t.argmax(axis=1) == labels).all()  # FER2013's label leads at any weight below one half
    for bad in (-0.1, 0.5, 1.0):
        with pytest.raises(DatasetError, match="must lie in"):
            smooth_with_votes(labels, votes, bad, 7)


def test_fer2013_labels_smoothed_by_the_votes_beside_them(tmp_path):
    data, _, y, usage = write_fer_npz_and_votes(tmp_path)
    plain = load_dataset(data)
    ds = load_dataset(data, vote_weight=0.2)
    assert ds.class_names == FER7  # seven classes: the classic benchmark's
    for name in ("Training", "PublicTest", "PrivateTest"):
        np.testing.assert_array_equal(ds.split(name).labels, plain.split(name).labels)  # every face kept, same label
    train = ds.split("Training")
    assert train.targets is not None and train.targets.shape == (len(train), 7)
    assert ds.split("PublicTest").targets is None and ds.split("PrivateTest").targets is None
    assert train.rows is not None
    for row, target in zip(train.rows, train.targets):
        own = FER7.index(FER7[y[row]])
        if row % 5 == 4:  # 4 votes for its class, 6 for contempt (not one of the seven): all shares on its class
            assert target[own] == pytest.approx(1.0)
        elif row % 7 == 6:  # unknown won, but the two votes for its class are what the taggers saw of emotion
            assert target[own] == pytest.approx(1.0)
        else:  # 7 votes for its class, 3 for another
            assert target[own] == pytest.approx(0.8 + 0.2 * 0.7)
            assert np.sort(target)[-2] == pytest.approx(0.2 * 0.3)
    with pytest.raises(DatasetError, match="FER2013's own labels only"):
        load_dataset(data, labels="ferplus", vote_weight=0.2)
    (tmp_path / "ferplus" / "ferplus_votes.npz").unlink()
    with pytest.raises(DatasetError, match="no FER\\+ votes file"):
        load_dataset(data, vote_weight=0.2)


def test_majority_targets_and_bad_votes(tmp_path):
    data, votes, _, _ = write_fer_npz_and_votes(tmp_path)
    ds = load_dataset(data, labels=str(votes), targets="majority")
    assert ds.split("Training").targets is None
    np.savez(tmp_path / "short.npz", votes=np.zeros((3, 10), np.int16), vote_names=np.array(VOTE_NAMES))
    with pytest.raises(DatasetError, match="3 vote rows"):
        load_dataset(data, labels=str(tmp_path / "short.npz"))
    with pytest.raises(DatasetError, match="no FER\\+ votes file"):
        load_dataset(data, labels=str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "cols.npz", votes=np.zeros((3, 4), np.int16), vote_names=np.array(VOTE_NAMES[:4]))
    with pytest.raises(DatasetError, match="lack one of"):
        load_votes(tmp_path / "cols.npz")


def test_votes_refused_for_a_folder_dataset(tmp_path):
    from tests.helpers import write_folder

    root = write_folder(tmp_path / "d", n_per_class=1)
    with pytest.raises(DatasetError, match="aligned to FER2013"):
        load_dataset(root, labels="ferplus")


def test_evaluate_cli_majority_protocol_says_what_it_kept(tiny_model_dir, tmp_path):
    data, _, _, _ = write_fer_npz_and_votes(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "fer_core.evaluate", "--model", str(tiny_model_dir), "--data",
                           str(data), "--split", "PrivateTest", "--labels", "ferplus"], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    test = load_dataset(data, labels="ferplus").split("PrivateTest")
    assert f"{len(test)} faces kept, {test.left_out} left out" in proc.stdout


def test_train_on_vote_distributions(tmp_path):
    from fer_core.inference.card import load_card
    from fer_core.training.trainer import TrainConfig, train

    data, _, _, _ = write_fer_npz_and_votes(tmp_path, n_per_class=8)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "m"), width=4, epochs=1, batch_size=16, precision="float32",
                      verbose=0, checkpoint_dir=str(tmp_path / "ckpt"), resume=False, labels="ferplus", tta=False)
    card = load_card(train(cfg))
    assert card.class_names == list(FERPLUS_CLASSES)
    assert "FER+ votes (crossentropy)" in card.trained_on
    assert card.training["config"]["labels"] == "ferplus"


def test_shared_votes_give_the_papers_test_set():
    need_shared(FER_NPZ)
    test = load_dataset(FER_NPZ, labels="ferplus").split("PrivateTest")
    assert len(test) == 3137  # FER+ majority test as published protocols report it (8 classes)
    assert sorted(set(test.labels.tolist())) == list(range(8))


def test_reports_on_other_test_sets_sit_beside_the_own_one(tiny_model_dir, tmp_path):
    import shutil

    from fer_core.inference.card import load_card
    from fer_core.training.evaluation import evaluate_split, write_report
    from fer_core.training.reports import load_model_reports

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    own = json.loads((model / "report.json").read_text())
    data, _, _, _ = write_fer_npz_and_votes(tmp_path)
    plus = load_dataset(data, labels="ferplus")
    report = evaluate_split(model, plus.split("PrivateTest"), plus.class_names)
    write_report(model, report, "PrivateTest", str(data), labels="ferplus")
    assert json.loads((model / "report.json").read_text()) == own  # the model's own report is untouched
    extra = json.loads((model / "report_ferplus.json").read_text())
    assert extra["labels"] == "ferplus" and extra["n"] == report["n"]
    card = load_card(model)
    assert card.metrics["PrivateTest [ferplus]"]["labels"] == "ferplus"
    loaded = load_model_reports(model)
    assert loaded.report == own and list(loaded.extra) == ["FER+ majority of ten taggers"]
