"""Teach and Capture in a real browser, the paths a new user trips over (issue 13): review Move/Delete that
stays on its class, a new class named like a known word, training a tiny model and deleting it."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.captures import write_captures
from tests.e2e.support import exception_texts, main_text, open_app_page, single, wait_for_app, wait_for_text
from tests.e2e.test_capture import _new_class

TRAIN_TIMEOUT_S = 300  # a child process imports TensorFlow and fine-tunes the shipped model on a busy CPU


def _choose(page, label: str, option: str | re.Pattern) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    single(page.get_by_label(label, exact=True)).click()
    single(page.get_by_role("option", name=option)).click()
    wait_for_app(page)


def _tick(page, key: str) -> None:
    """Tick the checkbox of widget ``key`` (a review tick's label says when the picture was taken)."""
    wait_for_app(page)
    single(page.locator(f'.st-key-{re.sub(r"[^a-zA-Z0-9_-]", "-", key)} label')).click()
    wait_for_app(page)


def _shown(page, label: str) -> str:
    """What the selectbox labelled ``label`` shows (its value lives in the combobox input)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=re.compile(rf"^{re.escape(label)}"))
    return box.first.locator("input").input_value()


def _click_keyed(page, key: str, name: str, timeout: float = 15.0) -> None:
    """Click the button with widget ``key`` once the page shows exactly one (a rerun can briefly leave the
    previous run's copy beside the new one)."""
    wait_for_app(page)
    keyed = page.locator(f".st-key-{key} button")
    button = keyed if keyed.count() else page.get_by_role("button", name=name, exact=True)
    single(button, timeout).click()


def _no_problem(page) -> None:
    assert not exception_texts(page), exception_texts(page)
    assert not page.errors, page.errors


def test_review_move_and_delete_stay_on_the_class(page, app_server, astronaut, screenshot):
    root = Path(app_server.env["FER_CAPTURE_ROOT"])
    write_captures(root / "_review", astronaut, classes=("fear", "happy", "unsorted"), per_class=2)
    for cls in ("fear", "happy", "unsorted"):
        (root / "_review" / cls).rename(root / cls)
    open_app_page(page, app_server.url, "Teach")
    _no_problem(page)
    _choose(page, "Class", "unsorted (2)")
    _tick(page, "sel::unsorted::c0.jpg")
    _choose(page, "Move selected to", re.compile("New class"))
    box = page.get_by_label("New class name", exact=True)
    box.fill("sad")
    box.press("Enter")
    wait_for_app(page)
    _click_keyed(page, "rev_move", "Move")
    wait_for_text(page, r"Moved 1 picture\(s\) from unsorted to sad", timeout=30)
    wait_for_text(page, r"1 of 1 pictures of unsorted", timeout=30)
    # the box shows the fresh count; ticking the other picture keeps the class and the tick
    assert _shown(page, "Class") == "unsorted (1)"
    _tick(page, "sel::unsorted::c1.jpg")
    assert "1 of 1 pictures of unsorted" in main_text(page) and _shown(page, "Class") == "unsorted (1)"
    _click_keyed(page, "rev_delete", "Delete")  # not yet: deleting asks for a tick first
    wait_for_text(page, r"Tick “Yes, delete them” to delete the 1 selected picture", timeout=30)
    assert len(list((root / "unsorted").glob("*.jpg"))) == 1
    _tick(page, "rev_delete_sure")
    _click_keyed(page, "rev_delete", "Delete")
    wait_for_text(page, r"Deleted 1 picture\(s\) from unsorted", timeout=30)
    assert "Select pictures first" not in main_text(page)
    _no_problem(page)
    assert len(list((root / "sad").glob("*.jpg"))) == 1 and not list((root / "unsorted").glob("*.jpg"))
    assert len(list((root / "fear").glob("*.jpg"))) == 2
    screenshot(page, "teach_review")


def test_a_new_class_named_smile_is_its_own(page, app_server):
    root = Path(app_server.env["FER_CAPTURE_ROOT"])
    open_app_page(page, app_server.url, "Capture")
    _no_problem(page)
    assert "Choose a class" in main_text(page)  # nothing preselected
    _new_class(page, "smile")
    wait_for_text(page, "Pictures go to your smile pictures", timeout=30)
    assert "your happy pictures" not in main_text(page) and str(root) not in main_text(page)
    box = page.get_by_label("New class name", exact=True)
    box.fill("Happiness")
    box.press("Enter")
    wait_for_app(page)
    wait_for_text(page, r"another spelling of happy", timeout=30)
    wait_for_text(page, "Pictures go to your happy pictures", timeout=30)
    _no_problem(page)


def _slider_to_min(page, label: str) -> None:
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text=label).get_by_role("slider")
    thumb.focus()
    thumb.press("Home")


def _go_to(page, label: str) -> None:
    """Open another page through the sidebar's link (a new URL would start a new session)."""
    single(page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').get_by_role("link", name=label)).click()
    page.wait_for_timeout(500)
    wait_for_app(page)


def _training_lines(page, name: str, timeout: float) -> set[str]:
    """The status lines of ``name``'s training until it finished."""
    lines: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = main_text(page)
        lines.update(re.findall(rf"Training {name}: [^\n]*", text))
        if f"Training {name}: finished" in text:
            return lines
        page.wait_for_timeout(500)
    raise AssertionError(f"no finished training; lines seen: {sorted(lines)}")


def test_train_a_model_use_it_then_delete_it(page, app_server, astronaut, screenshot):
    """What a first training must feel like: Enter in the name box does not start it; the result is scored
    beside the model it started from; "Use … now" changes the sidebar and Training metrics; the name box then
    offers a free name (no "already exists" beside "finished"); deleting the model puts the sidebar and
    "Start from" back on the default."""
    root = Path(app_server.env["FER_CAPTURE_ROOT"])
    write_captures(root, astronaut, classes=("happy", "sad", "wink"), per_class=8)
    open_app_page(page, app_server.url, "Teach")
    _no_problem(page)
    name = page.get_by_label("Name of the new model", exact=True)
    name.fill("e2e_tiny")
    name.press("Enter")
    page.wait_for_timeout(1500)
    wait_for_app(page)
    assert "Training e2e_tiny" not in main_text(page), "Enter started a training"
    _slider_to_min(page, "Epochs")
    keep = page.get_by_text(re.compile(r"Keep the starting model's other classes"))
    if keep.count():  # a face dataset is at hand (../shared): the offer to keep the classes the captures lack
        assert "no longer recognise" not in main_text(page)  # ticked: it says what is kept instead
        keep.first.scroll_into_view_if_needed()
        screenshot(page, "teach_keep")
    single(page.get_by_role("button", name="Start training")).click()
    try:
        lines = _training_lines(page, "e2e_tiny", TRAIN_TIMEOUT_S)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{app_server.log_tail()}") from None
    running = {line for line in lines if "finished" not in line}
    assert len(running) >= 2, lines  # the status line moves while it trains
    wait_for_app(page)
    _no_problem(page)
    text = main_text(page)
    assert re.search(r"On the same \d+ held-out pictures.*the new model got \d+% right, default got \d+%", text), \
        text[-2000:]
    assert "already exists" not in text
    assert page.get_by_label("Name of the new model", exact=True).input_value() != "e2e_tiny"
    page.get_by_role("heading", name="Training e2e_tiny").evaluate("h => h.scrollIntoView({block: 'start'})")
    screenshot(page, "teach_trained")  # the curves and the comparison with the starting model

    # "Use e2e_tiny now": the sidebar, and every page, use it
    assert _shown(page, "Model") == "default"
    use = page.get_by_role("button", name="Use e2e_tiny now")
    single(use).click()
    wait_for_text(page, r"e2e_tiny is the model every page uses now", timeout=30)
    wait_for_app(page)
    assert _shown(page, "Model") == "e2e_tiny"
    _go_to(page, "Training metrics")  # through the sidebar, as a user does: the same session
    wait_for_text(page, r"How well a model names expressions", timeout=30)
    assert _shown(page, "Model") == "e2e_tiny"
    assert page.get_by_role("heading", name="e2e_tiny").count() == 1
    _go_to(page, "Teach")
    wait_for_text(page, r"Your models", timeout=30)
    assert _shown(page, "Model") == "e2e_tiny"

    # delete it: the sidebar and "Start from" go back to the default, the panel no longer offers it
    assert _shown(page, "Delete a model") == "e2e_tiny"  # the only model of one's own
    single(page.get_by_text("Yes, delete e2e_tiny for good")).click()
    wait_for_app(page)
    single(page.get_by_role("button", name="Delete model")).click()
    wait_for_text(page, r"Deleted the model e2e_tiny", timeout=30)
    wait_for_text(page, r"That model has been deleted since", timeout=30)
    wait_for_app(page)
    assert _shown(page, "Model") == "default"
    assert "the selected model (default)" in main_text(page)
    assert page.get_by_role("button", name="Use e2e_tiny now").count() == 0
    _no_problem(page)
    screenshot(page, "teach_deleted")
