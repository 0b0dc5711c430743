"""fer_core: the UI-free facial expression recognition engine.

Every page of the app and every command line goes through this package:
detection, largest-face choice, classification, smoothing, datasets,
training and evaluation. Nothing here imports Streamlit.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
