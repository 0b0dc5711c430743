import numpy as np
import pytest

from fer_core.inference.smoothing import ProbabilitySmoother


def test_average_damps_a_single_flicker():
    s = ProbabilitySmoother(alpha=0.3, reset_after=3)
    happy, sad = np.array([0.9, 0.1]), np.array([0.2, 0.8])
    for _ in range(5):
        s.update(happy)
    out = s.update(sad)  # one odd frame
    assert np.argmax(out) == 0
    assert out[0] == pytest.approx(0.3 * 0.2 + 0.7 * 0.9)
    for _ in range(10):
        out = s.update(sad)
    assert np.argmax(out) == 1  # a lasting change wins


def test_reset_after_face_lost():
    s = ProbabilitySmoother(alpha=0.5, reset_after=2)
    s.update(np.array([1.0, 0.0]))
    assert s.update(None) is not None  # one missed frame keeps the state
    assert s.update(None) is None  # lost: state dropped
    fresh = s.update(np.array([0.0, 1.0]))
    assert fresh.tolist() == [0.0, 1.0]  # the new face does not inherit the old one


def test_alpha_validated():
    with pytest.raises(ValueError):
        ProbabilitySmoother(alpha=0.0)
