"""Running the Alembic migrations from code: `flowdesk migrate`, `flowdesk dev` and the tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

# The migrations folder sits beside this package, installed or not.
SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["database_url"] = database_url
    return config


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate to `revision`. Alembic's env runs its own event loop, so it runs in a thread."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)
