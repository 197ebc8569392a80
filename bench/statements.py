"""Counting the SQL statements of one GraphQL request, as tests/test_inbox_statements.py does:
the app runs in this process (lifespan and all, over an ASGI transport) with a
`before_cursor_execute` listener on every SQLAlchemy engine."""

from __future__ import annotations

from typing import Any

import httpx

from api.app import create_app
from api.settings import Settings
from tests.test_inbox_statements import counting_statements


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
