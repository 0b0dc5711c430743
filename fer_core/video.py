"""``python -m fer_core.video``: the command line; the engine lives in ``fer_core.inference.video``."""

from fer_core.inference.video import main

if __name__ == "__main__":
    raise SystemExit(main())
