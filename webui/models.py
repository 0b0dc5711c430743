"""Models in the app: the sidebar picker, the process-wide model caches, deleting a model folder.

Why: a model is loaded once per process (``st.cache_resource``) and shared by all browser sessions
and pages; the model chosen in the sidebar applies to every page. Importing this module loads no
TensorFlow: that happens when a classifier is first built.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import streamlit as st

from fer_core import model_folder
from fer_core.errors import FerError
from fer_core.inference.classifier import Classifier, get_classifier
from fer_core.inference.detection import FaceDetector, make_detector, yunet_available
from fer_core.inference.pipeline import Pipeline
from fer_core.owners import Space, visible_models
from fer_core.registry import ModelInfo, can_delete, delete_model, deletion_refusal
from fer_core.settings import get_settings
from webui.heap import settle_heap
from webui.owner import current_space

log = logging.getLogger(__name__)

MODEL_KEY = "model_name"  # the chosen model's name, shared by every page
PICKER_KEY = "model_picker"  # the sidebar widget (its own state is dropped on page switches)
DETECTOR_LABELS = {"auto": "Auto (YuNet when available)", "yunet": "YuNet", "haar": "Haar cascade"}


# ---------------------------------------------------------------- the sidebar picker
def all_models(space: Space | None = None) -> list[ModelInfo]:
    """The models this visit may use: the shipped ones (default first), then the owner's own."""
    return visible_models(space or current_space(), get_settings().default_model)


def sidebar_model_picker() -> Path:
    """The model chosen in the sidebar (shared by all pages via ``st.session_state["model_name"]``).

    Broken model folders are listed under the picker with their error, never selectable.
    When no model is usable the default path is returned; loading it then shows the error.
    """
    s = get_settings()
    models = all_models()
    usable = [m for m in models if m.usable]
    broken = [m for m in models if not m.usable]
    names = [m.name for m in usable]
    with st.sidebar:
        if not names:
            st.error(f"No usable model in {s.models_dir}. Train one with `python -m fer_core.train` "
                     "or put a model folder (model.keras + model.json) there.")
            for m in broken:
                st.caption(f"⚠️ {m.error}")
            try:
                return model_folder.model_dir_in(s.models_dir, s.default_model)
            except FerError:  # FER_DEFAULT_MODEL is no plain name: loading the folder itself says what is wrong
                return s.models_dir
        # MODEL_KEY is the one choice; the widget only mirrors it (set before it is drawn, every run), so
        # a value the browser still holds from another page or from before "Use … now" never wins.
        choice = st.session_state.get(MODEL_KEY)
        if choice not in names:  # none yet, or its model was deleted
            choice = s.default_model if s.default_model in names else names[0]
        st.session_state[MODEL_KEY] = st.session_state[PICKER_KEY] = choice
        st.selectbox("Model", names, key=PICKER_KEY, on_change=_picked,
                     help="The expression model every page uses.")
        if broken:
            with st.expander(f"{len(broken)} model folder(s) cannot be used"):
                for m in broken:
                    st.caption(f"**{m.name}**: {m.error}")
    return next(m.path for m in usable if m.name == choice)


def _picked() -> None:
    """The sidebar picker changed: that is the model of every page now."""
    st.session_state[MODEL_KEY] = st.session_state[PICKER_KEY]


def use_model(name: str) -> None:
    """Make ``name`` the model of every page: the shared choice and the sidebar picker's own state."""
    st.session_state[MODEL_KEY] = name
    st.session_state[PICKER_KEY] = name


def detector_choices() -> list[str]:
    """Detector kinds to offer: YuNet only when its ONNX file is present."""
    return ["auto", "yunet", "haar"] if yunet_available() else ["auto", "haar"]


# ---------------------------------------------------------------- cached models (one per process)
@st.cache_resource(show_spinner="Loading the expression model…", max_entries=6)
def _classifier(model_dir: str, stamp: tuple[float, float]) -> Classifier:
    clf = get_classifier(model_dir)
    clf.warm_up()
    settle_heap()  # Streamlit's after-run collections stop walking TensorFlow's objects
    return clf


