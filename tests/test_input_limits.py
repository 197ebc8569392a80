"""Input that PostgreSQL, orjson or the GraphQL server cannot take is refused at the edge
with a 4xx or BAD_USER_INPUT naming the field, and changes nothing: no row, no workflow,
no history event, no comment."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import func, select
from temporalio.client import Client

from api.db import SessionMaker
from api.models import HistoryEvent, ProcessDefinition, ProcessInstance, TaskComment
from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient
from tests.factories import deploy, one_task, process, start, template
from tests.kit.people import as_user, make_user
from tests.test_instances_start import pk, workflows_started_since

NUL = "a\u0000b"


@pytest.fixture
def group(unique: str) -> str:
    return f"reviewers-{unique}"


@pytest.fixture
async def caller(client: GraphQLClient, users: UserService, group: str) -> GraphQLClient:
    return await as_user(client, users, groups=[group])


async def refused(client: GraphQLClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The one error of an operation. Sent as ASCII JSON (escapes for everything else), as
    a client may: a lone surrogate cannot be sent any other way."""
    response = await client.http.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"content-type": "application/json", "authorization": f"Bearer {client.token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None, body
    [only] = body["errors"]
    assert only["extensions"]["code"] == "BAD_USER_INPUT", only
    found: dict[str, Any] = only
    return found


async def count(sessions: SessionMaker, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


START = """mutation($k: String!, $b: String, $v: JSON) {
  startProcess(key: $k, businessKey: $b, variables: $v) { id }
}"""


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"v": {"days": 3, "reason": NUL}}, "variables.reason"),
        ({"v": {"days": 3, NUL: "x"}}, "variables"),
        ({"v": {"days": 3, "reason": "\ud800"}}, "variables.reason"),
        ({"v": {"days": 3, "reason": [1, 2**70]}}, "variables.reason[1]"),
        ({"v": {"days": 3}, "b": NUL}, "businessKey"),
    ],
    ids=[
        "nul-in-a-value",
        "nul-in-a-key",
        "lone-surrogate",
        "integer-past-64-bits",
        "nul-in-a-key-argument",
    ],
)
async def test_a_start_with_unstorable_input_is_refused_and_starts_nothing(
    caller: GraphQLClient,
    sessions: SessionMaker,
    temporal: Client,
    settings: Settings,
    variables: dict[str, Any],
    field: str,
) -> None:
    definition = await deploy(caller, template("leave_request"))
    since = datetime.now(UTC)

    error = await refused(caller, START, {"k": definition["key"], **variables})

    assert error["extensions"]["field"] == field
    assert (
        await count(
            sessions, ProcessInstance, ProcessInstance.definition_id == pk(definition["id"])
        )
        == 0
    )
    assert await workflows_started_since(temporal, settings, since) == 0


async def test_a_literal_nul_in_the_document_is_refused_like_a_variable(
    caller: GraphQLClient, sessions: SessionMaker, temporal: Client, settings: Settings
) -> None:
    definition = await deploy(caller, template("leave_request"))
    since = datetime.now(UTC)
    key = definition["key"]
    query = f'mutation {{ startProcess(key: "{key}", variables: {{days: 3, reason: "a\\u0000b"}}) {{ id }} }}'

    error = await refused(caller, query, {})

    assert error["extensions"]["field"] == "variables.reason"
    assert (
        await count(
            sessions, ProcessInstance, ProcessInstance.definition_id == pk(definition["id"])
        )
        == 0
    )
    assert await workflows_started_since(temporal, settings, since) == 0


