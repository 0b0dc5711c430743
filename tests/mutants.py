#!/usr/bin/env python3
"""Mutation check: break the product on a throwaway copy, one way at a time, and see the tests fail.

    .venv/bin/python tests/mutants.py            # every mutant below
    .venv/bin/python tests/mutants.py negative   # one (or several) by name
    .venv/bin/python tests/mutants.py --list

Each mutant is a text replacement in one file of a copy of this checkout (``/tmp/fer-mutants/<name>/``,
``.venv`` linked, ``../shared`` linked beside it, so the copy finds what the checkout finds). The tests
named with it then run on the copy: the mutant is **killed** when they fail, **survives** when they pass,
and is **stale** when its text is no longer in the file (the code moved on: update the mutant).
The checkout itself is never changed. docs/testing.md lists what each mutant breaks and its killer.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("FER_MUTANTS_DIR", "/tmp/fer-mutants"))
SKIP = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".pytest_cache", "captures", "owners", "artifacts",
                              "runs", "gpu_out", ".carry")


@dataclass(frozen=True)
class Mutant:
    name: str
    breaks: str  # what a user would see
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS = [
    Mutant("negative", "the classifier is fed a photographic negative of each face",
           "fer_core/inference/classifier.py",
           "batch = np.stack([convert_face(c, self.card.input_size, self.card.color_mode) for c in crops])",
           "batch = 255 - np.stack([convert_face(c, self.card.input_size, self.card.color_mode) for c in crops])",
           ("tests/inference/test_truth.py",)),
    Mutant("negative-crop", "the pipeline hands the model a negative of each detected face (not of dataset faces)",
           "fer_core/inference/pipeline.py",
           "return crop_face(image, face.box, self.detector, self.margin)",
           "return 255 - crop_face(image, face.box, self.detector, self.margin)",
           ("tests/inference/test_truth.py", "-k", "photo")),
    Mutant("video-no-reset", "a stream's smoothing never resets: a new face inherits the lost face's expression",
           "fer_core/inference/stream.py",
           "        self.reset()\n        self._missing = self.options.lost_after\n",
           "        self._missing = self.options.lost_after\n",
           ("tests/inference/test_video.py", "-k", "smoothing or short_loss")),
    Mutant("forwarded-false", "a visit through a proxy counts as the machine's own user (sees its captures)",
           "webui/owner.py",
           "    forwarded = any((_header(h) or \"\").strip() for h in FORWARD_HEADERS)",
           "    forwarded = False",
           ("tests/e2e/test_proxied_owner.py",)),
    Mutant("upload-limit", "the engine's default upload limit is a hundredfold Streamlit's",
           "fer_core/settings.py", "max_upload_mb: int = 25", "max_upload_mb: int = 2500",
           ("tests/app/test_truth_upload.py", "-k", "limit")),
    Mutant("tag-number", "numbered tags on a photo name the wrong face (#0, #1 instead of #1, #2)",
           "fer_core/inference/draw.py", 'text = f"#{i + 1} {text}" if text else f"#{i + 1}"',
           'text = f"#{i} {text}" if text else f"#{i}"',
           ("tests/inference/test_draw.py",)),
    Mutant("gray-bgr", "colour photos are turned grey as if they were BGR (red and blue swapped)",
           "fer_core/inference/preprocess.py", "cv2.COLOR_RGB2GRAY", "cv2.COLOR_BGR2GRAY",
           ("tests/inference/test_preprocess.py", "tests/inference/test_classifier.py")),
    Mutant("no-normalise", "the card's normalisation is ignored (pixels 0-255 instead of 0-1)",
           "fer_core/inference/classifier.py", "return self.card.normalization.apply(batch)",
           "return batch.astype(np.float32)",
           ("tests/inference/test_classifier.py",)),
    Mutant("batch-drops-rows", "a video analysed in batches loses the frames of its last batch",
           "fer_core/inference/video.py", "    analyser.flush()\n", "\n",
           ("tests/inference/test_video.py", "-k", "batching")),
    Mutant("unreadable-crash", "a file the server may not read crashes the reader instead of a one-line refusal",
           "fer_core/data/imageio.py", "    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name",
           "    except ValueError as exc:  # ValueError: a NUL byte in the name",
           ("tests/data/test_imageio.py",)),
    Mutant("capture-stream-moves", "choosing a class on Capture while the camera plays stops the camera",
           "pages/5_Capture.py", '    target.info("Choose a class', '    st.info("Choose a class',
           ("tests/e2e/test_capture.py", "-k", "keeps_it_playing")),
    Mutant("session-cookie", "captures and models vanish when the browser is closed and opened again",
           "fer_core/owner_cookie.py", "Path=/; Max-Age={max_age}; ", "Path=/; ",
           ("tests/e2e/test_privacy.py", "-k", "keeps_its_cookie")),
    Mutant("use-model-widget", "after \"Use X now\" the sidebar and the other pages keep the old model",
           "webui/models.py", "    st.session_state[MODEL_KEY] = name\n", "",
           ("tests/e2e/test_teach.py", "-k", "use_it_then_delete")),
    Mutant("enter-trains", "Enter in the model's name box starts a training",
           "pages/6_Teach.py", "enter_to_submit=False", "enter_to_submit=True",
           ("tests/e2e/test_teach.py", "-k", "use_it_then_delete")),
    Mutant("delete-unasked", "Delete removes the ticked pictures without asking",
           "pages/6_Teach.py", "    if not st.session_state.get(DELETE_SURE_KEY):", "    if False:",
           ("tests/e2e/test_teach.py", "-k", "review_move_and_delete")),
    Mutant("bars-own-palette", "the probability and share-of-time bars colour classes otherwise than the timeline",
           "webui/charts.py", 'color=alt.Color("class:N", scale=class_scale(df["class"]), legend=None)',
           'color=alt.Color("class:N", legend=None)', ("tests/e2e/test_video.py",)),
    Mutant("timeline-own-palette", "the live page's last-minute timeline colours classes otherwise than its bars",
           "webui/video.py", "    colors = class_scale([*class_names, NO_FACE])",
           '    colors = alt.Scale(scheme="category10")', ("tests/e2e/test_live.py",)),
    Mutant("long-chart-title", "beside another model, a learning curve's title is cut at the column's edge",
           "webui/charts.py", 'f"{metric.capitalize()} per epoch, each network"',
           'f"{metric.capitalize()} per epoch, each network of the ensemble"',
           ("tests/e2e/test_pages.py", "-k", "small_window")),
    Mutant("box-always-green", "the box on the video stays green whatever the expression the charts colour",
           "fer_core/inference/draw.py", "return class_rgb(label) if label else GREEN", "return GREEN",
           ("tests/inference/test_draw.py",)),
]


def prepare(m: Mutant) -> Path | None:
    """A fresh copy with ``m`` applied; None when its text is not in the file exactly once (stale)."""
    home = WORK / m.name
    shutil.rmtree(home, ignore_errors=True)
    copy = home / "checkout"
    shutil.copytree(ROOT, copy, ignore=SKIP, symlinks=True)
    (copy / ".venv").symlink_to((ROOT / ".venv").resolve())
    shared = ROOT.parent / "shared"
    if shared.exists():
        (home / "shared").symlink_to(shared.resolve())
    target = copy / m.path
    text = target.read_text()
    if text.count(m.old) != 1:
        return None
    target.write_text(text.replace(m.old, m.new))
    return copy


def run(m: Mutant) -> tuple[str, str]:
    copy = prepare(m)
    if copy is None:
        return "STALE", f"{m.path}: the text to replace is not there exactly once"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([str(copy / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-x", *m.tests], cwd=copy, env=env, capture_output=True, text=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.M)
    if proc.returncode == 1 and failed:
        return "killed", failed[0]
    if proc.returncode == 0:
        return "SURVIVED", proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    return "ERROR", (proc.stdout + proc.stderr).strip()[-600:]


def main(argv: list[str]) -> int:
    if "--list" in argv:
        for m in MUTANTS:
            print(f"{m.name:20} {m.breaks}")
        return 0
    chosen = [m for m in MUTANTS if not argv or m.name in argv]
    worst = 0
    for m in chosen:
        verdict, detail = run(m)
        print(f"{m.name:20} {verdict:9} {detail}", flush=True)
        worst = max(worst, 0 if verdict == "killed" else 1)
        shutil.rmtree(WORK / m.name, ignore_errors=True)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
