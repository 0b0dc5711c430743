"""``python -m fer_core.train``: the command line; the engine lives in ``fer_core.training.trainer``."""

from fer_core.training.trainer import main

if __name__ == "__main__":
    raise SystemExit(main())
