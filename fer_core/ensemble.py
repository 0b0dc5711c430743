"""``python -m fer_core.ensemble``: the command line; the engine lives in ``fer_core.training.ensemble``."""

from fer_core.training.ensemble import main

if __name__ == "__main__":
    raise SystemExit(main())
