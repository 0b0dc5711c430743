"""Teach: review your captured pictures, train a model on them in the background, manage your models.

Reviewing moves or deletes files under the capture root (``fer_core.data.curation``); training runs
as a process-wide background job (``fer_core.training.jobs``), so it goes on across reruns, pages and
browser tabs; the new model lands in ``models/<name>/`` and appears in the sidebar picker.
"""

import streamlit_webrtc  # noqa: F401  (must precede anything that may import tensorflow)

import json
import math
from pathlib import Path

import streamlit as st

from fer_core.data import curation
from fer_core.data.keep_classes import KeepPlan, find_source, plan_keep
from fer_core.errors import FerError
from fer_core.model_folder import is_model_folder, report_file
from fer_core.owners import MODELS, check_quota, folder_bytes, free_model_name
from fer_core.registry import inspect_model
from fer_core.settings import get_settings
from fer_core.training import jobs
from webui.charts import container_height, learning_curve_chart
from webui.model_text import SMALL_TEST, accuracy_text, headline_metric, interval_note, small_test_warning
from webui.models import (
    MODEL_KEY,
    all_models,
    deletable_models,
    delete_model_folder,
    kept_models_note,
    sidebar_model_picker,
    use_model,
)
from webui.navigation import setup_page
from webui.owner import current_space, owner_caption
from webui.teach import (
    comparison_lines,
    counts_chart,
    counts_chart_height,
    dropped_warning,
    early_stop_notes,
    flat_accuracy_note,
    job_line,
    keep_help,
    keep_label,
    keep_notes,
    kept_line,
    taken_label,
)

NEW_CLASS = "➕ New class…"
START_MODEL, START_IMAGENET = "model", "imagenet"
FLASH_KEY = "teach_flash"
JOB_KEY = "teach_job"
DELETE_SURE_KEY = "rev_delete_sure"
RERUN_KEY = "teach_rerun_app"

setup_page("Teach", icon="🎓")
model_dir = sidebar_model_picker()
settings = get_settings()
space = current_space()
root = space.captures
mine = space.owner.key  # jobs shown and touched: this owner's only, the machine's own user included

st.title("🎓 Teach it your expressions")
st.caption(owner_caption(space) + " Review them, then train a model that knows your expressions; it appears "
           "in the sidebar's model picker on every page.")

for kind, text in st.session_state.pop(FLASH_KEY, []):
    getattr(st, kind)(text)

# ---------------------------------------------------------------- counts and warnings
all_counts = curation.counts(root)
st.header("Your pictures", anchor=False)
if not all_counts:
    st.info("No pictures yet. Take some on the 📸 Capture page.")
else:
    left, right = st.columns([2, 3])
    with left:
        st.altair_chart(counts_chart(all_counts), width="stretch", height=counts_chart_height(len(all_counts)))
    with right:
        total = sum(n for c, n in all_counts.items() if c != curation.UNSORTED)
        st.markdown(f"**{total}** labelled pictures in **{len(curation.trainable_counts(all_counts))}** classes.")
        for warning in curation.balance_warnings(all_counts):
            st.warning(warning)


# ---------------------------------------------------------------- review grid
def _selected(cls: str, names: list[str]) -> list[str]:
    return [n for n in names if st.session_state.get(f"sel::{cls}::{n}")]


def _flash(kind: str, text: str) -> None:
    st.session_state.setdefault(FLASH_KEY, []).append((kind, text))


def _select_page(cls: str, names: list[str], value: bool) -> None:
    for n in names:
        st.session_state[f"sel::{cls}::{n}"] = value


def _keep_class(cls: str) -> None:
    """Stay on ``cls`` after its count changed.

    The class box's labels carry the counts ("unsorted (2)"), and a browser sends back the label it
    shows: a stale one matches no option and Streamlit falls back to the first class. Setting the
    value from here makes Streamlit push the fresh label to the browser.
    """
    st.session_state["rev_class"] = cls


def _move_selected(cls: str, names: list[str]) -> None:
    chosen = _selected(cls, names)
    target = st.session_state.get("rev_target")
    if target == NEW_CLASS:
        target = st.session_state.get("rev_target_new", "")
    if not chosen:
        _flash("warning", "Select pictures first.")
        return
    moved = 0
    try:
        for n in chosen:
            curation.move(root, cls, n, target or "")
            st.session_state.pop(f"sel::{cls}::{n}", None)
            moved += 1
    except (FerError, ValueError) as exc:
        _flash("error", f"Not moved: {exc}")
    if moved:
        _keep_class(cls)
        _flash("success", f"Moved {moved} picture(s) from {cls} to {curation.class_folder_name(target)}.")


