"""Pieces of the Capture and Teach pages: the per-session capture session, status texts, the class counts.

Why: the pages only lay out widgets; what they show (status lines, notes on a training, the
class counts) is built here so tests can check it without a browser. The learning curve is
``webui.charts.learning_curve_chart``, the same as on the Training metrics page.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from fer_core.capture import CaptureConfig, CaptureSession, CaptureStatus
from fer_core.data.keep_classes import KeepPlan
from fer_core.data.labels import label_line
from fer_core.training.jobs import CANCELLED, DONE, FAILED, QUEUED, JobInfo
from webui.charts import class_scale

SESSION_KEY = "capture_session"


def session_capture(state: Any, root: Path, pipeline: Any,
                    room: Callable[[int], None] | None = None) -> CaptureSession:
    """The browser session's ``CaptureSession`` (new when the capture root changed), on ``pipeline``;
    ``room`` checks the owner's quota before each save."""
    session = state.get(SESSION_KEY)
    if not isinstance(session, CaptureSession) or session.root != Path(root):
        session = CaptureSession(root, pipeline, CaptureConfig(), room=room)
        state[SESSION_KEY] = session
    else:
        session.set_pipeline(pipeline)
    return session


def suggestion_line(status: CaptureStatus) -> str:
    """``Suggestion: happy 87%`` or ``Suggestion: no face yet``."""
    return label_line("Suggestion", status.label, status.score)


def capture_lines(status: CaptureStatus) -> list[str]:
    """Progress of the current capture run in plain words."""
    lines = [f"Saved: {status.saved} / {status.target}" + (" (capturing)" if status.armed else "")]
    if status.armed and status.next_in is not None:
        lines.append(f"Next picture in {status.next_in:.1f} s")
    if status.message and status.message != "capturing":
        lines.append(f"Status: {status.message}")
    if status.per_class:
        lines.append("This session: " + ", ".join(f"{c} {n}" for c, n in sorted(status.per_class.items())))
    return lines


def counts_chart(counts: dict[str, int]) -> Any:
    """A bar per class folder in its class colour (``unsorted`` grey: it waits for a label)."""
    df = pd.DataFrame({"class": list(counts), "images": list(counts.values())})
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("images:Q", title=None, axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("class:N", sort=list(counts), title=None),
            color=alt.Color("class:N", scale=class_scale(counts), legend=None),
            tooltip=["class:N", "images:Q"],
        )
    )


def counts_chart_height(n_classes: int) -> int:
    """Pixels for ``counts_chart`` (Streamlit sizes Altair charts by the height it is given)."""
    return 40 + 30 * max(1, n_classes)


def early_stop_notes(info: JobInfo) -> list[str]:
    """``The head phase stopped after 4 of 5 epochs …`` for each phase that ran fewer epochs than asked."""
    notes = []
    for phase, planned in (info.meta.get("phase_epochs") or {}).items():
        ran = sum(1 for h in info.history if h.get("phase") == phase)
        if isinstance(planned, int) and 0 < ran < planned:
            notes.append(f"The {phase} phase stopped after {ran} of {planned} epochs: validation accuracy had "
                         "stopped improving (early stopping). The weights of its best epoch are kept.")
    return notes


def flat_accuracy_note(history: list[dict[str, Any]]) -> str | None:
    """Why a training accuracy that stays the same in every epoch of a phase is not a broken training.

    Found on 24 captures (19 to train, 5 to validate), batches of 32: each epoch is a single
    learning step, the fine-tune rate is low (1e-4, decaying), and an accuracy over 19 pictures only
    moves in steps of 5% when a picture changes side; so the figure can stay put for epochs.
    """
    by_phase: dict[str, list[float]] = {}
    for h in history:
        value = h.get("accuracy")
        if isinstance(value, (int, float)) and math.isfinite(value):
            by_phase.setdefault(str(h.get("phase", "")), []).append(round(float(value), 4))
    flat = [p for p, values in by_phase.items() if len(values) >= 3 and len(set(values)) == 1]
    if not flat:
        return None
    return (f"Training accuracy stayed at {by_phase[flat[0]][0]:.1%} through the {flat[0]} epochs. That is not a "
            "fault: with few pictures an epoch is only one or two small learning steps, and an accuracy over a "
            "handful of pictures only changes when one of them changes side. More pictures per class (or more "
            "epochs) give it room to move; judge the model by its validation figure below.")


def dropped_warning(model_name: str, trainable: list[str], plan: KeepPlan) -> str:
    """What a fine-tune on these captures alone loses, and the way to keep it (below, when a source lends faces)."""
    remedy = ("Capture pictures of those too, or keep them below." if plan.kept
              else "Capture pictures of those too to keep them.")
    return (f"Starting from **{model_name}**, the new model will know only your {len(trainable)} classes "
            f"({', '.join(trainable)}): it will no longer recognise {', '.join(plan.missing)}. {remedy}")