async def test_a_refused_value_refuses_every_mutation_of_the_document(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    first, second = one_task(), one_task()
    query = """mutation($a: JSON, $b: JSON) {
      a: deployDefinition(definition: $a) { id }
      b: deployDefinition(definition: $b) { id }
    }"""
    second["name"] = NUL

    error = await refused(caller, query, {"a": first, "b": second})

    assert error["extensions"]["field"] == "definition.name"
    keys = [first["key"], second["key"]]
    assert await count(sessions, ProcessDefinition, ProcessDefinition.key.in_(keys)) == 0  # type: ignore[attr-defined]


async def test_a_definition_whose_schema_holds_a_huge_integer_is_refused(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    definition = template("leave_request")
    definition["variables"]["properties"]["days"]["maximum"] = 2**64

    query = "mutation($d: JSON) { deployDefinition(definition: $d) { id } }"
    error = await refused(caller, query, {"d": definition})

    assert error["extensions"]["field"] == "definition.variables.properties.days.maximum"
    assert "64 bits" in error["message"]
    assert await count(sessions, ProcessDefinition, ProcessDefinition.key == definition["key"]) == 0


async def test_set_variables_and_comments_with_nul_change_nothing(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, group: str
) -> None:
    # An operator, who may set an instance's variables.
    caller = await client.login(
        (await make_user(users, groups=[group], roles=["operator"])).username
    )
    definition = await deploy(caller, one_task(group=group))
    started = await start(caller, definition["key"], note="before")
    instance_id = pk(started["id"])
    [task] = started["tasks"]
    history = await count(sessions, HistoryEvent, HistoryEvent.instance_id == instance_id)

    await refused(
        caller,
        "mutation($id: ID!, $v: JSON!) { setInstanceVariables(id: $id, variables: $v) { id } }",
        {"id": started["id"], "v": {"note": NUL}},
    )
    error = await refused(
        caller,
        "mutation($id: ID!, $m: String!) { addTaskComment(id: $id, message: $m) { id } }",
        {"id": task["id"], "m": NUL},
    )

    assert error["extensions"]["field"] == "message"
    async with sessions() as session:
        row = await session.get(ProcessInstance, instance_id)
        assert row is not None and row.variables["note"] == "before"
    assert await count(sessions, HistoryEvent, HistoryEvent.instance_id == instance_id) == history
    assert await count(sessions, TaskComment, TaskComment.task_id == pk(task["id"])) == 0
    # The instance is not stuck: it still takes a valid change.
    await caller.execute(
        "mutation($id: ID!, $v: JSON!) { setInstanceVariables(id: $id, variables: $v) { id } }",
        {"id": started["id"], "v": {"note": "after"}},
    )


@pytest.mark.parametrize(
    "values",
    [["a\u0000", "x"], [2**63, "x"], [1, 2, 3]],
    ids=["nul", "past-64-bits", "wrong-arity"],
)
async def test_forged_cursors_are_bad_user_input(caller: GraphQLClient, values: list[Any]) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
    for query in (
        "query($a: String) { processInstances(after: $a) { edges { cursor } } }",
        "query($a: String) { processDefinitions(after: $a) { edges { cursor } } }",
        "query($a: String) { tasks(after: $a) { edges { cursor } } }",
    ):
        error = await refused(caller, query, {"a": cursor})
        assert error["extensions"]["field"] == "after"


async def test_a_filter_with_nul_is_refused(caller: GraphQLClient) -> None:
    error = await refused(
        caller,
        "query($f: TaskFilter) { tasks(filter: $f) { edges { cursor } } }",
        {"f": {"nameContains": NUL}},
    )
    assert error["extensions"]["field"] == "filter.nameContains"


async def test_variables_that_do_not_coerce_are_bad_user_input(caller: GraphQLClient) -> None:
    await refused(caller, "query($f: Int) { tasks(first: $f) { edges { cursor } } }", {"f": "abc"})
    await refused(caller, "query($f: Int!) { tasks(first: $f) { edges { cursor } } }", {})


async def test_documents_that_do_not_parse_or_validate_carry_graphql_codes(
    caller: GraphQLClient,
) -> None:
    body = await caller.raw("{ me { id ")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_PARSE_FAILED"]
    body = await caller.raw("{ me { idd } }")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    # Introspection is on in the test settings, so the suggestion stays.
    assert "Did you mean" in body["errors"][0]["message"]


async def test_json_nested_past_the_limit_is_refused(
    caller: GraphQLClient, settings: Settings, sessions: SessionMaker, group: str
) -> None:
    definition = await deploy(caller, one_task(group=group))
    deep: Any = "leaf"
    for _ in range(settings.max_json_depth + 1):
        deep = {"d": deep}

    error = await refused(caller, START, {"k": definition["key"], "v": deep})

    assert "nested deeper" in error["message"]
    assert (
        await count(
            sessions, ProcessInstance, ProcessInstance.definition_id == pk(definition["id"])
        )
        == 0
    )


async def test_a_definition_past_the_node_limit_is_refused_before_validation(
    caller: GraphQLClient,
) -> None:
    nodes = [{"id": f"t{i}", "type": "userTask", "candidateGroups": ["g"]} for i in range(201)]
    ids: list[str] = ["start", *(str(n["id"]) for n in nodes), "end"]
    definition = process("huge", nodes, list(itertools.pairwise(ids)))

    data = await caller.execute(
        "query($d: JSON) { validateDefinition(definition: $d) { path message } }", {"d": definition}
    )

    assert [p["path"] for p in data["validateDefinition"]] == ["nodes"]


def graphql_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    found: dict[str, Any] = error
    return found


async def test_bodies_that_are_not_utf8_json_answer_400_in_graphql_shape(
    client: GraphQLClient,
) -> None:
    http = client.http
    headers = {"content-type": "application/json"}
    not_utf8 = b'{"query": "{ me { id } }", "variables": {"a": "\xff\xfe"}}'
    graphql_error(await http.post("/graphql", content=not_utf8, headers=headers), 400)
    nested = (
        b'{"query": "{ me { id } }", "variables": {"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}"
    )
    graphql_error(await http.post("/graphql", content=nested, headers=headers), 400)
    graphql_error(await http.post("/graphql", content=b"{", headers=headers), 400)
    graphql_error(
        await http.post("/graphql", content=b"query=x", headers={"content-type": "text/plain"}), 400
    )


async def test_oversized_bodies_and_headers_are_refused_before_parsing(
    client: GraphQLClient, settings: Settings
) -> None:
    http = client.http
    padding = "x" * settings.max_body_bytes
    body = json.dumps({"query": "{ me { id } }", "variables": {"p": padding}})
    error = graphql_error(
        await http.post("/graphql", content=body, headers={"content-type": "application/json"}), 413
    )
    assert str(settings.max_body_bytes) in error["message"]

    async def chunks() -> Any:
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    # Without a Content-Length, counted as it streams in.
    graphql_error(
        await http.post("/graphql", content=chunks(), headers={"content-type": "application/json"}),
        413,
    )
    big_header = {"x-padding": "y" * settings.max_header_bytes}
    graphql_error(
        await http.post("/graphql", json={"query": "{ me { id } }"}, headers=big_header), 431
    )
    # Within the limits, the same server answers.
    ok = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"x-padding": "y" * 1000}
    )
    assert ok.status_code == 200 and ok.json()["data"] == {"__typename": "Query"}
