"""How many live streams this server process runs at once, against a cap (``FER_MAX_LIVE_SESSIONS``).

Why: every live session costs the server a share of a CPU core for as long as it streams (decoding,
detecting, classifying, drawing and re-encoding 30 frames a second; ``bench/capacity.py`` measures it).
Past the machine's capacity every session's video stutters at once; a cap turns the one session that
would tip it over into a clear "the server is full" instead.

A place is held by a ``LiveLease`` (one per browser session, kept in its session state). It is given
back when the stream stops (``release``), when the lease is garbage-collected (the browser session was
dropped), or when nothing touched it for ``stale_after`` seconds (frames stopped arriving without a stop:
a closed laptop, a lost network); the next ``acquire`` reclaims such places. The count is per process:
behind a load balancer each replica has its own cap. Beside the cap, one owner (a browser, an account)
holds at most ``FER_LIVE_PER_OWNER`` places, so two tabs of one browser cannot take every place.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable

from fer_core.settings import get_settings

# The automatic cap: live sessions per CPU core that keep 30 fps with the load governor
# (fer_core/inference/load.py) trading test-time views and detections for frame rate; bench/capacity.py
# measures the whole server path (VP8 decode, detection, classification, drawing, VP8 encode) to set it.
LIVE_SESSIONS_PER_CORE = 2
STALE_AFTER_S = 30.0  # a place nobody touched for this long is free again


def cpu_cores() -> int:
    """CPU cores this process may run on (the container's or cgroup's share where the OS says so)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def session_cap(setting: int | None = None) -> int:
    """The cap in force: ``setting`` (``FER_MAX_LIVE_SESSIONS``; 0 = no cap), or when unset 2 per core."""
    if setting is None:

        setting = get_settings().max_live_sessions
    if setting is None:
        return LIVE_SESSIONS_PER_CORE * cpu_cores()
    return max(0, int(setting))


def owner_cap() -> int:
    """Places one owner may hold at once (``FER_LIVE_PER_OWNER``; 0 = no limit beyond the server's cap)."""
    return max(0, get_settings().max_live_per_owner)


class LiveSessions:
    """A thread-safe, process-wide count of live streams against a cap and a cap per owner; hands out
    ``LiveLease``s."""

    def __init__(self, cap: Callable[[], int] = session_cap, stale_after: float = STALE_AFTER_S,
                 clock: Callable[[], float] = time.monotonic, per_owner: Callable[[], int] = owner_cap) -> None:
        self._cap = cap
        self._per_owner = per_owner
        self.stale_after = stale_after
        self._clock = clock
        # re-entrant: a lease's finalizer (garbage collection) may run while this thread holds the lock
        self._lock = threading.RLock()
        self._held: dict[int, float] = {}  # lease key -> last touch
        self._owners: dict[int, str] = {}  # lease key -> its owner ("" for none: only the server cap applies)
        self._keys = itertools.count(1)

    def lease(self) -> LiveLease:
        """A new lease that holds no place yet (one per browser session)."""
        return LiveLease(self, next(self._keys))

    @property
    def cap(self) -> int:
        """The cap in force now (0: none)."""
        return self._cap()

    @property
    def per_owner(self) -> int:
        """Places one owner may hold now (0: no limit)."""
        return self._per_owner()

    def active(self, owner: str | None = None) -> int:
        """Places held now (stale ones given back first), all of them or ``owner``'s."""
        with self._lock:
            self._reclaim(self._clock())
            if owner is None:
                return len(self._held)
            return sum(1 for k in self._held if self._owners.get(k) == owner)

    # ---------------------------------------------------------------- used by LiveLease
    def _acquire(self, key: int, owner: str) -> bool:
        cap, per_owner = self._cap(), self._per_owner()
        with self._lock:
            now = self._clock()
            if key in self._held:
                self._held[key] = now
                return True
            self._reclaim(now)
            if cap and len(self._held) >= cap:
                return False
            if owner and per_owner and sum(1 for k in self._held if self._owners.get(k) == owner) >= per_owner:
                return False
            self._held[key] = now
            self._owners[key] = owner
            return True

    def _touch(self, key: int) -> None:
        with self._lock:
            if key in self._held:
                self._held[key] = self._clock()

    def _release(self, key: int) -> None:
        with self._lock:
            self._held.pop(key, None)
            self._owners.pop(key, None)

    def _holds(self, key: int) -> bool:
        with self._lock:
            return key in self._held

    def _reclaim(self, now: float) -> None:
        for key in [k for k, t in self._held.items() if now - t > self.stale_after]:
            self._held.pop(key, None)
            self._owners.pop(key, None)


class LiveLease:
    """One browser session's claim on a live place. Cheap to ``touch`` from the video thread."""

    def __init__(self, sessions: LiveSessions, key: int) -> None:
        self._sessions, self._key = sessions, key
        # the browser session went away (its state was dropped): give the place back
        weakref.finalize(self, sessions._release, key)

    def acquire(self, owner: str = "") -> bool:
        """Hold a place (True), or False when the server is full or ``owner`` holds their share already.
        Holding one already: True, and refreshed. ``owner`` "" is held to the server's cap only."""
        return self._sessions._acquire(self._key, owner)

    def touch(self) -> None:
        """The stream is alive (a frame came in): keep the place from going stale. No-op without a place."""
        self._sessions._touch(self._key)

    def release(self) -> None:
        """Give the place back (the stream stopped). Safe to call any number of times."""
        self._sessions._release(self._key)

    @property
    def held(self) -> bool:
        return self._sessions._holds(self._key)


_LIVE = LiveSessions()


def live_sessions() -> LiveSessions:
    """The process-wide count every live page shares."""
    return _LIVE


__all__ = ["LIVE_SESSIONS_PER_CORE", "STALE_AFTER_S", "LiveLease", "LiveSessions", "cpu_cores", "live_sessions",
           "owner_cap", "session_cap"]
