"""startProcess and processInstance: a start that is refused leaves no instance row and no
workflow behind; an instance is read by those it concerns only."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import func, select
from strawberry.relay import GlobalID
from temporalio.client import Client

from api.db import SessionMaker
from api.models import ProcessInstance
from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient, GraphQLError
from tests.factories import deploy, instance, one_task, start, template
from tests.kit.people import as_user
from tests.kit.waiting import eventually

START = """
mutation($k: String!, $v: Int, $vars: JSON) {
  startProcess(key: $k, version: $v, variables: $vars) { id status definition { version } }
}
"""

INSTANCE = "query($id: ID!) { processInstance(id: $id) { id status businessKey } }"


@pytest.fixture
async def caller(client: GraphQLClient, users: UserService) -> GraphQLClient:
    return await as_user(client, users)


def pk(global_id: str) -> uuid.UUID:
    return uuid.UUID(GlobalID.from_id(global_id).node_id)


async def start_error(client: GraphQLClient, variables: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(GraphQLError) as refused:
        await client.execute(START, variables)
    [error] = refused.value.errors
    return error


async def instance_count(sessions: SessionMaker, definition_gid: str) -> int:
    async with sessions() as session:
        count = await session.exec(
            select(func.count())
            .select_from(ProcessInstance)
            .where(ProcessInstance.definition_id == pk(definition_gid))
        )
        return count.one()


async def workflows_started_since(temporal: Client, settings: Settings, since: datetime) -> int:
    query = (
        f'WorkflowType = "ProcessWorkflow" AND TaskQueue = "{settings.task_queue}" '
        f'AND StartTime >= "{since.isoformat()}"'
    )
    return (await temporal.count_workflows(query)).count


async def test_an_unknown_key_is_not_found(caller: GraphQLClient) -> None:
    error = await start_error(caller, {"k": f"nothing_{uuid.uuid4().hex[:8]}"})
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_an_unknown_version_is_not_found(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    definition = await deploy(caller, one_task())
    error = await start_error(caller, {"k": definition["key"], "v": 2})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await instance_count(sessions, definition["id"]) == 0


@pytest.mark.parametrize(
    ("variables", "fields"),
    [
        ({"days": 0}, ["days"]),
        ({}, ["days"]),
        ({"days": "two", "reason": "r" * 501}, ["days", "reason"]),
        ({"days": 61, "reason": 7}, ["days", "reason"]),
    ],
    ids=["too-few-days", "days-missing", "two-wrong-types", "too-many-days-and-bad-reason"],
)
async def test_variables_failing_the_definitions_schema_are_refused_naming_each_field(
    caller: GraphQLClient,
    sessions: SessionMaker,
    temporal: Client,
    settings: Settings,
    variables: dict[str, Any],
    fields: list[str],
) -> None:
    definition = await deploy(caller, template("leave_request"))
    since = datetime.now(UTC)

    error = await start_error(caller, {"k": definition["key"], "vars": variables})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [f["field"] for f in error["extensions"]["fields"]] == fields
    assert all(f["message"] for f in error["extensions"]["fields"])
    assert await instance_count(sessions, definition["id"]) == 0
    assert await workflows_started_since(temporal, settings, since) == 0


async def test_a_valid_start_is_seen_by_the_same_checks(
    caller: GraphQLClient, sessions: SessionMaker, temporal: Client, settings: Settings
) -> None:
    """The checks above would notice a start: one row and one workflow."""
    definition = await deploy(caller, template("leave_request"))
    since = datetime.now(UTC)

    started = (await caller.execute(START, {"k": definition["key"], "vars": {"days": 3}}))[
        "startProcess"
    ]

    assert started["status"] == "RUNNING"
    assert await instance_count(sessions, definition["id"]) == 1
    await eventually(
        lambda: workflows_started_since(temporal, settings, since),
        lambda count: count == 1,
        what="the workflow to become visible",
    )


@pytest.mark.parametrize("variables", [[1, 2], "days=3", 3, True])
async def test_variables_that_are_not_an_object_are_refused(
    caller: GraphQLClient,
    sessions: SessionMaker,
    temporal: Client,
    settings: Settings,
    variables: Any,
) -> None:
    definition = await deploy(caller, one_task())
    since = datetime.now(UTC)

    error = await start_error(caller, {"k": definition["key"], "vars": variables})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await instance_count(sessions, definition["id"]) == 0
    assert await workflows_started_since(temporal, settings, since) == 0


async def test_a_business_key_too_long_to_store_is_refused_before_anything_starts(
    caller: GraphQLClient, sessions: SessionMaker, temporal: Client, settings: Settings
) -> None:
    """Otherwise the workflow's first transition fails to write it, retries forever, and
    startProcess waits for it."""
    definition = await deploy(caller, one_task())
    since = datetime.now(UTC)

    with pytest.raises(GraphQLError) as refused:
        await start(caller, definition["key"], business_key="b" * 201)

    [error] = refused.value.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "businessKey"
    assert await instance_count(sessions, definition["id"]) == 0
    assert await workflows_started_since(temporal, settings, since) == 0
    started = await start(caller, definition["key"], business_key="b" * 200)
    assert started["businessKey"] == "b" * 200


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-an-id",
        str(GlobalID("ProcessInstance", "not-a-uuid")),
        str(GlobalID("Task", str(uuid.uuid4()))),
        "",
    ],
    ids=["garbage", "not-a-uuid", "another-type", "empty"],
)
async def test_process_instance_with_a_malformed_id_is_bad_user_input(
    caller: GraphQLClient, bad_id: str
) -> None:
    with pytest.raises(GraphQLError) as refused:
        await caller.execute(INSTANCE, {"id": bad_id})
    assert refused.value.codes == ["BAD_USER_INPUT"]


async def test_process_instance_of_an_unknown_instance_is_not_found(
    caller: GraphQLClient,
) -> None:
    with pytest.raises(GraphQLError) as missing:
        await caller.execute(INSTANCE, {"id": str(GlobalID("ProcessInstance", str(uuid.uuid4())))})
    assert missing.value.codes == ["NOT_FOUND"]


async def test_an_instance_is_readable_by_its_starter_and_its_candidates_only(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    group = f"reviewers-{unique}"
    starter = await as_user(client, users)
    reviewer = await as_user(client, users, groups=[group])
    stranger = await as_user(client, users, groups=[f"others-{unique}"])
    definition = await deploy(starter, one_task(group=group))
    started = await start(starter, definition["key"], business_key=f"BK-{unique}")

    assert (await instance(starter, started["id"]))["businessKey"] == f"BK-{unique}"
    assert (await instance(reviewer, started["id"]))["id"] == started["id"]
    with pytest.raises(GraphQLError) as refused:
        await stranger.execute(INSTANCE, {"id": started["id"]})
    assert refused.value.codes == ["NOT_FOUND"]
    # Nor through the generic node field, which answers null rather than leak it.
    node = await stranger.execute("query($id: ID!) { node(id: $id) { id } }", {"id": started["id"]})
    assert node["node"] is None


async def test_variables_in_the_wrong_format_are_refused_naming_each_field(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    document = one_task()
    document["variables"] = {
        "type": "object",
        "properties": {
            "deadline": {"type": "string", "format": "date-time"},
            "contact": {"type": "string", "format": "email"},
        },
    }
    definition = await deploy(caller, document)

    error = await start_error(
        caller, {"k": definition["key"], "vars": {"deadline": "next tuesday", "contact": "nobody"}}
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [f["field"] for f in error["extensions"]["fields"]] == ["contact", "deadline"]
    assert await instance_count(sessions, definition["id"]) == 0
    started = await start(
        caller, definition["key"], deadline="2030-01-31T10:00:00Z", contact="a@b.example"
    )
    assert started["status"] == "RUNNING"


START_ONCE = """
mutation($k: String!, $r: String, $vars: JSON) {
  startProcess(key: $k, requestId: $r, variables: $vars) { id status tasks { id } }
}
"""


async def test_a_start_retried_with_its_request_id_returns_the_first_instance(
    caller: GraphQLClient, sessions: SessionMaker, temporal: Client, settings: Settings
) -> None:
    definition = await deploy(caller, one_task())
    request = {"k": definition["key"], "r": uuid.uuid4().hex, "vars": {"n": 1}}
    since = datetime.now(UTC)

    first = (await caller.execute(START_ONCE, request))["startProcess"]
    # A retry after a lost answer, even with other variables, is the same start.
    again = (await caller.execute(START_ONCE, {**request, "vars": {"n": 2}}))["startProcess"]

    assert again == first
    assert await instance_count(sessions, definition["id"]) == 1
    assert await workflows_started_since(temporal, settings, since) == 1
    async with sessions() as session:
        row = await session.get(ProcessInstance, pk(first["id"]))
    assert row is not None and row.request_id == request["r"] and row.variables == {"n": 1}


async def test_a_start_sent_twice_at_once_with_one_request_id_starts_one_instance(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    definition = await deploy(caller, one_task())
    request = {"k": definition["key"], "r": uuid.uuid4().hex}

    answers = await asyncio.gather(
        caller.execute(START_ONCE, request), caller.execute(START_ONCE, request)
    )

    [one, other] = [answer["startProcess"] for answer in answers]
    assert one["id"] == other["id"] and len(one["tasks"]) == 1
    assert await instance_count(sessions, definition["id"]) == 1


async def test_a_request_id_is_the_callers_own(
    caller: GraphQLClient, client: GraphQLClient, users: UserService, sessions: SessionMaker
) -> None:
    other = await as_user(client, users)
    definition = await deploy(caller, one_task())
    request = {"k": definition["key"], "r": uuid.uuid4().hex}

    mine = (await caller.execute(START_ONCE, request))["startProcess"]
    theirs = (await other.execute(START_ONCE, request))["startProcess"]

    assert mine["id"] != theirs["id"]
    assert await instance_count(sessions, definition["id"]) == 2


@pytest.mark.parametrize("request_id", ["", "r" * 201], ids=["empty", "too-long"])
async def test_a_request_id_that_cannot_be_stored_is_refused(
    caller: GraphQLClient, sessions: SessionMaker, request_id: str
) -> None:
    definition = await deploy(caller, one_task())
    with pytest.raises(GraphQLError) as refused:
        await caller.execute(START_ONCE, {"k": definition["key"], "r": request_id})
    [error] = refused.value.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "requestId"
    assert await instance_count(sessions, definition["id"]) == 0
