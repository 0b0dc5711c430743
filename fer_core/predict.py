"""``python -m fer_core.predict IMAGE...``: one JSON line per image with its faces and expressions.

A file that cannot be read gets a one-line error on stderr; the others still run, and the
exit status is 1 when any file failed (2 when the model itself could not be loaded).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from fer_core.errors import FerError


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m fer_core.predict", description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="+", help="image files (jpg, png, webp, bmp)")
    p.add_argument("--model", default=None, help="model directory or name under models/ (default: default)")
    p.add_argument("--detector", default=None, help="auto | yunet | haar")
    p.add_argument("--largest-only", action="store_true", help="classify only the largest face")
    args = p.parse_args(argv)

    from fer_core.imageio import read_image
    from fer_core.pipeline import get_pipeline

    try:
        pipe = get_pipeline(args.model, args.detector)
    except (FerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for name in args.images:
        try:
            image = read_image(name)
            faces = pipe.analyze(image, classify="largest" if args.largest_only else "all")
        except FerError as exc:
            print(f"error: {exc}", file=sys.stderr)
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