def _delete_selected(cls: str, names: list[str]) -> None:
    chosen = _selected(cls, names)
    if not chosen:
        _flash("warning", "Select pictures first.")
        return
    if not st.session_state.get(DELETE_SURE_KEY):
        _flash("warning", f"Tick “Yes, delete them” to delete the {len(chosen)} selected picture(s) for good.")
        return
    st.session_state[DELETE_SURE_KEY] = False
    deleted = 0
    try:
        for n in chosen:
            curation.delete(root, cls, n)
            st.session_state.pop(f"sel::{cls}::{n}", None)
            deleted += 1
    except FerError as exc:
        _flash("error", f"Not deleted: {exc}")
    if deleted:
        _keep_class(cls)
        _flash("success", f"Deleted {deleted} picture(s) from {cls}.")


if all_counts:
    st.header("Review", anchor=False)
    classes = list(all_counts)
    c1, c2 = st.columns([3, 1])
    cls = c1.selectbox("Class", classes, key="rev_class", format_func=lambda c: f"{c} ({all_counts.get(c, 0)})")
    per_page = c2.selectbox("Per page", [12, 24, 48], index=1, key="rev_per_page")
    n_pages = max(1, math.ceil(all_counts.get(cls, 0) / per_page))
    page_no = st.pagination(n_pages, key=f"rev_page::{cls}::{per_page}") if n_pages > 1 else 1
    items = curation.list_items(root, cls, offset=(page_no - 1) * per_page, limit=per_page)
    names = [i.name for i in items]

    a1, a2, a3, a4, a5 = st.columns([1, 1, 2, 1, 1], vertical_alignment="bottom")
    a1.button("Select page", key="rev_all", on_click=_select_page, args=(cls, names, True))
    a2.button("Clear", key="rev_none", on_click=_select_page, args=(cls, names, False))
    targets = [c for c in classes if c not in (cls, curation.UNSORTED)] + [NEW_CLASS]
    target = a3.selectbox("Move selected to", targets, key="rev_target")
    if target == NEW_CLASS:
        a3.text_input("New class name", key="rev_target_new", max_chars=64)
    a4.button("Move", key="rev_move", on_click=_move_selected, args=(cls, names))
    a5.button("Delete", key="rev_delete", on_click=_delete_selected, args=(cls, names), type="primary")
    n_chosen = len(_selected(cls, names))
    if n_chosen:
        a5.checkbox("Yes, delete them", key=DELETE_SURE_KEY,
                    help=f"Deleting the {n_chosen} selected picture(s) cannot be undone.")

    cols = st.columns(6)
    for i, item in enumerate(items):
        with cols[i % 6]:
            st.image(str(item.path), width="stretch")
            st.checkbox(taken_label(item.mtime), key=f"sel::{cls}::{item.name}",
                        help="Tick to move or delete this picture." + (" Its whole camera frame is kept too."
                                                                      if item.frame else ""))
    st.caption(f"Page {page_no} of {n_pages}: {len(items)} of {all_counts.get(cls, 0)} pictures of {cls}, "
               "newest first.")

# ---------------------------------------------------------------- training
st.header("Train", anchor=False)
trainable = curation.trainable_counts(all_counts)
blocker = curation.training_blocker(all_counts)
running = jobs.active_job("train", mine)


def _keep_section() -> KeepPlan | None:
    """Which of the selected model's classes the captures lack, and the offer to keep them; the plan if taken."""
    card = inspect_model(model_dir).card  # the selected model: one folder read, not the whole list
    if card is None or not trainable or not curation.dropped_classes(list(card.class_names), all_counts):
        return None
    plan = plan_keep(card.class_names, all_counts, find_source(settings.dataset_path),
                     per_class=st.session_state.get("train_keep_n"))
    said = st.empty()  # filled once the checkbox below says whether the classes are kept
    keep = plan.kept and st.checkbox(keep_label(plan), value=True, key="train_keep", help=keep_help(plan))
    if keep:
        said.success(kept_line(model_dir.name, plan))
    else:
        said.warning(dropped_warning(model_dir.name, list(trainable), plan))
    if keep:
        st.number_input("Faces per kept class", min_value=1, max_value=1000, value=plan.per_class,
                        key="train_keep_n", help="By default about as many as you have pictures per class "
                                                 "(the median), at least 50 and at most 300.")
    for note in keep_notes(plan, settings.dataset_path):
        (st.info if plan.source is None else st.caption)(note)
    return plan if keep else None


