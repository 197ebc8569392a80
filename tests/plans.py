"""Query plans as PostgreSQL runs a captured statement: the custom plan of the first
executions and the generic plan prepared statements switch to after five."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

PLAN_MODES = ("force_custom_plan", "force_generic_plan")


def literal(value: Any) -> str:
    """`value` as SQL, for EXECUTE of a statement prepared from a captured one."""
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    if isinstance(value, list):
        if value and isinstance(value[0], uuid.UUID):
            return "ARRAY[" + ", ".join(f"'{v}'" for v in value) + "]::uuid[]"
        return "ARRAY[" + ", ".join(f"'{v}'" for v in value) + "]::varchar[]"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


@asynccontextmanager
async def capturing(
    engine: AsyncEngine, wanted: Callable[[str], bool]
) -> AsyncIterator[list[tuple[str, tuple[Any, ...]]]]:
    """The statements (with their parameters) `engine` sends while inside, those `wanted`."""
    captured: list[tuple[str, tuple[Any, ...]]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if wanted(statement):
            captured.append((statement, tuple(parameters)))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)


async def plans(engine: AsyncEngine, statement: str, parameters: tuple[Any, ...]) -> dict[str, str]:
    """The plan of `statement` with `parameters` in each of PLAN_MODES."""
    found = {}
    async with engine.connect() as connection:
        await connection.exec_driver_sql(f"PREPARE planned AS {statement}")
        for mode in PLAN_MODES:
            await connection.exec_driver_sql(f"SET plan_cache_mode = {mode}")
            explain = f"EXPLAIN EXECUTE planned({', '.join(literal(p) for p in parameters)})"
            found[mode] = "\n".join(row[0] for row in await connection.exec_driver_sql(explain))
        # The connection goes back to the pool: leave it as it was.
        await connection.exec_driver_sql("DEALLOCATE planned")
        await connection.exec_driver_sql("RESET plan_cache_mode")
    return found
