"""The step the live page and video files share: smoothing over time, forgetting a lost face."""

from __future__ import annotations

import numpy as np
import pytest

from fer_core.inference import timing
from fer_core.inference.stream import ExpressionTrack, StreamOptions

A = np.array([1.0, 0.0])
B = np.array([0.0, 1.0])


def test_per_classification_smoothing_weighs_the_newest_by_alpha() -> None:
    track = ExpressionTrack(StreamOptions(alpha=0.25))
    assert np.allclose(track.classified(A), A)  # the first result is taken as it is
    assert np.allclose(track.classified(B), [0.75, 0.25])
    assert np.allclose(track.latest, [0.75, 0.25])


def test_timed_smoothing_keeps_its_time_constant_at_any_rate() -> None:
    """Two frames 1/30 s apart weigh the newest by alpha; one frame 2/30 s later weighs it as two such steps."""
    alpha = 0.35
    step = 1 / timing.REFERENCE_FPS
    fast = ExpressionTrack(StreamOptions(alpha=alpha))
    fast.classified(A, 0.0)
    fast.classified(B, step)
    p_fast = fast.classified(B, 2 * step)
    slow = ExpressionTrack(StreamOptions(alpha=alpha))
    slow.classified(A, 0.0)
    p_slow = slow.classified(B, 2 * step)
    assert p_fast == pytest.approx(p_slow)
    assert p_slow[0] == pytest.approx((1 - alpha) ** 2)


def test_without_smoothing_each_result_stands_alone() -> None:
    track = ExpressionTrack(StreamOptions(smoothing=False))
    track.classified(A)
    assert np.array_equal(track.classified(B), B)


def test_a_face_lost_for_lost_after_frames_is_forgotten() -> None:
    track = ExpressionTrack(StreamOptions(alpha=0.5, lost_after=3))
    track.classified(A)
    assert [track.missed(), track.missed()] == [False, False]
    assert track.latest is not None  # a short miss keeps the face
    assert track.missed() and track.latest is None
    assert track.missed(), "still lost on the next empty frame"
    assert np.allclose(track.classified(B), B), "a new face does not inherit the old one's expression"


def test_a_face_seen_again_in_time_keeps_its_history() -> None:
    track = ExpressionTrack(StreamOptions(alpha=0.5, lost_after=3))
    track.classified(A)
    track.missed()
    track.missed()
    assert np.allclose(track.classified(B), [0.5, 0.5])
    assert not track.missed() and not track.missed(), "the count of missed frames started again"


def test_video_detection_pace_follows_the_live_pace() -> None:
    assert StreamOptions(detect_every=2).detect_interval == pytest.approx(2 / timing.REFERENCE_FPS)
    assert StreamOptions(detect_every=0).detect_interval == 0
