"""`python -m bench [SCENARIO ...]` (`make bench`): run the scenarios at their default sizes,
each in its own process, one after the other; results go to bench/results/<scenario>.json.

Flags of one scenario: `python -m bench.<scenario> --help`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

SCENARIOS = (
    "interpreter",
    "inbox",
    "growth",
    "live_events",
    "fanout",
    "engine_overhead",
    "many_open",
    "reports",
    "checkout",
)
ROOT = Path(__file__).resolve().parent.parent


def ensure_bench_requirements() -> None:
    """SpiffWorkflow and the profilers are bench-only: installed into this venv on first use."""
    try:
        import SpiffWorkflow  # noqa: F401
    except ImportError:
        requirements = ROOT / "bench" / "requirements.txt"
        print(f"installing bench-only requirements ({requirements.name})", flush=True)
        subprocess.check_call(
            [sys.executable, "-m", "pip", "install", "--quiet", "-r", str(requirements)]
        )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"any of {SCENARIOS}")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {SCENARIOS}")
    ensure_bench_requirements()
    failed = []
    for name in args.scenarios or SCENARIOS:
        began = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=ROOT)
        print(f"[{name}: exit {code} after {time.monotonic() - began:.0f}s]", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
