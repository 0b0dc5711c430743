"""A person's calibration in the app: "Calibrate to my face" on the live page, and the saved calibration that
the live, Capture and Video pages apply to their model.

Why: the model reads the average face; one person's expressions often land on the wrong class, always the
same way for that person. A second or two of each expression they make in front of their camera is enough to
fit a calibration (``fer_core.inference.calibration``) that moves the model towards what they mean.
Calibrations are kept beside the owner's captures (private like them), one per model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from fer_core.errors import FerError
from fer_core.inference.calibration import (
    Calibration,
    CalibrationError,
    fit_calibration,
    load_calibration,
    model_fingerprint,
)
from fer_core.inference.live import LiveProcessor
from fer_core.inference.pipeline import Pipeline
from fer_core.owners import Space
from webui.owner import current_space

log = logging.getLogger(__name__)

PROMPT_ORDER = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")
PROMPTS = {"neutral": "Relax your face: **neutral**", "happy": "Smile: **happy**", "surprise": "Look **surprised**",
           "sad": "Look **sad**", "angry": "Look **angry**", "disgust": "Look **disgusted**",
           "fear": "Look **afraid**", "contempt": "Look **contemptuous** (a one-sided smirk)"}
FACES_PER_EXPRESSION = 12  # labels of one held expression that go into the calibration (a second or two)
SETTLE_S = 1.5  # after each prompt, time to make the face before its labels count
RUN_KEY = "calibration_run"


# ---------------------------------------------------------------- the owner's saved calibration
def calibration_file(space: Space, model_dir: str | Path) -> Path:
    """Where ``space``'s owner keeps their calibration for the model in ``model_dir`` (beside their captures)."""
    return space.captures.parent / "calibrations" / f"{Path(model_dir).name}.json"


@dataclass
class Personal:
    """What to analyse with for this visitor and model: the model seen through their saved calibration when
    there is one that fits it, else the model as it is, and what to tell the user about it."""

    pipeline: Pipeline
    calibration: Calibration | None = None
    problem: str | None = None  # a saved calibration that cannot be used with this model, in a sentence

    @property
    def note(self) -> str | None:
        return None if self.calibration is None else self.calibration.describe()


def personal(pipeline: Pipeline, model_dir: str | Path, space: Space | None = None) -> Personal:
    """The visitor's calibration for this model, checked against it (another model's is not used)."""
    path = calibration_file(space or current_space(), model_dir)
    if not path.is_file():
        return Personal(pipeline)
    try:
        cal = load_calibration(path)
        return Personal(pipeline.with_calibration(cal), cal)  # refuses a calibration fit for another model
    except CalibrationError as exc:
        return Personal(pipeline, problem=f"Your calibration is not used: {exc}")


# ---------------------------------------------------------------- the live page's flow
@dataclass
class CalibrationRun:
    """One pass through the expressions: which one is prompted, and the model's output kept for each."""

    expressions: list[str]
    position: int = 0
    probs: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    since: float = field(default_factory=time.monotonic)
    collecting: bool = False

    @property
    def current(self) -> str | None:
        return self.expressions[self.position] if self.position < len(self.expressions) else None

    @property
    def kept(self) -> list[str]:
        """The expressions done so far, in prompt order."""
        return [e for e in self.expressions if e in set(self.labels)]

    def skip(self, processor: LiveProcessor | None) -> None:
        """On to the next expression (this one keeps what it had only if it was complete)."""
        if processor is not None:
            processor.collect(False)
        self.position += 1
        self.since, self.collecting = time.monotonic(), False

    def step(self, processor: LiveProcessor) -> float:
        """Take in what the processor kept for the prompted expression; its progress from 0 to 1.

        The first ``SETTLE_S`` after a prompt are not kept: the face is still changing.
        """
        expression = self.current
        if expression is None:
            return 1.0
        if not self.collecting:
            if time.monotonic() - self.since < SETTLE_S:
                return 0.0
            processor.collect(True)
            self.collecting = True
            return 0.0
        rows = processor.collected()
        if len(rows) < FACES_PER_EXPRESSION:
            return len(rows) / FACES_PER_EXPRESSION
        self.probs += rows[:FACES_PER_EXPRESSION]
        self.labels += [expression] * FACES_PER_EXPRESSION
        self.skip(processor)
        return 1.0


def start_run(class_names: list[str]) -> None:
    """Begin calibrating: every class of the model, in an order that starts with the easy ones."""
    ordered = [c for c in PROMPT_ORDER if c in class_names] + [c for c in class_names if c not in PROMPT_ORDER]
    st.session_state[RUN_KEY] = CalibrationRun(ordered)


def current_run() -> CalibrationRun | None:
    run = st.session_state.get(RUN_KEY)
    return run if isinstance(run, CalibrationRun) else None


def end_run() -> None:
    st.session_state.pop(RUN_KEY, None)


