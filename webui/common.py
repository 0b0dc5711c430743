"""What every page shares: page setup, the sidebar model picker, cached models, WebRTC config.

Why: a model is loaded once per process (``st.cache_resource``) and shared by all browser
sessions and pages; the model chosen in the sidebar applies to every page.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from fer_core.errors import FerError
from fer_core.model_folder import CARD_FILE, MODEL_FILE
from fer_core.registry import ModelInfo, list_models
from fer_core.settings import get_settings

if TYPE_CHECKING:  # heavy or TF-adjacent types only for annotations
    import altair as alt

    from fer_core.inference.classifier import Classifier
    from fer_core.inference.detection import FaceDetector
    from fer_core.inference.pipeline import Pipeline

log = logging.getLogger(__name__)

APP_TITLE = "Facial expression recognition"
MODEL_KEY = "model_name"  # the chosen model's name, shared by every page
PICKER_KEY = "model_picker"  # the sidebar widget (its own state is dropped on page switches)
DETECTOR_LABELS = {"auto": "Auto (YuNet when available)", "yunet": "YuNet", "haar": "Haar cascade"}
DEFAULT_ICE: dict[str, Any] = {"iceServers": []}

PAGES: list[tuple[str, str, str]] = [  # (script, label, icon)
    ("streamlit_app.py", "Home", "🏠"),
    ("pages/1_Live_webcam.py", "Live webcam", "🎥"),
    ("pages/2_Upload_photos.py", "Upload photos", "🖼️"),
    ("pages/3_Dataset.py", "Dataset", "🗂️"),
    ("pages/4_Training_metrics.py", "Training metrics", "📈"),
    ("pages/5_Capture.py", "Capture", "📸"),
    ("pages/6_Teach.py", "Teach", "🎓"),
    ("pages/7_Video.py", "Video", "🎞️"),
]


# ---------------------------------------------------------------- page
def setup_page(title: str, icon: str = "🙂", layout: str = "wide") -> None:
    """Set the browser title and layout and draw the sidebar navigation; call first on every page."""
    st.set_page_config(page_title=f"{title} · FER", page_icon=icon, layout=layout)  # type: ignore[arg-type]
    sidebar_navigation()


def sidebar_navigation() -> None:
    """Links to every page, "Home" first (Streamlit's own list would call the home page
    "streamlit app"; it is hidden by ``client.showSidebarNavigation = false`` in .streamlit/config.toml)."""
    from streamlit.errors import StreamlitAPIException

    with st.sidebar:
        for script, label, icon in existing_pages():
            try:
                st.page_link(script, label=label, icon=icon)
            except StreamlitAPIException:  # a page run on its own (AppTest) does not know the others
                log.debug("no page link to %s from this script", script)
        st.divider()


def existing_pages() -> list[tuple[str, str, str]]:
    """The pages of ``PAGES`` whose script exists (so a page link never points nowhere)."""
    from fer_core.settings import PROJECT_ROOT

    return [p for p in PAGES if (PROJECT_ROOT / p[0]).is_file()]


# ---------------------------------------------------------------- models
def _models() -> list[ModelInfo]:
    s = get_settings()
    return list_models(s.models_dir, s.default_model)


def sidebar_model_picker() -> Path:
    """The model chosen in the sidebar (shared by all pages via ``st.session_state["model_name"]``).

    Broken model folders are listed under the picker with their error, never selectable.
    When no model is usable the default path is returned; loading it then shows the error.
    """
    s = get_settings()
    models = _models()
    usable = [m for m in models if m.usable]
    broken = [m for m in models if not m.usable]
    names = [m.name for m in usable]
    with st.sidebar:
        if not names:
            st.error(f"No usable model in {s.models_dir}. Train one with `python -m fer_core.train` "
                     "or put a model folder (model.keras + model.json) there.")
            for m in broken:
                st.caption(f"⚠️ {m.error}")
            return s.models_dir / s.default_model
        current = st.session_state.get(MODEL_KEY)
        if current not in names:
            current = s.default_model if s.default_model in names else names[0]
        if st.session_state.get(PICKER_KEY) not in names:
            st.session_state.pop(PICKER_KEY, None)
        choice = st.selectbox("Model", names, index=names.index(current), key=PICKER_KEY,
                              help="The expression model every page uses. Models live in "
                                   f"{s.models_dir}.")
        st.session_state[MODEL_KEY] = choice
        if broken:
            with st.expander(f"{len(broken)} model folder(s) cannot be used"):
                for m in broken:
                    st.caption(f"**{m.name}**: {m.error}")
    return next(m.path for m in usable if m.name == choice)


def _stamp(model_dir: str | Path) -> tuple[float, float]:
    """Changes when the model or its card is rewritten, so the cache reloads it."""
    d = Path(model_dir)
    out = []
    for name in (MODEL_FILE, CARD_FILE):
        try:
            out.append((d / name).stat().st_mtime)
        except OSError:
            out.append(0.0)
    return (out[0], out[1])


@st.cache_resource(show_spinner="Loading the expression model…", max_entries=6)
def _classifier(model_dir: str, stamp: tuple[float, float]) -> Classifier:
    from fer_core.inference.classifier import get_classifier

    clf = get_classifier(model_dir)
    clf.warm_up()
    return clf


@st.cache_resource(show_spinner=False, max_entries=16)
def _detector(kind: str, haar: tuple[tuple[str, float], ...]) -> FaceDetector:
    from fer_core.inference.detection import make_detector

    return make_detector(kind, **dict(haar))


@st.cache_resource(show_spinner=False, max_entries=16)
def _pipeline(model_dir: str, detector: str, stamp: tuple[float, float],
              haar: tuple[tuple[str, float], ...]) -> Pipeline:
    from fer_core.inference.pipeline import Pipeline

    return Pipeline(_classifier(model_dir, stamp), _detector(detector, haar))


def cached_classifier(model_dir: str | Path) -> Classifier:
    """The process-wide classifier of a model folder (reloaded when its files change)."""
    key = str(Path(model_dir).resolve())
    return _classifier(key, _stamp(key))


def cached_pipeline(model_dir: str | Path, detector: str = "auto", **haar: float) -> Pipeline:
    """A pipeline shared by every session: cached model + cached detector (``haar``: scale_factor,
    min_neighbors, min_size overrides). Raises ``ModelError`` for a broken model folder."""
    key = str(Path(model_dir).resolve())
    return _pipeline(key, detector, _stamp(key), tuple(sorted(haar.items())))


def pipeline_or_stop(model_dir: str | Path, detector: str = "auto", **haar: float) -> Pipeline:
    """``cached_pipeline`` for a page: a model problem becomes an ``st.error`` and the page stops."""
    try:
        return cached_pipeline(model_dir, detector, **haar)
    except FerError as exc:
        st.error(f"The model cannot be used: {exc}")
        st.stop()
        raise  # unreachable; st.stop raises


def clear_model_caches() -> None:
    """Forget every cached model (after a model folder was deleted or replaced)."""
    _pipeline.clear()
    _classifier.clear()


def detector_choices() -> list[str]:
    """Detector kinds to offer: YuNet only when its ONNX file is present."""
    from fer_core.inference.detection import yunet_available

    return ["auto", "yunet", "haar"] if yunet_available() else ["auto", "haar"]


# ---------------------------------------------------------------- WebRTC
def _parse_ice(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, dict) and "iceServers" in value:
        value = value["iceServers"]
    if isinstance(value, dict):  # a single server
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) and "urls" in v for v in value):
        raise ValueError("expected a list of {urls, username?, credential?} objects")
    return {"iceServers": [dict(v) for v in value]}


def rtc_configuration() -> dict[str, Any]:
    """ICE servers for WebRTC: env ``FER_ICE_SERVERS`` (JSON), else secret ``ice_servers``, else none.

    No servers is right on one machine or a LAN; across the internet a STUN/TURN server is needed.
    """
    raw = get_settings().ice_servers_json.strip()
    source = "FER_ICE_SERVERS"
    value: Any = raw or None
    if value is None:
        try:
            if st.secrets.load_if_toml_exists():
                value = st.secrets.get("ice_servers")
                source = "secrets ice_servers"
        except Exception as exc:  # noqa: BLE001 - a broken secrets file must not stop the page
            log.warning("secrets could not be read: %s", exc)
    if value is None:
        return {"iceServers": []}
    try:
        return _parse_ice(value)  # type: ignore[return-value]
    except (ValueError, TypeError) as exc:
        log.warning("%s ignored (%s); using no ICE servers", source, exc)
        return {"iceServers": []}


# ---------------------------------------------------------------- small shared widgets
def probability_frame(probabilities: dict[str, float]) -> Any:
    """Class probabilities as a DataFrame (class, probability) in the model's order."""
    import pandas as pd

    return pd.DataFrame({"class": list(probabilities), "probability": [float(v) for v in probabilities.values()]})


