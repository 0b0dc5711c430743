"""fer_core: the UI-free facial expression recognition engine.

Every page of the app and every command line goes through this package:
detection, largest-face choice, classification, smoothing, datasets,
training and evaluation. Nothing here imports Streamlit.

As a library, one call does the work::

    import fer_core

    faces = fer_core.analyze("photo.jpg")  # or an RGB array; list of Face: box, label, score, probabilities
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from fer_core.inference.pipeline import Face

__all__ = ["__version__", "analyze"]
__version__ = "0.1.0"


def _load_srtp_before_tensorflow() -> None:
    """Load pylibsrtp (aiortc's SRTP library, what streamlit-webrtc brings in) now, where it is installed.

    Why: loading pylibsrtp after TensorFlow kills the process (a segmentation fault in the native
    libraries). The engine imports TensorFlow lazily; loading pylibsrtp first, as this package is
    imported, makes any later order safe, so a program that uses the engine and streamlit-webrtc
    need not import streamlit_webrtc first. Where pylibsrtp is not installed there is nothing to do.
    """
    if "pylibsrtp" in sys.modules or importlib.util.find_spec("pylibsrtp") is None:
        return
    if "tensorflow" in sys.modules:  # too late: importing it now would crash; a later import will too
        logging.getLogger(__name__).warning("tensorflow was imported before fer_core: importing pylibsrtp "
                                            "(aiortc, streamlit-webrtc) in this process will crash it")
        return
    import pylibsrtp  # noqa: F401


_load_srtp_before_tensorflow()


def analyze(image: np.ndarray | str | Path, model: str | Path | None = None, detector: str | None = None,
            classify: str = "all") -> list[Face]:
    """Find every face in ``image`` (an RGB or gray array, or an image file) and classify its expression.

    ``model`` is a model name (``default``, ``fer2013``, one under ``FER_MODELS_DIR``) or a model
    folder; ``detector`` ``auto``, ``yunet`` or ``haar``; ``classify`` ``all``, ``largest``, ``none``
    or ``whole`` (the image is one face). The largest face comes first, marked ``is_largest``.
    TensorFlow and the model load on the first call, once per process.
    """
    from fer_core.data.imageio import read_image
    from fer_core.inference.pipeline import analyze as analyze_array

    pixels = read_image(image) if isinstance(image, (str, Path)) else image
    return analyze_array(pixels, model=model, detector=detector, classify=classify)
