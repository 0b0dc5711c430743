#!/usr/bin/env python3
"""Wait until a replica answers ``ok`` on ``/_stcore/health``: exit 0, or 1 after TIMEOUT seconds.

    deploy/wait_healthy.py 127.0.0.1:8601 [TIMEOUT=180]

Used by deploy/start_replicas.sh and the systemd unit's ExecStartPost; a monitor can run it with a short
timeout as a probe (Streamlit answers once the server runs, before any model is loaded).
"""

from __future__ import annotations

import sys
import time
import urllib.request


def healthy(address: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/_stcore/health", timeout=timeout) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"
    except OSError:
        return False


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    deadline = time.monotonic() + (float(argv[1]) if len(argv) > 1 else 180.0)
    while not healthy(argv[0]):
        if time.monotonic() >= deadline:
            return 1
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
