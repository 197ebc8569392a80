"""The process definitions Flowdesk ships (README.md here describes them), kept as package
data so that an installed Flowdesk finds them wherever it is installed."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any


def documents() -> list[dict[str, Any]]:
    """Every shipped definition, in file-name order: the order `flowdesk dev` deploys them
    in, which puts a called definition (`due_diligence`) before its caller. The JSON Schema
    of the format is in a subfolder, out of this glob's way."""
    folder = files(__name__)
    paths = sorted((p for p in folder.iterdir() if p.name.endswith(".json")), key=lambda p: p.name)
    return [json.loads(path.read_bytes()) for path in paths]
