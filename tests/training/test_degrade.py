"""The webcam degradation layer: changes faces in training only, keeps shape and pixel range."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from fer_core.training.degrade import build_degrade  # noqa: E402


def _checkerboard(n: int = 6) -> np.ndarray:
    x = np.zeros((n, 48, 48, 1), dtype="float32")
    x[:, ::2, ::2] = 255.0
    x[:, 1::2, 1::2] = 255.0
    return x


def test_identity_at_inference() -> None:
    x = _checkerboard()
    out = np.asarray(build_degrade(p=1.0, seed=1)(x, training=False))
    np.testing.assert_array_equal(out, x)


def test_no_share_no_change() -> None:
    x = _checkerboard()
    out = np.asarray(build_degrade(p=0.0, seed=1)(x, training=True))
    np.testing.assert_allclose(out, x, atol=1e-3)


def test_degrades_in_training_within_pixel_range() -> None:
    x = _checkerboard()
    out = np.asarray(build_degrade(p=1.0, seed=1)(x, training=True))
    assert out.shape == x.shape
    assert out.min() >= 0.0 and out.max() <= 255.0
    # Blur and half resolution wash out a one-pixel checkerboard: far less contrast between neighbours.
    detail_in = np.abs(np.diff(x, axis=2)).mean()
    detail_out = np.abs(np.diff(out, axis=2)).mean()
    assert detail_out < 0.5 * detail_in


def test_trainer_builds_with_degrade_flag() -> None:
    from fer_core.training.config import build_parser, config_from_args

    cfg = config_from_args(build_parser().parse_args(["--data", "x.npz", "--degrade", "--out", "o"]))
    assert cfg.degrade is True
    assert config_from_args(build_parser().parse_args(["--data", "x.npz", "--out", "o"])).degrade is False
