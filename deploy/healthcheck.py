"""The image's HEALTHCHECK: `flowdesk api` must answer on /healthz (or the path given).

The same image runs `flowdesk worker` and `flowdesk migrate`, which serve no HTTP: for them
the check passes while the process lives (Docker runs it only while the container runs).
Standard library only, so the image needs no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def serves_http() -> bool:
    """Whether the container's command is `flowdesk api` (PID 1 is flowdesk, or an init)."""
    try:
        with open("/proc/1/cmdline", "rb") as file:
            argv = file.read().split(b"\0")
    except OSError:
        return True
    return b"api" in argv


def main() -> int:
    if not serves_http():
        return 0
    path = sys.argv[1] if len(sys.argv) > 1 else "/healthz"
    port = os.environ.get("FLOWDESK_PORT", "8000")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
