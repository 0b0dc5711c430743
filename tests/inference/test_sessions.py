"""The cap on concurrent live sessions (fer_core.inference.sessions) and the skipped-frame count the live
readout shows when the server falls behind."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

from fer_core.inference.sessions import LIVE_SESSIONS_PER_CORE, LiveSessions, cpu_cores, live_sessions, session_cap
from fer_core.settings import get_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cap_admits_up_to_the_limit_and_a_release_frees_a_place() -> None:
    sessions = LiveSessions(cap=lambda: 2)
    a, b, c = sessions.lease(), sessions.lease(), sessions.lease()
    assert a.acquire() and b.acquire()
    assert not c.acquire() and not c.held, "a third session is refused"
    assert sessions.active() == 2
    assert a.acquire() and sessions.active() == 2, "acquiring a held place again does not count twice"
    a.release()
    a.release()  # twice is harmless
    assert sessions.active() == 1 and c.acquire() and c.held


def test_zero_means_no_cap() -> None:
    sessions = LiveSessions(cap=lambda: 0)
    leases = [sessions.lease() for _ in range(50)]
    assert all(lease.acquire() for lease in leases) and sessions.active() == 50


def test_a_place_nobody_touches_goes_stale_and_is_reclaimed() -> None:
    clock = Clock()
    sessions = LiveSessions(cap=lambda: 1, stale_after=30.0, clock=clock)
    gone, alive, newcomer = sessions.lease(), sessions.lease(), sessions.lease()
    assert gone.acquire()
    clock.now += 20
    gone.touch()  # frames still arrive
    clock.now += 20
    assert not newcomer.acquire(), "touched 20 s ago: still held"
    clock.now += 11  # 31 s without a frame: the tab was closed without STOP
    assert newcomer.acquire() and not gone.held
    assert not alive.acquire()
    alive.touch()  # a touch without a place takes none
    assert not alive.held


def test_a_dropped_browser_session_gives_its_place_back() -> None:
    sessions = LiveSessions(cap=lambda: 1)
    lease = sessions.lease()
    assert lease.acquire() and sessions.active() == 1
    del lease  # the session state holding it was dropped
    gc.collect()
    assert sessions.active() == 0 and sessions.lease().acquire()


def test_concurrent_acquires_never_exceed_the_cap() -> None:
    sessions = LiveSessions(cap=lambda: 5)
    leases = [sessions.lease() for _ in range(64)]
    got: list[bool] = []
    barrier = threading.Barrier(16)

    def worker(chunk: list) -> None:
        barrier.wait()
        for lease in chunk:
            ok = lease.acquire()
            got.append(ok)
            if ok and len(got) % 3 == 0:
                lease.release()
                got.append(lease.acquire())

    threads = [threading.Thread(target=worker, args=(leases[i::16],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sessions.active() == 5 == sum(lease.held for lease in leases)


def test_setting_auto_zero_and_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FER_MAX_LIVE_SESSIONS", raising=False)
    assert get_settings().max_live_sessions is None
    assert session_cap() == LIVE_SESSIONS_PER_CORE * cpu_cores() >= 1
    monkeypatch.setenv("FER_MAX_LIVE_SESSIONS", "auto")
    assert session_cap() == LIVE_SESSIONS_PER_CORE * cpu_cores()
    monkeypatch.setenv("FER_MAX_LIVE_SESSIONS", "0")
    assert session_cap() == 0
    monkeypatch.setenv("FER_MAX_LIVE_SESSIONS", "12")
    assert session_cap() == 12 and live_sessions().cap == 12, "the shared count reads the setting each time"
    monkeypatch.setenv("FER_MAX_LIVE_SESSIONS", "-1")
    with pytest.raises(ValueError, match="FER_MAX_LIVE_SESSIONS must be 0 or more"):
        get_settings()
    monkeypatch.setenv("FER_MAX_LIVE_SESSIONS", "many")
    with pytest.raises(ValueError, match="FER_MAX_LIVE_SESSIONS must be a whole number"):
        get_settings()


def test_skipped_frames_are_counted_and_the_recent_share_fades(tiny_model_dir) -> None:
    from fer_core.inference.classifier import get_classifier
    from fer_core.inference.detection import HaarDetector
    from fer_core.inference.live import LiveProcessor
    from fer_core.inference.pipeline import Pipeline

    proc = LiveProcessor(Pipeline(get_classifier(tiny_model_dir), HaarDetector()))
    frame = np.full((120, 160, 3), 90, np.uint8)
    try:
        for _ in range(4):
            proc.process(frame)
            proc.note_skipped(2)  # two frames came in while each one was processed
        proc.note_skipped(0)
        stats = proc.snapshot()
        assert stats.skipped == 8 and stats.frames == 4
        assert stats.skipped_share == pytest.approx(8 / 12)
        proc._skips = type(proc._skips)([(t - 10.0, n) for t, n in proc._skips])  # ten seconds later
        assert proc.snapshot().skipped_share == 0.0 and proc.snapshot().skipped == 8
        proc.reset()
        assert proc.snapshot().skipped == 0
    finally:
        proc.close()


def test_one_owner_holds_at_most_their_share() -> None:
    sessions = LiveSessions(cap=lambda: 10, per_owner=lambda: 1)
    first, second, other, anyone = (sessions.lease() for _ in range(4))
    assert first.acquire("ann") and not second.acquire("ann"), "a second tab of one browser is refused"
    assert other.acquire("bob") and sessions.active("ann") == 1 and sessions.active() == 2
    assert anyone.acquire("") and sessions.lease().acquire(""), "no owner: the server's cap only"
    first.release()
    assert second.acquire("ann")
    unlimited = LiveSessions(cap=lambda: 10, per_owner=lambda: 0)
    assert all(unlimited.lease().acquire("ann") for _ in range(5))
