"""Health, readiness and metrics endpoints, as a load balancer and Prometheus use them."""

from __future__ import annotations

import httpx

from api.services.users import UserService
from tests.client import GraphQLClient
from tests.factories import deploy, one_task, start
from tests.kit.people import as_user


async def test_health_and_readiness_answer(app_url: str) -> None:
    async with httpx.AsyncClient(base_url=app_url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "postgres": "ok", "redis": "ok", "temporal": "ok"}


async def test_metrics_count_operations_errors_and_transitions(
    app_url: str, client: GraphQLClient, users: UserService, unique: str
) -> None:
    async with httpx.AsyncClient(base_url=app_url) as http:
        await http.post("/graphql", json={"query": "{ me { id } }"})  # no token
        caller = await as_user(client, users, groups=[f"g-{unique}"])
        await start(caller, (await deploy(caller, one_task(group=f"g-{unique}")))["key"])
        text = (await http.get("/metrics")).text
    assert 'flowdesk_graphql_errors_total{code="UNAUTHENTICATED"}' in text
    assert (
        'flowdesk_graphql_operation_seconds_count{operation_type="mutation",outcome="ok"}' in text
    )
    transitions = [
        line for line in text.splitlines() if line.startswith("flowdesk_transitions_total ")
    ]
    assert transitions and float(transitions[0].split()[1]) >= 1