def fit_and_save(run: CalibrationRun, pipeline: Pipeline, model_dir: str | Path,
                 space: Space | None = None) -> Calibration:
    """Fit the calibration from a finished run and keep it for this owner and model (replacing any earlier)."""
    clf = pipeline.classifier
    cal = fit_calibration(np.stack(run.probs), run.labels, list(clf.class_names), model_name=Path(model_dir).name,
                          model_fingerprint=model_fingerprint(model_dir))
    path = calibration_file(space or current_space(), model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    cal.save(path)
    log.info("calibration saved: %d expressions, %d labels", len(cal.calibrated), len(run.labels))
    return cal


def forget(model_dir: str | Path, space: Space | None = None) -> None:
    """Remove this owner's calibration for the model."""
    calibration_file(space or current_space(), model_dir).unlink(missing_ok=True)


class CalibrationPanel:
    """Under the live video: the buttons to calibrate, skip, stop or reset, and the prompt with its progress.

    Made before the stream's processor (``pipeline`` says what it runs on); ``draw`` puts the buttons under the
    video once per script run, and ``step`` updates the prompt in place from the page's loop.
    """

    def __init__(self, pipeline: Pipeline, model_dir: str | Path) -> None:
        self.model_dir = model_dir
        self.plain = pipeline
        self.saved = personal(pipeline, model_dir)
        self.run = current_run()
        self.prompt: Any = None

    def draw(self, playing: bool) -> None:
        """The buttons (START calibrating only while the stream plays), the saved calibration's note, the prompt."""
        model_dir, names = self.model_dir, list(self.plain.classifier.class_names)
        if self.run is not None and not playing:
            end_run()  # the stream stopped mid-way: nothing half-done is kept
            self.run = None
        # every slot is drawn on every run, so no button of an earlier run lingers beside the playing video
        slots = [col.empty() for col in st.columns(3)]
        note = st.empty()
        if self.run is None:
            label = "Calibrate again" if self.saved.calibration else "Calibrate to my face"
            slots[0].button(label, key="calibrate_start", disabled=not playing, on_click=start_run, args=(names,),
                            help="Shows each expression in turn: make it and hold it for a second or two. "
                                 "The model then follows *your* way of making them. Press START first.")
            if self.saved.calibration is not None:
                slots[1].button("Reset calibration", key="calibrate_reset", on_click=forget, args=(model_dir,),
                                help="Back to the model as it is for everyone.")
                note.caption(f"Your labels are {self.saved.calibration.describe()}: only you see this "
                             "calibration.")
            elif self.saved.problem:
                note.info(self.saved.problem)
        else:
            slots[0].button("Skip", key="calibrate_skip", on_click=self._skip, help="Leave this expression out.")
            slots[1].button("Finish now", key="calibrate_finish", on_click=self._finish,
                            help="Fit from the expressions done so far (at least two); the rest stay as the "
                                 "model says.")
            slots[2].button("Cancel", key="calibrate_cancel", on_click=end_run)
        self.prompt = st.empty()

    def _skip(self) -> None:
        run = current_run()
        if run is not None:
            run.skip(None)

    def _finish(self) -> None:
        run = current_run()
        if run is not None:
            run.position = len(run.expressions)

    @property
    def pipeline(self) -> Pipeline:
        """What the stream should run on: the model as it is while calibrating, else through the calibration."""
        return self.plain if self.run is not None else self.saved.pipeline

    @property
    def note(self) -> str | None:
        return None if self.run is not None else self.saved.note

    def step(self, processor: LiveProcessor) -> str | None:
        """Advance a calibration in progress and show its prompt. Once every expression is done or skipped: fit,
        save, and return what to tell the user (the page then draws itself again with the calibration)."""
        run = self.run
        if run is None or self.prompt is None:
            return None
        progress = run.step(processor)
        if run.current is not None:
            with self.prompt.container():
                st.markdown(f"**{run.position + 1} of {len(run.expressions)}.** "
                            f"{PROMPTS.get(run.current, run.current)} and hold it.")
                st.progress(progress, text="Hold still…" if run.collecting else "Get ready…")
            return None
        end_run()
        processor.collect(False)
        if len(run.kept) < 2:
            return "Calibrating needs at least two expressions: nothing was changed."
        try:
            cal = fit_and_save(run, self.plain, self.model_dir)
        except (FerError, OSError) as exc:
            return f"The calibration could not be saved: {exc}"
        return f"Done: the labels are now {cal.describe()}."


def personal_caption(p: Personal) -> str | None:
    """A caption for pages that apply the saved calibration."""
    if p.calibration is not None:
        return f"Labels are {p.calibration.describe()}: made on the Live webcam page."
    return p.problem


__all__ = ["CalibrationPanel", "CalibrationRun", "Personal", "calibration_file", "fit_and_save", "forget",
           "personal", "personal_caption"]
