"""Every pace of the live and video paths in one place: how often frames are measured, labels refreshed,
the page redrawn, and how long the app waits before it gives up on something.

Why one module: these values work together (a readout refresh slower than the label rate hides labels; a
skip window shorter than one stall flashes a warning), so a change to one should be made beside the others.
Code reads them as ``timing.NAME`` at the time of use, so a test may change one for a run.
"""

from __future__ import annotations

# ---------------------------------------------------------------- the engine (live processor, video analyser)
REFERENCE_FPS = 30.0  # the smoothing factor is per frame at this rate; a video at another rate is scaled to it
DETECT_EVERY = 2  # the detector runs on every n-th frame at REFERENCE_FPS (boxes are held between)
CLASSIFY_INTERVAL_S = 0.1  # a video's face is classified at most this often (the result is held between)
FPS_FRAMES = 60  # the readout's FPS is measured over this many frames
SKIP_WINDOW_S = 5.0  # "frames skipped lately" looks this far back: longer than one stall, so a single burst of
# dropped frames does not read as a saturated server

# ---------------------------------------------------------------- the live page
LABEL_REFRESH_S = 0.1  # the readout's expression line follows the label on the boxes this closely
DETAILS_EVERY = 5  # counters and the probability chart every this many label refreshes: charts redrawn
# faster stall a busy browser
TIMELINE_EVERY = 20  # the last-minute chart every this many label refreshes
TIMELINE_S = 60.0  # the live page charts this many seconds
STOP_GRACE_S = 5.0  # a refused stream not reported stopped by then gets its buttons back anyway
STOP_POLL_S = 0.25  # how often the page redraws the "server is full" notice while it waits for that report