keep_plan = _keep_section()
trained_names = {j.name for j in jobs.list_jobs("train", mine)}
if st.session_state.get("train_name", "") in trained_names | {""}:
    # the name of a training already started is used now: offer a free one, not "already exists" beside
    # "finished" (a name the user typed that is taken still gets that message when they press Start)
    st.session_state["train_name"] = free_model_name(
        space, busy={m.name for m in all_models()} | {j.name for j in jobs.list_jobs("train", mine) if j.active})
start = st.radio(
    "Start from", [START_MODEL, START_IMAGENET], key="train_start",
    format_func=lambda s: (f"the selected model ({model_dir.name}): nudge it towards your pictures"
                           if s == START_MODEL else "an ImageNet MobileNetV2 (colour, 96×96): learn from scratch"),
    help="Starting from the selected model keeps everything it knows and adjusts it gently with your pictures "
         "(best with few pictures). The ImageNet start learns expressions from your pictures alone and needs "
         "many of them.")
with st.form("train_form", enter_to_submit=False):
    name = st.text_input("Name of the new model", key="train_name", max_chars=64,
                         help="Letters, digits, dashes and underscores.")
    if start == START_MODEL:
        epochs = st.slider("Epochs", 1, 40, 10, key="train_epochs",
                           help="Rounds over your pictures. Each one moves the whole model a little; training "
                                "stops early when the held-out pictures stop getting better.")
        finetune = 0
    else:
        c1, c2 = st.columns(2)
        epochs = c1.slider("Head epochs", 1, 60, 20, key="train_epochs",
                           help="Epochs of the new output layers on frozen features (fast: features are "
                                "computed once).")
        finetune = c2.slider("Fine-tune epochs", 0, 20, 4, key="train_finetune",
                             help="Epochs with the top of the network opened (slower, usually better).")
    st.caption("A few hundred pictures take a few minutes. Training runs in the background: you can leave "
               "this page. A fifth of your pictures is held out to score the new model beside the one it "
               "started from.")
    submitted = st.form_submit_button("Start training", type="primary",
                                      disabled=blocker is not None or running is not None)
if blocker:
    st.info(blocker)
if running is not None and not submitted:
    st.caption(f"{job_line(running)}. One training of yours at a time; the server runs "
               f"{get_settings().max_training_jobs} at once and queues the rest.")
if submitted:
    try:
        check_quota(space, MODELS, adding=folder_bytes(model_dir))  # the new model: about the size of its start
        cfg = jobs.personal_config(root, name, start=start, init_model=str(model_dir),
                                   epochs=int(epochs), finetune_epochs=int(finetune), models_dir=space.models,
                                   keep=keep_plan)
        st.session_state[JOB_KEY] = jobs.start_training(cfg, owner=space.owner.key)
    except (FerError, ValueError) as exc:
        st.error(f"Cannot start: {exc}")
    else:
        st.rerun()  # the form shows the running job and refuses a second start


def _use_model(name: str) -> None:
    """Make ``name`` the model of every page, the sidebar's picker included; the job panel then reruns the
    whole page (the button sits in the panel, which alone would rerun, leaving the sidebar as it was)."""
    use_model(name)
    st.session_state[RERUN_KEY] = True


def _model_exists(result: str | None) -> bool:
    """Whether a finished training's model folder is still there (it may have been deleted below)."""
    return bool(result) and is_model_folder(str(result))


def _show_job(job_id: str) -> None:
    info = jobs.get_job(job_id)
    if info is None or info.owner != mine:  # another owner's job is never shown
        return
    st.subheader(f"Training {info.name}", anchor=False)
    if info.active:
        st.progress(info.progress, text=job_line(info))
        if st.button("Cancel training", key="train_cancel"):
            jobs.cancel(info.id, owner=mine)
    elif info.state == jobs.DONE and not _model_exists(info.result):
        st.info(f"{job_line(info)}. That model has been deleted since.")
        return
    elif info.state == jobs.DONE:
        chosen = st.session_state.get(MODEL_KEY) == info.name
        st.success(f"{job_line(info)}. " + (f"**{info.name}** is the model every page uses now." if chosen else
                   f"Pick **{info.name}** in the sidebar, or press the button, to use it on every page."))
        if not chosen:
            st.button(f"Use {info.name} now", key="train_use", on_click=_use_model, args=(info.name,))
    elif info.state == jobs.FAILED:
        st.error(job_line(info))
        if info.log_tail:
            with st.expander("Training log (last lines)"):
                st.code("\n".join(info.log_tail[-30:]), language=None)
    else:
        st.warning(job_line(info))
    if info.history:
        for col, metric in zip(st.columns(2), ("accuracy", "loss")):
            chart = learning_curve_chart(info.history, metric)
            col.altair_chart(chart, width="stretch", height=container_height(chart))
    if not info.active:
        for note in [*early_stop_notes(info), flat_accuracy_note(info.history)]:
            if note:
                st.caption(note)
    if info.state == jobs.DONE:
        _show_report(Path(info.result))


