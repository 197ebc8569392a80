"""Counting the SQL statements of one GraphQL request (tests/test_inbox_statements.py
asserts on them): the app runs in this process (lifespan and all, over an ASGI
transport) with a `before_cursor_execute` listener on every SQLAlchemy engine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

from api.app import create_app
from api.settings import Settings


@contextlib.contextmanager
def counting_statements() -> Iterator[list[str]]:
    """The statements every SQLAlchemy engine of this process runs while open."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        # The caller's groups and roles are read when the principal cache has expired,
        # which depends on the clock, not on the page.
        if "array_agg(memberships.group_key)" not in args[2]:
            statements.append(args[2])

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


async def statements_per_request(
    settings: Settings, token: str, query: str, variables: list[dict[str, Any]]
) -> list[int]:
    """The statements each request costs, one request per `variables` entry."""
    app = create_app(settings)
    counts = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {token}"},
        ) as http,
    ):
        for values in variables:
            with counting_statements() as statements:
                response = await http.post("/graphql", json={"query": query, "variables": values})
            body = response.json()
            if body.get("errors"):
                raise AssertionError(body["errors"])
            counts.append(len(statements))
    return counts
