"""``python -m fer_core.evaluate``: the command line; the engine lives in ``fer_core.training.evaluation``."""

from fer_core.training.evaluation import main

if __name__ == "__main__":
    raise SystemExit(main())
