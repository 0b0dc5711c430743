"""The training augmentation layer: one warp (flip, turn, shift, zoom) and contrast, in training only."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from fer_core.training.augment import _keras_warp, _torch_warp, build_augmentation  # noqa: E402


def _faces(n: int = 8, size: int = 48) -> np.ndarray:
    """Lopsided gradients, so that a flip, a turn or a shift always shows."""
    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    base = (xx * 3.0 + yy * 1.5) % 256.0
    return np.stack([np.roll(base, 3 * i, axis=1) for i in range(n)])[..., None]


def test_identity_at_inference() -> None:
    x = _faces()
    np.testing.assert_array_equal(np.asarray(build_augmentation(seed=1)(x, training=False)), x)


def test_training_changes_faces_within_range_and_differs_between_calls() -> None:
    x = _faces(16)
    layer = build_augmentation(seed=3)
    a, b = np.asarray(layer(x, training=True)), np.asarray(layer(x, training=True))
    assert a.shape == x.shape and a.min() >= 0.0 and a.max() <= 255.0
    assert np.abs(a - x).mean() > 5.0
    assert np.abs(a - b).mean() > 1.0  # fresh draws each batch


def test_flip_alone_mirrors_some_faces_exactly_and_leaves_the_rest() -> None:
    x = _faces(32)
    out = np.asarray(build_augmentation(rotation_deg=0, shift=0, zoom=0, contrast=0, seed=5)(x, training=True))
    same = np.isclose(out, x, atol=1e-3).all(axis=(1, 2, 3))
    mirrored = np.isclose(out, x[:, :, ::-1], atol=1e-3).all(axis=(1, 2, 3))
    assert (same | mirrored).all()
    assert same.any() and mirrored.any()


def test_turns_and_zooms_keep_the_centre_in_place() -> None:
    x = np.zeros((12, 49, 49, 1), "float32")
    x[:, 24, 24] = 255.0  # one bright pixel at the exact centre of an odd-sized face
    out = np.asarray(build_augmentation(shift=0, contrast=0, rotation_deg=30, zoom=0.2, seed=7)(x, training=True))
    assert (out.reshape(12, -1).argmax(axis=1) == 24 * 49 + 24).all()


def test_shift_moves_the_content() -> None:
    x = np.zeros((12, 49, 49, 1), "float32")
    x[:, 24, 24] = 255.0
    out = np.asarray(build_augmentation(flip=False, rotation_deg=0, zoom=0, contrast=0, shift=0.2, seed=9)(
        x, training=True))
    peaks = out.reshape(12, -1).argmax(axis=1)
    assert (peaks != 24 * 49 + 24).sum() >= 10
    rows, cols = np.divmod(peaks, 49)
    assert (np.abs(rows - 24) <= 0.2 * 49 + 1).all() and (np.abs(cols - 24) <= 0.2 * 49 + 1).all()


def test_pytorch_warp_matches_the_keras_warp() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (the lent GPU machine's backend)")
    x = _faces(4)
    a = np.array([0.95, 1.0, 0.9, -1.02], "float32")  # zoom, none, turn-ish, flip
    m = [a, np.array([0.1, 0, -0.2, 0], "float32"), np.array([-0.1, 0, 0.2, 0], "float32"),
         np.array([1.05, 1.0, 0.9, 1.0], "float32"), np.array([0.05, 0, -0.03, 0], "float32"),
         np.array([0.0, 0, 0.04, -0.05], "float32")]
    ref = np.asarray(_keras_warp(x, *m, 48, 48))
    got = _torch_warp(torch.tensor(x), *[torch.tensor(v) for v in m], 48, 48).numpy()
    inner = (slice(None), slice(8, 40), slice(8, 40))  # edges differ: the two reflect modes differ by one pixel
    np.testing.assert_allclose(got[inner], ref[inner], atol=6.0)
    assert np.abs(got[inner] - ref[inner]).mean() < 1.5
