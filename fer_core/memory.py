"""A server-wide budget for the pixels being decoded and analysed at once, and handing freed memory back.

Why: the pixel limit per image bounds one picture, not many visitors uploading many at once; a
picture costs some ``BYTES_PER_PIXEL`` while it is decoded, analysed and drawn. Reservations beyond
``settings.memory_budget_mb`` (``FER_MEMORY_BUDGET_MB``) wait up to ``WAIT_S``, then are refused with
a one-line message, so a replica stays under its memory limit instead of being killed. When the last
reservation ends the C heap is trimmed, so memory returns to the system after visitors leave.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fer_core.errors import ImageError
from fer_core.settings import get_settings

log = logging.getLogger(__name__)

BYTES_PER_PIXEL = 12  # decoded RGB, its annotated copy, a grey/scaled copy for detection
WAIT_S = 60.0  # how long a reservation waits for others to finish before it is refused

_cond = threading.Condition()
_in_use = 0  # bytes reserved now


@contextmanager
def reserve_pixels(pixels: int, name: str = "image") -> Iterator[None]:
    """Hold ``pixels`` worth of the server's memory budget while the block runs; ``ImageError`` when
    the budget stays full for ``WAIT_S`` seconds or one picture alone is larger than the budget."""
    global _in_use
    budget = get_settings().memory_budget_mb * 2**20
    need = max(0, int(pixels)) * BYTES_PER_PIXEL
    if budget > 0:
        if need > budget:
            raise ImageError(f"{name}: {pixels:,} pixels need more memory than this server allows one picture "
                             f"({budget // 2**20} MB); upload a smaller picture")
        with _cond:
            if not _cond.wait_for(lambda: _in_use + need <= budget, timeout=WAIT_S):
                raise ImageError(f"{name}: the server is busy with other large pictures; try again in a minute")
            _in_use += need
    try:
        yield
    finally:
        if budget > 0:
            with _cond:
                _in_use -= need
                idle = _in_use == 0
                _cond.notify_all()
            if idle:
                trim_heap()


def in_use_bytes() -> int:
    with _cond:
        return _in_use


def trim_heap() -> None:
    """Hand freed heap pages back to the system (glibc keeps them otherwise); a no-op elsewhere."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        log.debug("malloc_trim is not available here")


__all__ = ["BYTES_PER_PIXEL", "in_use_bytes", "reserve_pixels", "trim_heap"]
