"""Waiting for what happens by itself (the worker, timers, a server starting), with one
timeout policy for every test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Long enough for a machine that runs many suites at once; a passing wait returns at once.
WITHIN = 20.0
# Only things that are slow by nature (a PostgreSQL restore, a whole dev stack) wait longer.
SLOW = 120.0
EVERY = 0.05


def _holds(found: object) -> bool:
    return bool(found)


async def eventually(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool] = _holds,
    *,
    what: str = "",
    within: float = WITHIN,
) -> T:
    """What `read()` returns once `done` holds for it (truthy, by default); fails naming
    `what` and the last value read when it does not hold within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = await read()
        if done(found):
            return found
        assert time.monotonic() < deadline, f"still waiting for {what or 'a change'}: {found!r}"
        await asyncio.sleep(EVERY)
