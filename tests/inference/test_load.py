"""The load governor: steps down together when the process is busy, back up after calm, never past its ends."""

from __future__ import annotations

import pytest

from fer_core.inference.load import LEVELS, LoadGovernor, shared_governor


class FakeMachine:
    """Process CPU seconds and wall seconds the test moves by hand (what the governor reads)."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.t = 0.0

    def run(self, seconds: float, share: float, cores: int = 2) -> None:
        self.t += seconds
        self.cpu += seconds * share * cores


def _governor(m: FakeMachine, **kw) -> LoadGovernor:
    return LoadGovernor(cores=2, cpu=lambda: m.cpu, clock=lambda: m.t, **kw)


def test_full_quality_while_calm() -> None:
    m = FakeMachine()
    g = _governor(m)
    for _ in range(10):
        m.run(1.0, 0.2)
        assert g.observe() == LEVELS[0]
    assert g.share == pytest.approx(0.2)
    assert LEVELS[0].describe() == ""


def test_steps_down_one_level_per_busy_period_and_stops_at_the_last() -> None:
    m = FakeMachine()
    g = _governor(m)
    seen = []
    for _ in range(len(LEVELS) + 3):
        m.run(1.0, 0.95)
        seen.append(g.observe().level)
    assert seen[: len(LEVELS)] == list(range(1, len(LEVELS))) + [len(LEVELS) - 1]
    assert seen[-1] == len(LEVELS) - 1
    q = g.quality
    assert q.single_view and q.detect_every >= 6
    assert "busy" in q.describe() and "one view" in q.describe()


def test_a_one_period_burst_is_not_enough_but_two_busy_periods_are() -> None:
    m = FakeMachine()
    g = _governor(m)  # high 0.65, surge 0.85
    m.run(1.0, 0.75)
    assert g.observe().level == 0  # one busy second (a session starting) changes nothing
    m.run(1.0, 0.5)
    assert g.observe().level == 0
    m.run(1.0, 0.75)
    assert g.observe().level == 0
    m.run(1.0, 0.75)
    assert g.observe().level == 1  # two in a row: one step down
    m.run(1.0, 0.75)
    assert g.observe().level == 1  # the count starts again after a step
    m.run(1.0, 0.75)
    assert g.observe().level == 2


def _seconds(g: LoadGovernor, m: FakeMachine, n: int, frames_ms: list[float], share: float) -> None:
    """``n`` one-second periods, each with these frame times noted and this CPU share, then a decision."""
    for _ in range(n):
        for ms in frames_ms:
            g.note_frame(ms)
        m.run(1.0, share)
        g.observe()


def test_slow_frames_step_down_even_when_the_average_cpu_looks_fine() -> None:
    m = FakeMachine()
    g = _governor(m)  # slow_ms 20, fast_ms 12
    _seconds(g, m, 2, [8.0] * 90 + [45.0] * 10, 0.3)  # bursts: one frame in ten late
    assert g.frame_p95_ms == 45.0 and g.share == pytest.approx(0.3)
    assert g.quality.level == 1
    # calm needs low CPU use and fast frames: 16 ms frames hold the level however idle the CPU
    _seconds(g, m, 6, [16.0] * 100, 0.1)
    assert g.quality.level == 1
    _seconds(g, m, 6, [6.0] * 100, 0.1)
    assert g.quality.level == 0


def test_no_decision_within_a_period() -> None:
    m = FakeMachine()
    g = _governor(m, period_s=1.0)
    m.run(0.5, 1.0)
    assert g.observe().level == 0  # half a period: not measured yet
    m.run(0.6, 1.0)
    assert g.observe().level == 1


def test_steps_back_up_only_after_holding_calm() -> None:
    m = FakeMachine()
    g = _governor(m, hold_s=3.0)
    for _ in range(2):
        m.run(1.0, 0.9)
        g.observe()
    assert g.quality.level == 2
    m.run(1.0, 0.1)
    assert g.observe().level == 2  # calm starts
    m.run(1.0, 0.1)
    assert g.observe().level == 2
    m.run(2.0, 0.1)
    assert g.observe().level == 1  # 3 s of calm: one step up
    m.run(1.0, 0.5)  # between low and high: stays, and the calm clock restarts
    assert g.observe().level == 1
    m.run(1.0, 0.1)
    m.run(1.0, 0.1)
    assert g.observe().level == 1
    for _ in range(3):
        m.run(1.0, 0.1)
        g.observe()
    assert g.quality.level == 0


def test_bad_thresholds_refused() -> None:
    with pytest.raises(ValueError, match="low < high"):
        LoadGovernor(high=0.3, low=0.5)
    with pytest.raises(ValueError, match="high <= surge"):
        LoadGovernor(high=0.9, surge=0.8)


def test_one_governor_per_process() -> None:
    assert shared_governor() is shared_governor()
