"""What a production API shows of itself: with introspection off, no schema through error
suggestions either; CORS only for the configured origins; /metrics where configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.embedded import free_port
from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import serve_app
from tests.kit.people import make_user

ORIGIN = "https://inbox.example.com"


@pytest.fixture(scope="module")
async def production(settings: Settings, worker: Any) -> AsyncIterator[str]:
    closed = settings.model_copy(
        update={
            "port": free_port(),
            "introspection": False,
            "cors_origins": [ORIGIN],
            "metrics_port": free_port(),
        }
    )
    async with serve_app(closed) as url:
        yield url


async def test_errors_name_no_field_of_the_schema_when_introspection_is_off(
    production: str, users: UserService
) -> None:
    async with httpx.AsyncClient(base_url=production, timeout=30) as http:
        caller = await GraphQLClient(http).login((await make_user(users)).username)
        for query in (
            "{ me { usernme } }",
            "{ tasks(filter: {status: [CREATD]}) { edges { cursor } } }",
            "{ tasks(fliter: {}) { edges { cursor } } }",
            "{ __schema { types { name } } }",
        ):
            errors = (await caller.raw(query))["errors"]
            for error in errors:
                assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", error
                assert "Did you mean" not in error["message"], error
                for hint in ("username", "CREATED", "filter"):
                    assert f"'{hint}'" not in error["message"], error


async def test_cors_answers_only_the_configured_origins(production: str, app_url: str) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    async with httpx.AsyncClient(timeout=30) as http:
        allowed = await http.options(
            f"{production}/graphql", headers={"origin": ORIGIN, **preflight}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == ORIGIN
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()

        other = await http.options(
            f"{production}/graphql", headers={"origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers

        posted = await http.post(
            f"{production}/graphql", json={"query": "{ __typename }"}, headers={"origin": ORIGIN}
        )
        assert posted.headers["access-control-allow-origin"] == ORIGIN

        # Closed by default: the test app lists no origin.
        closed = await http.options(f"{app_url}/graphql", headers={"origin": ORIGIN, **preflight})
        assert "access-control-allow-origin" not in closed.headers


async def test_metrics_leave_the_api_port_when_given_their_own(
    production: str, app_url: str
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(f"{production}/metrics")).status_code == 404
        served = await http.get(f"{app_url}/metrics")
        assert served.status_code == 200 and "flowdesk_graphql_operation_seconds" in served.text
