"""The top-level packages are this repository's, not PyPI's packages of the same names."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "name", ["engine", "api", "schema", "resolvers", "workers", "migrations", "templates"]
)
def test_package_resolves_into_this_repository(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == ROOT / name
