"""Data the tests make: tiny synthetic datasets and a really trained tiny model."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

CLASSES = ["angry", "happy", "sad"]


def synthetic_faces(n_per_class: int = 12, size: int = 48, seed: int = 0,
                    classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gray images whose class is visible (a bar at a class-specific height), plus noise."""
    rng = np.random.default_rng(seed)
    names = classes or CLASSES
    images, labels = [], []
    for c in range(len(names)):
        for _ in range(n_per_class):
            img = rng.integers(40, 90, (size, size)).astype(np.uint8)
            row = int((c + 1) * size / (len(names) + 1))
            img[max(0, row - 3):row + 3, 4:size - 4] = 230
            images.append(img)
            labels.append(c)
    return np.stack(images), np.array(labels, dtype=np.int64)


def write_npz(path: Path, n_per_class: int = 12, classes: list[str] | None = None) -> Path:
    """A FER2013-layout npz with three splits of synthetic images (classes ``CLASSES`` unless given)."""
    x, y = synthetic_faces(n_per_class, classes=classes)
    usage = np.arange(len(y)) % 3
    np.savez(path, images=x, labels=y.astype(np.int8), usage=usage.astype(np.int8),
             class_names=np.array(classes or CLASSES), usage_names=np.array(["Training", "PublicTest", "PrivateTest"]))
    return path


def write_folder(root: Path, n_per_class: int = 4, splits: tuple[str, ...] = (), ext: str = ".png",
                 class_dirs: list[str] | None = None) -> Path:
    """``root/<class>/*`` or ``root/<split>/<class>/*`` of synthetic images."""
    x, y = synthetic_faces(n_per_class)
    names = class_dirs or CLASSES
    for split in splits or ("",):
        for i, (img, label) in enumerate(zip(x, y)):
            d = root / split / names[label] if split else root / names[label]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"img_{i:03d}{ext}")
    return root


def make_tiny_model(out_root: Path, epochs: int = 1) -> Path:
    """Train a real fer_cnn (width 4) for ``epochs`` on a synthetic npz; return its model directory."""
    from fer_core.training.trainer import TrainConfig, train

    data = write_npz(out_root / "tiny.npz", n_per_class=16)
    cfg = TrainConfig(data=str(data), out=str(out_root / "tiny"), backbone="fer_cnn", width=4, epochs=epochs,
                      batch_size=16, precision="float32", verbose=0, checkpoint_dir=str(out_root / "ckpt"),
                      resume=False, class_weight="sqrt", patience=5)
    out = train(cfg)
    # The trainer picks test-time views on validation data; pin the flip so tests of the tiny
    # model do not depend on what its noisy validation score preferred.
    from fer_core.inference.card import load_card

    card = load_card(out)
    card.tta = ["hflip"]
    card.save(out)
    return out


def stop_all_jobs() -> None:
    """Cancel every running or queued background job and wait for it to end (between tests)."""
    from fer_core.training import jobs

    for info in jobs.list_jobs():
        if info.active:
            jobs.cancel(info.id)
            jobs.wait(info.id, 30)


def start_thread_job(kind: str, name: str, target: Callable[[Callable[[dict[str, Any]], None]], Any],
                     meta: dict[str, Any] | None = None, owner: str = "") -> str:
    """A job of the engine's registry whose events come from ``target(progress)`` in a thread, not from a
    training child: a test puts a job in any state (epochs, a failure, a model made) without training.
    ``target``'s return value becomes the job's ``result``; an exception ends it as failed."""
    from fer_core.errors import exception_line
    from fer_core.training import jobs

    job = jobs._register(kind, name, meta, owner=owner)

    def run() -> None:
        try:
            result = target(lambda event: jobs._apply_event(job, event))
        except Exception as exc:
            jobs._finish(job, jobs.FAILED, error=exception_line(exc))
            return
        jobs._finish(job, jobs.DONE, result=None if result is None else str(result))

    threading.Thread(target=run, name=f"job-{job.info.id}", daemon=True).start()
    return job.info.id
