"""The server: Streamlit serving ``home.py`` and ``pages/``, with the app's own owner cookie.

Run with ``streamlit run streamlit_app.py``. Why a wrapper: a Streamlit page cannot set cookies, and
each visitor's files are keyed by an HttpOnly cookie this server issues (``webui.owner_cookie``).
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

import streamlit as st
from starlette.middleware import Middleware

from webui.owner_cookie import OwnerCookieMiddleware

app = st.App("home.py", middleware=[Middleware(OwnerCookieMiddleware)])
