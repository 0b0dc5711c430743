"""The server: Streamlit serving ``home.py`` and ``pages/``, with the app's own owner cookie.

Run with ``streamlit run streamlit_app.py``. Why a wrapper: a Streamlit page cannot set cookies, and
each visitor's files are keyed by an HttpOnly cookie this server issues (``fer_core.owner_cookie``).

Nothing here imports streamlit_webrtc or tensorflow: this module is imported before Streamlit's runtime
exists, and a component declared then (streamlit_webrtc's, on import) is never served. The pages import
streamlit_webrtc first, inside the runtime.
"""

import streamlit as st
from starlette.middleware import Middleware

from fer_core.owner_cookie import OwnerCookieMiddleware

app = st.App("home.py", middleware=[Middleware(OwnerCookieMiddleware)])
