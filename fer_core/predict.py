"""``python -m fer_core.predict IMAGE...``: one JSON line per image with its faces and expressions.

A file that cannot be read gets a one-line error on stderr; the others still run, and the
exit status is 1 when any file failed (2 when the model itself could not be loaded). No
traceback reaches the terminal: an unexpected failure is reported as one line too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings

from fer_core import cli
from fer_core.data.imageio import display_name, read_image
from fer_core.errors import FerError, one_line
from fer_core.inference.calibration import load_calibration
from fer_core.inference.pipeline import get_pipeline

log = logging.getLogger("fer_core.predict")


def _error(message: object) -> None:
    print(f"error: {one_line(message)}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", module=r"PIL\.")  # e.g. "Corrupt EXIF data": the image is still used
    p = argparse.ArgumentParser(prog=cli.prog("fer_core.predict"), description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="+", help="image files (jpg, png, webp, bmp, gif)")
    p.add_argument("--model", default=None, help="model directory or name under models/ (default: default)")
    p.add_argument("--detector", default=None, help="auto | yunet | haar")
    p.add_argument("--calibration", default=None,
                   help="a personal calibration file (python -m fer_core.calibrate) for this model")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--largest-only", action="store_true", help="classify only the largest face")
    how.add_argument("--whole", action="store_true",
                     help="each image is already a face crop: classify it whole, without detection")
    args = p.parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into `head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 1
    except Exception as exc:  # pragma: no cover - last resort: one line, details only with -v logging
        log.debug("unexpected failure", exc_info=True)
        _error(f"unexpected {type(exc).__name__}: {exc}")
        return 2


def _run(args: argparse.Namespace) -> int:

    try:
        calibration = load_calibration(args.calibration) if args.calibration else None
        pipe = get_pipeline(args.model, args.detector, calibration)
    except (FerError, ValueError, OSError) as exc:
        _error(exc)
        return 2
    failed = 0
    for name in args.images:
        try:
            image = read_image(name)
            faces = pipe.analyze(image, classify="whole" if args.whole else "largest" if args.largest_only else "all")
        except FerError as exc:
            _error(exc)
            failed += 1
            continue
        except Exception as exc:  # a bug on one file must not stop the others or print a traceback
            log.debug("%s failed", name, exc_info=True)
            _error(f"{display_name(name)}: could not be analysed ({type(exc).__name__}: {exc})")
            failed += 1
            continue
        record = {
            "file": name,
            "width": int(image.shape[1]),
            "height": int(image.shape[0]),
            "faces": [f.to_json() for f in faces],
        }
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
