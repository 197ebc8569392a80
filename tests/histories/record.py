"""Record the Temporal histories that tests/test_replay.py replays. Run by hand:

    .venv/bin/python tests/histories/record.py

It runs every scenario of tests/template_scenarios.py on the real stack (as `make test`
would: the machine's PostgreSQL and Redis, or embedded ones, and a Temporal dev server)
with FLOWDESK_RECORD_HISTORIES pointing here, after removing the histories recorded
before. Each completed instance leaves `<template>-<case>.json` (Temporal's JSON history
format, `WorkflowHistory.to_json()`), and each child instance of a call activity
`<template>-<case>.<child template>.json`. Commit the files.

Record again when a template or a scenario changes, never to make a replay failure go
away: a history that no longer replays means the workflow code changed what a running
instance would do, and that change needs `workflow.patched` instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def main() -> int:
    for old in HERE.glob("*.json"):
        old.unlink()
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_instances_templates.py",
        "-k",
        "test_template_runs_to_its_end",
    ]
    env = {**os.environ, "FLOWDESK_RECORD_HISTORIES": str(HERE)}
    code = subprocess.call(command, cwd=ROOT, env=env)
    recorded = sorted(path.name for path in HERE.glob("*.json"))
    print(f"{len(recorded)} histories in {HERE}", *recorded, sep="\n  ")
    return code


if __name__ == "__main__":
    sys.exit(main())
