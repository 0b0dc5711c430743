"""Page setup and the sidebar links: what every page calls first.

Why its own links: Streamlit's page list would call the home page "streamlit app"; it is hidden by
``client.showSidebarNavigation = false`` in .streamlit/config.toml and this list, "Home" first, drawn instead.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.errors import StreamlitAPIException

from fer_core.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

APP_TITLE = "Facial expression recognition"

PAGES: list[tuple[str, str, str]] = [  # (script, label, icon)
    ("home.py", "Home", "🏠"),
    ("pages/1_Live_webcam.py", "Live webcam", "🎥"),
    ("pages/2_Upload_photos.py", "Upload photos", "🖼️"),
    ("pages/3_Dataset.py", "Dataset", "🗂️"),
    ("pages/4_Training_metrics.py", "Training metrics", "📈"),
    ("pages/5_Capture.py", "Capture", "📸"),
    ("pages/6_Teach.py", "Teach", "🎓"),
    ("pages/7_Video.py", "Video", "🎞️"),
]


def setup_page(title: str, icon: str = "🙂", layout: str = "wide") -> None:
    """Set the browser title and layout and draw the sidebar navigation; call first on every page."""
    st.set_page_config(page_title=f"{title} · FER", page_icon=icon, layout=layout)  # type: ignore[arg-type]
    sidebar_navigation()


def sidebar_navigation() -> None:
    """Links to every page, "Home" first, then a divider (the model picker goes below it)."""
    with st.sidebar:
        for script, label, icon in existing_pages():
            try:
                st.page_link(script, label=label, icon=icon)
            except StreamlitAPIException:  # a page run on its own (AppTest) does not know the others
                log.debug("no page link to %s from this script", script)
        st.divider()


def existing_pages() -> list[tuple[str, str, str]]:
    """The pages of ``PAGES`` whose script exists (so a page link never points nowhere)."""
    return [p for p in PAGES if (PROJECT_ROOT / p[0]).is_file()]


__all__ = ["APP_TITLE", "PAGES", "existing_pages", "setup_page", "sidebar_navigation"]