def _show_report(model: Path) -> None:
    path = report_file(model)
    if not path.is_file():
        return
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return
    compared = report.get("compared") if isinstance(report.get("compared"), dict) else None
    if compared:
        line, own_line, worse = comparison_lines(compared)
        start = compared.get("start_model") or "the starting model"
        if worse:
            st.warning(f"**The new model is worse than {start}** on these pictures. {line} Keep using "
                       f"{start}, or capture more varied pictures and train again.")
        else:
            st.success(line)
        if own_line:
            st.markdown(own_line)
    n = report.get("n")
    on = f"{report.get('split', 'held-out')} pictures"
    with st.expander("Details of the new model's score"):
        st.markdown(f"Accuracy: **{accuracy_text(float(report.get('accuracy', 0)), n, on)}** right, "
                    f"macro F1 {report.get('macro_f1', 0):.2f} (the mean of each class's F1 score, so rare "
                    "classes count as much as common ones).")
        if note := interval_note(report):
            st.caption(note)
    warning = small_test_warning(n)
    if warning:
        st.warning(warning)
    own = (compared or {}).get("own_classes") or list(curation.trainable_counts(curation.counts(root)))
    pairs = curation.confused_pairs(report, top=3, classes=set(own))
    if pairs:
        st.markdown("Your pictures it mixed up most:\n" + "\n".join(
            f"- **{p['true']}** taken for **{p['predicted']}**: {p['count']} time(s) "
            f"({p['share']:.0%} of {p['true']})" for p in pairs)
            + "\n\nCapture more varied pictures of these, or make the expressions more distinct.")
    else:
        st.markdown("None of your held-out pictures was mixed up.")


job_id = st.session_state.get(JOB_KEY)
if not any(j.id == job_id for j in jobs.list_jobs("train", mine)):
    # another tab or an earlier session of this owner started it: show their latest
    latest = jobs.list_jobs("train", mine)
    job_id = latest[0].id if latest else None
if job_id:
    current = jobs.get_job(job_id)
    live = current is not None and current.active

    @st.fragment(run_every=1.0 if live else None)
    def job_panel() -> None:
        if st.session_state.pop(RERUN_KEY, False):
            st.rerun(scope="app")  # "Use … now" changed the sidebar's model
        info = jobs.get_job(job_id)
        _show_job(job_id)
        if live and info is not None and not info.active:
            st.rerun()  # finished: refresh the whole page (model list, picker, form)

    job_panel()

# ---------------------------------------------------------------- models
def _delete_model(name: str) -> None:
    problem = delete_model_folder(name)
    if problem:
        _flash("error", problem)
        return
    st.session_state["del_sure"] = False
    _flash("success", f"Deleted the model {name}.")


st.header("Your models", anchor=False)
every_model = all_models()
models = deletable_models(every_model)
if not models:
    st.caption("No models of your own yet.")
else:
    rows = []
    for m in models:
        card = m.card
        head = headline_metric(card) if card else None
        rows.append({"model": m.name, "classes": ", ".join(card.class_names) if card else "—",
                     "backbone": card.backbone if card else "—",
                     "accuracy": head[1]["accuracy"] if head else None,
                     "tested on": head[1].get("n") if head else None,
                     "created": card.created if card else "", "problem": m.error or ""})
    st.dataframe(rows, hide_index=True, column_config={
        "accuracy": st.column_config.NumberColumn(format="percent"),
        "tested on": st.column_config.NumberColumn(help=f"pictures; under {SMALL_TEST} the accuracy is a rough hint"),
    })
    d1, d2, d3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    doomed = d1.selectbox("Delete a model", [m.name for m in models], key="del_model")
    sure = d2.checkbox(f"Yes, delete {doomed} for good", key="del_sure")
    d3.button("Delete model", key="del_go", disabled=not sure, on_click=_delete_model, args=(doomed,))
kept = kept_models_note(every_model)
if kept:
    st.caption(kept)