@st.cache_resource(show_spinner=False, max_entries=16)
def _detector(kind: str, haar: tuple[tuple[str, float], ...]) -> FaceDetector:
    return make_detector(kind, **dict(haar))


@st.cache_resource(show_spinner=False, max_entries=16)
def _pipeline(model_dir: str, detector: str, stamp: tuple[float, float],
              haar: tuple[tuple[str, float], ...]) -> Pipeline:
    return Pipeline(_classifier(model_dir, stamp), _detector(detector, haar))


def cached_classifier(model_dir: str | Path) -> Classifier:
    """The process-wide classifier of a model folder (reloaded when its files change)."""
    key = str(Path(model_dir).resolve())
    return _classifier(key, model_folder.stamp(key))


def cached_pipeline(model_dir: str | Path, detector: str = "auto", **haar: float) -> Pipeline:
    """A pipeline shared by every session: cached model + cached detector (``haar``: scale_factor,
    min_neighbors, min_size overrides). Raises ``ModelError`` for a broken model folder."""
    key = str(Path(model_dir).resolve())
    return _pipeline(key, detector, model_folder.stamp(key), tuple(sorted(haar.items())))


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


_preload_lock = threading.Lock()
_preloaded: set[str] = set()


def preload_model(model_dir: str | Path) -> None:
    """Import TensorFlow and load a model in a background thread, once per process.

    Why: the first page view must not wait for TensorFlow, yet the Live page should find the
    model ready. The thread touches no ``st.*``; the engine's process-wide cache holds the result,
    which ``cached_classifier`` then picks up at once.
    """
    key = str(Path(model_dir).resolve())
    with _preload_lock:
        if key in _preloaded:
            return
        _preloaded.add(key)

    def work() -> None:
        try:
            get_classifier(key).warm_up()
            log.info("model %s preloaded", key)
        except Exception as exc:  # noqa: BLE001 - the page that needs the model reports the error itself
            log.warning("preloading %s failed: %s", key, exc)

    threading.Thread(target=work, name="fer-preload", daemon=True).start()


# ---------------------------------------------------------------- deleting (one rule: fer_core.registry)
def deletable_models(models: list[ModelInfo], space: Space | None = None) -> list[ModelInfo]:
    """The models a page may offer to delete: the owner's own, by ``fer_core.registry.can_delete``."""
    space = space or current_space()
    default = get_settings().default_model
    return [m for m in models if space.owns_model(m.path) and can_delete(m.name, default)]


def kept_models_note(models: list[ModelInfo], space: Space | None = None) -> str | None:
    """Why the other models are not offered: the words a refused deletion gives, one sentence each."""
    space = space or current_space()
    default = get_settings().default_model
    reasons = [r for r in (deletion_refusal(m.name, default) if space.owns_model(m.path) else
                           f"the model {m.name!r} is shared by everyone on this server and cannot be deleted"
                           for m in models) if r]
    return " ".join(f"{r[0].upper()}{r[1:]}." for r in reasons) or None


def delete_model_folder(name: str, space: Space | None = None) -> str | None:
    """Delete one of the owner's model folders by the one rule, then forget its cached copies and the
    sidebar's choice of it. Returns None when deleted, else why not (the rule's reason, or a path or
    folder problem); another owner's or a shared model is never found here.
    """
    s = get_settings()
    space = space or current_space()
    try:
        delete_model(space.models, name, default=s.default_model)
    except FerError as exc:
        return str(exc)
    clear_model_caches()
    if st.session_state.get(MODEL_KEY) == name:
        st.session_state.pop(MODEL_KEY, None)
        st.session_state.pop(PICKER_KEY, None)
    return None


__all__ = ["DETECTOR_LABELS", "MODEL_KEY", "PICKER_KEY", "all_models", "cached_classifier", "cached_pipeline",
           "clear_model_caches", "deletable_models", "delete_model_folder", "detector_choices", "kept_models_note",
           "pipeline_or_stop", "preload_model", "sidebar_model_picker", "use_model"]
