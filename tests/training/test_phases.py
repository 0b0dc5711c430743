"""fer_core.training.phases: the one phase plan, for every way a training can start."""

from __future__ import annotations

from fer_core.training.config import TrainConfig
from fer_core.training.jobs import planned_epochs
from fer_core.training.phases import FINETUNE, HEAD, TRAIN, plan_phases


def _plan(weights: str = "imagenet", **kw) -> list[tuple[str, int, float]]:
    cfg = TrainConfig(**{"data": "d", "out": "o", "epochs": 7, "finetune_epochs": 3, "lr": 1e-2, "finetune_lr": 1e-4,
                         **kw})
    return [(p.name, p.epochs, p.lr) for p in plan_phases(cfg, weights)]


def test_each_start_has_its_phases():
    assert _plan(backbone="fer_cnn", weights="none") == [(TRAIN, 7, 1e-2)]
    assert _plan(backbone="mobilenet_v2") == [(HEAD, 7, 1e-2), (FINETUNE, 3, 1e-4)]
    assert _plan(backbone="mobilenet_v2", weights="none") == [(TRAIN, 10, 1e-2)]  # nothing to keep frozen
    assert _plan(backbone="mobilenet_v2", finetune_epochs=0) == [(HEAD, 7, 1e-2)]
    # from a model: head + fine-tune whatever the backbone, or one phase of --epochs with --whole
    assert _plan(backbone="fer_cnn", weights="none", init_model="m") == [(HEAD, 7, 1e-2), (FINETUNE, 3, 1e-4)]
    assert _plan(backbone="resnet50", init_model="m", whole=True) == [(TRAIN, 7, 1e-2)]


def test_the_jobs_plan_is_the_trainers():
    for kw in (dict(backbone="fer_cnn"), dict(init_model="m"), dict(init_model="m", whole=True),
               dict(backbone="mobilenet_v2", weights="none")):
        cfg = TrainConfig(data="d", out="o", epochs=7, finetune_epochs=3, **kw)
        assert planned_epochs(cfg) == sum(p.epochs for p in plan_phases(cfg))
    assert planned_epochs(TrainConfig(data="d", out="o", epochs=7, finetune_epochs=3, init_model="m", whole=True)) == 7