def kept_line(model_name: str, plan: KeepPlan) -> str:
    """What ticking "keep" gives: the new model still knows the starting model's other classes."""
    label = plan.source.label if plan.source is not None else "dataset"
    return (f"The new model keeps what **{model_name}** knows of {', '.join(plan.kept)}: the training borrows "
            f"{plan.per_class} {label} faces of each, beside your pictures.")


def taken_label(mtime: float) -> str:
    """A picture's checkbox: the time it was taken (``14:03:05``), which a person recognises; a file name
    means nothing to them. Short enough for one of six columns."""
    return time.strftime("%H:%M:%S", time.localtime(mtime)) if mtime > 0 else "picture"


def comparison_lines(compared: dict[str, Any]) -> tuple[str, str | None, bool]:
    """The new model beside the one it started from, on the same held-out pictures (``compare_models``):
    the line to show, a line on the user's own classes (or None), and whether the new model is worse."""
    start = str(compared.get("start_model") or "the starting model")
    models = compared.get("models") or {}
    new, old = models.get("new") or {}, models.get("start") or {}
    n, n_own = int(compared.get("n") or 0), int(compared.get("n_own") or 0)
    a_new, a_old = float(new.get("accuracy") or 0.0), float(old.get("accuracy") or 0.0)
    whose = (f" ({n_own} of yours, {n - n_own} borrowed faces of the classes you kept)" if 0 < n_own < n
             else "")
    line = (f"On the same {n} held-out pictures{whose}: the new model got **{a_new:.0%}** right, "
            f"**{start}** got **{a_old:.0%}**.")
    own_line = None
    o_new, o_old = new.get("own_accuracy"), old.get("own_accuracy")
    own = list(compared.get("own_classes") or [])
    if o_new is not None and o_old is not None and 0 < n_own < n:
        own_line = (f"On your own classes ({', '.join(own)}): new model {float(o_new):.0%}, "
                    f"{start} {float(o_old):.0%}.")
    return line, own_line, a_new < a_old


def keep_label(plan: KeepPlan) -> str:
    """The checkbox: ``Keep the starting model's other classes (adds 50 FER2013 faces of each)``."""
    label = plan.source.label if plan.source is not None else "dataset"
    return f"Keep the starting model's other classes (adds {plan.per_class} {label} faces of each)"


def keep_help(plan: KeepPlan) -> str:
    """Where the faces come from and where they go (a temporary copy; the captures are not touched)."""
    where = plan.source.label if plan.source is not None else "the dataset"
    return (f"The training gets, beside your pictures, up to {plan.per_class} faces of each of "
            f"{', '.join(plan.kept)}, drawn (always the same ones) from the Training split of {where}. They go "
            "into a temporary folder that is deleted when the training ends; your pictures are not touched.")


def keep_notes(plan: KeepPlan, dataset_path: Path | None) -> list[str]:
    """Why some (or all) of the dropped classes cannot be kept: the source lacks them, or there is no source."""
    if plan.source is None:
        where = "the face dataset is not on this machine" if dataset_path else "FER_DATASET_PATH is empty"
        return [f"No face dataset to borrow pictures of {', '.join(plan.missing)} from ({where}; FER2013 lives in "
                "`../shared` beside development checkouts, or point FER_DATASET_PATH at your own image folders). "
                "The new model is trained on your pictures only."]
    if plan.lacking:
        them = "it" if len(plan.lacking) == 1 else "them"
        return [f"{plan.source.label} has no faces of {', '.join(plan.lacking)}: the new model will not know "
                f"{them} unless you capture some."]
    return []


def job_line(info: JobInfo) -> str:
    """One line about a training job, e.g. ``Training mine: head epoch 3/8 (42 s)``."""
    took = f"{info.elapsed:.0f} s"
    if info.state == DONE:
        return f"Training {info.name}: finished in {took}"
    if info.state == FAILED:
        return f"Training {info.name}: failed after {took}: {info.error}"
    if info.state == CANCELLED:
        return f"Training {info.name}: cancelled after {took}"
    if info.state == QUEUED:
        ahead = f"{info.ahead} training(s) before yours" if info.ahead else "next"
        return f"Training {info.name}: waiting for a free slot, {ahead} ({took})"
    return f"Training {info.name}: {info.message} ({took})"


__all__ = ["SESSION_KEY", "capture_lines", "comparison_lines", "counts_chart", "counts_chart_height",
           "dropped_warning", "early_stop_notes", "flat_accuracy_note", "job_line", "keep_help", "keep_label",
           "keep_notes", "kept_line", "session_capture", "suggestion_line", "taken_label"]
