"""Keep Streamlit's after-run garbage collection cheap once TensorFlow and a model are loaded.

Why: Streamlit runs ``gc.collect(2)`` after every script run (``runner.postScriptGC``). With
TensorFlow, Keras and a model in the process that full collection walks hundreds of thousands of
objects and holds the interpreter long enough to stall every live session's frames; pressing START
on the Live page takes several script runs (the offer, the answer, the ICE candidates), each waiting
on the previous run's collection. Objects alive right after a model loads are long-lived
(TensorFlow's modules, the model), so they are moved to the permanent generation, which every
collection skips (Python's own as well), and Streamlit's collection stays on for everything else.
What it saves is measured in docs/benchmarks.md.
"""

from __future__ import annotations

import gc
import logging
import threading

log = logging.getLogger(__name__)

_lock = threading.Lock()
_settled = False


def settle_heap() -> int:
    """Once per process: collect garbage, then freeze every object still alive; returns the frozen count.

    Collecting first means only live objects are frozen (frozen garbage is never freed). Only the
    first model load does it: TensorFlow's and Keras's objects are the bulk, and a later load may
    happen while many sessions are open, whose objects must stay collectable when they end.
    """
    global _settled
    with _lock:
        if not _settled:
            gc.collect()
            gc.freeze()
            _settled = True
            log.info("%d long-lived objects moved out of the garbage collector's way", gc.get_freeze_count())
        return gc.get_freeze_count()
