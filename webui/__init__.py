"""Streamlit helpers shared by the app's pages (the engine, ``fer_core``, stays UI-free).

``streamlit_webrtc`` is imported first: importing TensorFlow before pylibsrtp (pulled in by
aiortc) crashes the process, and any page may be the first script a server runs.
"""

import streamlit_webrtc  # noqa: F401  (must precede any tensorflow import)