def probability_chart(probabilities: dict[str, float], height: int | None = None,
                      title: str | None = None) -> alt.Chart:
    """A horizontal bar per class, the top class highlighted, scale fixed at 0–100 %.

    ``height`` defaults to room for every class name (Vega drops labels that overlap)."""
    if height is None:
        height = 40 + 24 * len(probabilities)
    import altair as alt

    df = probability_frame(probabilities)
    top = df["class"][df["probability"].idxmax()] if len(df) else None
    df["top"] = df["class"] == top
    order = list(probabilities)
    chart = (
        alt.Chart(df, title=title or alt.Undefined)
        .mark_bar()
        .encode(
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", title=None)),
            y=alt.Y("class:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.condition(alt.datum.top, alt.value("#2e9e4f"), alt.value("#9aa5b1")),
            tooltip=[alt.Tooltip("class:N"), alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=height)
    )
    return chart


def percent(value: float | None) -> str:
    """``0.873`` -> ``87%`` (``—`` for nothing)."""
    return "—" if value is None else f"{value:.0%}"


def label_line(prefix: str, label: str | None, score: float | None) -> str:
    """``<prefix>: happy (87%)``, or ``<prefix>: no face yet`` before any face was classified."""
    if label is None or score is None:
        return f"{prefix}: no face yet"
    return f"{prefix}: {label} ({score:.0%})"


def model_summary(card: Any) -> dict[str, str]:
    """The card's headline facts as label -> text (for the Home page and captions)."""
    metrics = getattr(card, "metrics", {}) or {}
    acc = next((m.get("accuracy") for m in metrics.values() if isinstance(m, dict) and "accuracy" in m), None)
    split = next((k for k, m in metrics.items() if isinstance(m, dict) and "accuracy" in m), None)
    training = getattr(card, "training", {})
    members = training.get("ensemble") if isinstance(training, dict) else None
    if isinstance(members, list) and members:
        backbone = f"{len(members)} × {card.backbone}, probabilities averaged"
    elif card.weights not in ("", "none"):
        backbone = f"{card.backbone} ({card.weights} weights)"
    else:
        backbone = card.backbone
    views = ["original"] + [t.replace("zoom:", "zoom ×") for t in getattr(card, "tta", []) if t != "hflip"]
    if "hflip" in getattr(card, "tta", []):
        views = [f"{v} + mirrored" for v in views]
    return {
        "Classes": ", ".join(card.class_names),
        "Backbone": backbone,
        "Input": f"{card.input_size[0]}×{card.input_size[1]} {card.color_mode}",
        "Test-time views": ", ".join(views),
        "Test accuracy": f"{acc:.1%} on {split}" if isinstance(acc, (int, float)) else "not evaluated yet",
    }


__all__ = [
    "APP_TITLE", "DETECTOR_LABELS", "MODEL_KEY", "PAGES", "cached_classifier", "cached_pipeline",
    "clear_model_caches", "detector_choices", "existing_pages", "model_summary", "percent",
    "pipeline_or_stop", "probability_chart", "probability_frame", "rtc_configuration", "setup_page",
    "sidebar_model_picker", "sidebar_navigation",
]


_preload_lock = threading.Lock()
_preloaded: set[str] = set()


def preload_model(model_dir: str | Path) -> None:
    """Import TensorFlow and load a model in a background thread, once per process.

    Why: the first page view must not wait for TensorFlow, yet the Live page should find the
    model ready. The thread touches no ``st.*``; the engine's process-wide cache holds the result,
    which ``cached_classifier`` then picks up at once.
    """
    if not get_settings().preload:
        return
    key = str(Path(model_dir).resolve())
    with _preload_lock:
        if key in _preloaded:
            return
        _preloaded.add(key)

    def work() -> None:
        try:
            from fer_core.inference.classifier import get_classifier

            get_classifier(key).warm_up()
            log.info("model %s preloaded", key)
        except Exception as exc:  # noqa: BLE001 - the page that needs the model reports the error itself
            log.warning("preloading %s failed: %s", key, exc)

    threading.Thread(target=work, name="fer-preload", daemon=True).start()
