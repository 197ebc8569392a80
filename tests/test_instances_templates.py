"""Each shipped template runs to an end through GraphQL on the real stack
(tests/template_scenarios.py), and its start refuses what its timers could not use.

Run with FLOWDESK_RECORD_HISTORIES=<folder> (tests/histories/record.py does) to save
the Temporal history of every instance a scenario runs, for tests/test_replay.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from api.auth.tokens import TokenIssuer
from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient, GraphQLError
from tests.template_scenarios import SCENARIOS, Scenario
from tests.template_stack import RECORD_INTO, TEMPLATE_NAMES, People, Stack, write_histories


@pytest.mark.parametrize(
    ("name", "variables"),
    [
        ("customer_complaint", {"sla": "2 days"}),
        ("contract_signing", {"signature_window": "P"}),
        ("invoice_approval", {"due_date": "2030-01-31"}),
        ("employee_offboarding", {"last_day_ends": "2030-01-31T17:00:00"}),
    ],
)
async def test_start_refuses_a_duration_or_timestamp_a_timer_could_not_use(
    stack: Stack, name: str, variables: dict[str, Any]
) -> None:
    """Refused by the variables' `pattern` at the start, not an incident at the timer."""
    definition = await stack.deploy(name)
    valids: dict[str, dict[str, Any]] = {
        "customer_complaint": {
            "customer": "c",
            "channel": "web",
            "summary": "s",
            "severity": "low",
            "sla": "P2D",
        },
        "contract_signing": {
            "counterparty": "c",
            "contract_title": "t",
            "signature_window": "P14D",
        },
        "invoice_approval": {
            "invoice_number": "1",
            "supplier": "s",
            "amount": 1,
            "currency": "EUR",
            "due_date": "2030-01-31T17:00:00Z",
        },
        "employee_offboarding": {
            "employee_name": "e",
            "username": "u",
            "last_day_ends": "2030-01-31T17:00:00+01:00",
            "resigned": False,
        },
    }
    valid = valids[name]
    _, caller = await stack.person()
    with pytest.raises(GraphQLError) as refused:
        await stack.start(definition, caller, **{**valid, **variables})
    [field_name] = variables
    assert refused.value.codes == ["BAD_USER_INPUT"]
    assert [f["field"] for f in refused.value.errors[0]["extensions"]["fields"]] == [field_name]


def test_every_template_has_a_scenario() -> None:
    covered = {param.id.split("-")[0] for param in SCENARIOS}
    assert covered == set(TEMPLATE_NAMES)


@pytest.fixture(scope="module")
def people(users: UserService, settings: Settings) -> People:
    return People(users, TokenIssuer(settings))


@pytest.fixture
async def stack(
    request: pytest.FixtureRequest, client: GraphQLClient, people: People, temporal: Client
) -> AsyncIterator[Stack]:
    async with contextlib.AsyncExitStack() as exits:
        stack = Stack(request.node.callspec.id, client, people, temporal, exits)
        yield stack
    if RECORD_INTO is not None:
        await asyncio.to_thread(write_histories, Path(RECORD_INTO), stack.histories)


@pytest.mark.parametrize("run", SCENARIOS)
async def test_template_runs_to_its_end(run: Scenario, stack: Stack) -> None:
    await run(stack)
