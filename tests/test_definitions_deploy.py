"""deployDefinition: a definition is validated fully before it is stored, every problem
reported at once; a key's deployments are numbered versions, and running instances keep
the version they started on."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from sqlmodel import col, select

from api.db import SessionMaker
from api.models import ProcessDefinition
from api.services.users import UserService
from tests.client import GraphQLClient, GraphQLError
from tests.factories import complete, deploy, instance, one_task, start
from tests.kit.people import as_user

DEPLOY = """
mutation($d: JSON, $x: String) {
  deployDefinition(definition: $d, bpmnXml: $x) { id key version checksum }
}
"""

DEFINITION = """
query($k: String!, $v: Int) { processDefinition(key: $k, version: $v) { id key version name } }
"""

DEFINITIONS = """
query($k: String, $l: Boolean, $f: Int, $a: String) {
  processDefinitions(key: $k, latestOnly: $l, first: $f, after: $a) {
    edges { cursor node { key version name } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture
async def caller(client: GraphQLClient, users: UserService) -> GraphQLClient:
    return await as_user(client, users)


def fresh_key() -> str:
    return f"deploy_{uuid.uuid4().hex[:10]}"


def valid(key: str) -> dict[str, Any]:
    """start -> gateway -> (a == 1) work -> end, or by default straight to end."""
    return {
        "key": key,
        "name": "Valid",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "decide", "type": "exclusiveGateway"},
            {"id": "work", "type": "userTask", "candidateGroups": ["nobody"]},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            {"from": "start", "to": "decide"},
            {"from": "decide", "to": "work", "condition": "a == 1"},
            {"from": "decide", "to": "end", "default": True},
            {"from": "work", "to": "end"},
        ],
    }


def with_unreachable_node(document: dict[str, Any]) -> dict[str, Any]:
    document["nodes"].append({"id": "orphan", "type": "userTask", "candidateGroups": ["g"]})
    document["flows"].append({"from": "orphan", "to": "end"})
    return document


def with_dead_end_gateway(document: dict[str, Any]) -> dict[str, Any]:
    """The gateway's default flow leads to a second gateway that has no way out."""
    document["nodes"].append({"id": "stuck", "type": "exclusiveGateway"})
    for flow in document["flows"]:
        if flow.get("default"):
            flow["to"] = "stuck"
    return document


def with_broken_expression(document: dict[str, Any]) -> dict[str, Any]:
    [work] = [n for n in document["nodes"] if n["id"] == "work"]
    work["assignee"] = "=manager(("
    return document


def without_start_event(document: dict[str, Any]) -> dict[str, Any]:
    document["nodes"] = [n for n in document["nodes"] if n["type"] != "startEvent"]
    document["flows"] = [f for f in document["flows"] if f["from"] != "start"]
    return document


async def deploy_error(client: GraphQLClient, variables: dict[str, Any]) -> dict[str, Any]:
    """The one error of a refused deployment."""
    with pytest.raises(GraphQLError) as refused:
        await client.execute(DEPLOY, variables)
    [error] = refused.value.errors
    return error


async def versions(sessions: SessionMaker, key: str) -> list[int]:
    async with sessions() as session:
        rows = await session.exec(
            select(ProcessDefinition.version)
            .where(ProcessDefinition.key == key)
            .order_by(col(ProcessDefinition.version))
        )
        return list(rows.all())


async def test_a_valid_definition_deploys_as_version_one(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    key = fresh_key()
    deployed = await deploy(caller, valid(key))
    assert (deployed["key"], deployed["version"]) == (key, 1)
    assert await versions(sessions, key) == [1]


@pytest.mark.parametrize(
    ("breakage", "node_id", "path", "words"),
    [
        (with_unreachable_node, "orphan", "nodes[4]", "unreachable"),
        (with_dead_end_gateway, "stuck", "nodes[4]", "no outgoing flow"),
        (with_broken_expression, "work", "nodes[2].assignee", "parse"),
        (without_start_event, None, "nodes", "no startEvent"),
    ],
    ids=["unreachable-node", "gateway-without-outgoing-flow", "broken-expression", "no-start"],
)
async def test_a_structural_problem_is_refused_naming_its_node_and_path(
    caller: GraphQLClient,
    sessions: SessionMaker,
    breakage: Any,
    node_id: str | None,
    path: str,
    words: str,
) -> None:
    key = fresh_key()
    error = await deploy_error(caller, {"d": breakage(valid(key))})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    [problem] = error["extensions"]["problems"]
    assert problem["nodeId"] == node_id and problem["path"] == path
    assert words in problem["message"]
    assert path in error["message"]
    assert await versions(sessions, key) == []


async def test_every_problem_of_a_definition_is_listed_in_one_error(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    key = fresh_key()
    document = with_broken_expression(with_dead_end_gateway(with_unreachable_node(valid(key))))
    [work] = [n for n in document["nodes"] if n["id"] == "work"]
    work["form"] = {"type": "object", "properties": {"ok": {"type": "yes-or-no"}}}

    error = await deploy_error(caller, {"d": document})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    problems = {(p["nodeId"], p["path"]) for p in error["extensions"]["problems"]}
    assert problems == {
        ("orphan", "nodes[4]"),
        ("stuck", "nodes[5]"),
        ("work", "nodes[2].assignee"),
        ("work", "nodes[2].form"),
    }
    assert await versions(sessions, key) == []


async def test_a_missing_start_event_does_not_hide_the_other_problems(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    """Without a start event every node would be "unreachable": that check waits for the
    start to exist, and every other problem is still reported."""
    key = fresh_key()
    document = without_start_event(with_broken_expression(with_dead_end_gateway(valid(key))))

    error = await deploy_error(caller, {"d": document})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    messages = {p["nodeId"]: p["message"] for p in error["extensions"]["problems"]}
    assert "no startEvent" in messages[None]
    assert "no outgoing flow" in messages["stuck"]
    assert "parse" in messages["work"]
    assert not any("unreachable" in m for m in messages.values())
    assert await versions(sessions, key) == []


VALIDATE = """query($d: JSON) { validateDefinition(definition: $d) { path nodeId message } }"""


async def test_an_unknown_node_type_hides_no_other_problem_of_the_definition(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    called = fresh_key()
    await deploy(caller, valid(called))
    key = fresh_key()
    document = {
        "key": key,
        "name": "Broken",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "decide", "type": "exclusiveGateway"},
            {"id": "work", "type": "userTsk", "candidateGroups": ["nobody"]},
            # Misspelt: the deployed key lost its last character.
            {"id": "call", "type": "callActivity", "calledElement": called[:-1]},
            {"id": "join", "type": "parallelGateway"},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            {"from": "start", "to": "decide"},
            {"from": "decide", "to": "work", "condition": "a =="},
            {"from": "decide", "to": "call", "default": True},
            {"from": "work", "to": "join"},
            {"from": "call", "to": "join"},
            {"from": "join", "to": "end"},
            {"from": "join", "to": "nowhere"},
        ],
    }

    problems = (await caller.execute(VALIDATE, {"d": document}))["validateDefinition"]

    found = {(p["path"], p["nodeId"]): p["message"] for p in problems}
    assert found[("nodes[2].type", "work")].startswith(
        "unknown node type 'userTsk'; did you mean 'userTask'?"
    )
    assert ("flows[6].to", "join") in found  # the flow to an unknown node
    assert "parse" in found[("flows[1].condition", "decide")]
    assert "no matching fork" in found[("nodes[4]", "join")]
    assert found[("nodes[3].calledElement", "call")] == (
        f"no process definition '{called[:-1]}' is deployed; did you mean '{called}'?"
    )
    assert await versions(sessions, key) == []


async def test_a_misspelt_key_is_not_found_naming_the_key_it_probably_means(
    caller: GraphQLClient,
) -> None:
    key = fresh_key()
    await deploy(caller, valid(key))
    with pytest.raises(GraphQLError) as missing:
        await caller.execute(DEFINITION, {"k": key[:-1]})
    assert missing.value.codes == ["NOT_FOUND"]
    assert missing.value.errors[0]["message"] == (
        f"no process definition '{key[:-1]}'; did you mean '{key}'?"
    )


async def test_an_unreachable_node_a_dead_end_gateway_and_a_broken_expression_are_listed_together(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    key = fresh_key()
    document = with_broken_expression(with_dead_end_gateway(with_unreachable_node(valid(key))))

    error = await deploy_error(caller, {"d": document})

    messages = {p["nodeId"]: p["message"] for p in error["extensions"]["problems"]}
    assert "unreachable" in messages["orphan"]
    assert "no outgoing flow" in messages["stuck"]
    assert "parse" in messages["work"]
    assert await versions(sessions, key) == []


async def test_an_invalid_json_schema_in_a_form_is_refused_naming_its_path(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    key = fresh_key()
    document = one_task(key=key, form={"type": "object", "required": "approved"})

    error = await deploy_error(caller, {"d": document})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    [problem] = error["extensions"]["problems"]
    assert problem["path"] == "nodes[1].form" and problem["nodeId"] == "work"
    assert "not a valid JSON Schema" in problem["message"]
    assert await versions(sessions, key) == []


async def test_an_invalid_json_schema_in_variables_is_refused_naming_its_path(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    key = fresh_key()
    document = {
        **valid(key),
        "variables": {"type": "object", "properties": {"a": {"minimum": "one"}}},
    }

    error = await deploy_error(caller, {"d": document})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    [problem] = error["extensions"]["problems"]
    assert problem["path"] == "variables" and problem["nodeId"] is None
    assert "not a valid JSON Schema" in problem["message"]
    assert await versions(sessions, key) == []


async def test_schema_problems_are_listed_with_structural_ones(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    key = fresh_key()
    document = with_unreachable_node(valid(key))
    document["variables"] = {"type": "object", "properties": {"a": {"type": 1}}}

    error = await deploy_error(caller, {"d": document})

    paths = {p["path"] for p in error["extensions"]["problems"]}
    assert paths == {"nodes[4]", "variables"}
    assert await versions(sessions, key) == []


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("key", "k" * 151, "key"),
        ("name", "n" * 201, "name"),
        ("node id", "w" * 151, "nodes[2].id"),
        ("node name", "w" * 201, "nodes[2].name"),
        ("candidate group", "g" * 151, "nodes[2].candidateGroups[0]"),
    ],
)
async def test_a_value_too_long_to_store_is_refused_naming_its_path(
    caller: GraphQLClient, sessions: SessionMaker, field: str, value: str, path: str
) -> None:
    """Otherwise the database refuses it later: on deployment as an internal error, or
    in the workflow's first transition, which would retry forever."""
    key = fresh_key()
    document = valid(key)
    if field == "key":
        document["key"] = key = value
    elif field == "name":
        document["name"] = value
    elif field == "node id":
        document["nodes"][2]["id"] = value
        for flow in document["flows"]:
            for end in ("from", "to"):
                if flow[end] == "work":
                    flow[end] = value
    elif field == "node name":
        document["nodes"][2]["name"] = value
    else:
        document["nodes"][2]["candidateGroups"] = [value]

    error = await deploy_error(caller, {"d": document})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [p["path"] for p in error["extensions"]["problems"]] == [path]
    assert await versions(sessions, key) == []


async def test_deploying_a_key_again_makes_the_next_version(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    key = fresh_key()
    first = await deploy(caller, valid(key))
    second = await deploy(caller, {**valid(key), "name": "Valid, renamed"})

    assert (first["version"], second["version"]) == (1, 2)
    assert first["id"] != second["id"] and first["checksum"] != second["checksum"]
    assert await versions(sessions, key) == [1, 2]

    latest = (await caller.execute(DEFINITION, {"k": key}))["processDefinition"]
    assert (latest["version"], latest["name"]) == (2, "Valid, renamed")
    original = (await caller.execute(DEFINITION, {"k": key, "v": 1}))["processDefinition"]
    assert (original["version"], original["name"]) == (1, "Valid")


async def test_process_definitions_lists_every_version_newest_first_page_by_page(
    caller: GraphQLClient,
) -> None:
    key = fresh_key()
    for n in range(3):
        await deploy(caller, {**valid(key), "name": f"Valid {n + 1}"})

    everything = (await caller.execute(DEFINITIONS, {"k": key, "l": False}))["processDefinitions"]
    assert [e["node"]["version"] for e in everything["edges"]] == [3, 2, 1]
    assert everything["pageInfo"]["hasNextPage"] is False

    latest = (await caller.execute(DEFINITIONS, {"k": key}))["processDefinitions"]
    assert [e["node"]["version"] for e in latest["edges"]] == [3]

    seen, after, pages = [], None, 0
    while True:
        page = (await caller.execute(DEFINITIONS, {"k": key, "l": False, "f": 1, "a": after}))[
            "processDefinitions"
        ]
        pages += 1
        seen += [e["node"]["version"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [3, 2, 1] and pages == 3


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        base64.urlsafe_b64encode(b'["k", "one"]').decode(),
        base64.urlsafe_b64encode(b'["k", null]').decode(),
        base64.urlsafe_b64encode(b'{"k": 1}').decode(),
        base64.urlsafe_b64encode(b'["k", 1e400]').decode(),
        base64.urlsafe_b64encode(b'["k", 99999999999999999999]').decode(),
    ],
)
async def test_an_invalid_cursor_on_process_definitions_is_refused(
    caller: GraphQLClient, cursor: str
) -> None:
    with pytest.raises(GraphQLError) as refused:
        await caller.execute(DEFINITIONS, {"l": False, "a": cursor})
    assert refused.value.codes == ["BAD_USER_INPUT"]


async def test_deploying_the_identical_document_again_returns_the_same_version(
    caller: GraphQLClient, sessions: SessionMaker
) -> None:
    key = fresh_key()
    first = await deploy(caller, valid(key))
    # Key order does not make a document different.
    reordered = json.loads(json.dumps(valid(key), sort_keys=True))
    again = await deploy(caller, reordered)

    assert again == first
    assert await versions(sessions, key) == [1]


async def test_an_unknown_definition_version_is_not_found(caller: GraphQLClient) -> None:
    key = fresh_key()
    await deploy(caller, valid(key))
    for variables in ({"k": key, "v": 2}, {"k": fresh_key()}):
        with pytest.raises(GraphQLError) as missing:
            await caller.execute(DEFINITION, variables)
        assert missing.value.codes == ["NOT_FOUND"]


async def test_running_instances_keep_the_version_they_started_on(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    group = f"workers-{unique}"
    worker = await as_user(client, users, groups=[group])
    key = fresh_key()
    await deploy(worker, one_task(key=key, group=group))
    running = await start(worker, key)

    # Version 2 renames the task and adds a second one after it.
    two_steps = one_task(key=key, group=group)
    two_steps["nodes"][1]["name"] = "Do the work, v2"
    two_steps["nodes"].insert(
        2, {"id": "check", "type": "userTask", "name": "Check", "candidateGroups": [group]}
    )
    two_steps["flows"] = [
        {"from": "start", "to": "work"},
        {"from": "work", "to": "check"},
        {"from": "check", "to": "end"},
    ]
    assert (await deploy(worker, two_steps))["version"] == 2

    still = await instance(worker, running["id"])
    assert still["definition"]["version"] == 1
    [task] = still["tasks"]
    assert task["name"] == "Do the work"

    await complete(worker, task["id"])
    done = await instance(worker, running["id"])
    assert done["status"] == "COMPLETED"
    assert [t["nodeId"] for t in done["tasks"]] == ["work"]

    fresh = await start(worker, key)
    assert fresh["definition"]["version"] == 2
    assert [t["name"] for t in fresh["tasks"]] == ["Do the work, v2"]


@pytest.mark.parametrize("shape", ["list", "string", "number"])
async def test_a_definition_that_is_not_a_json_object_is_refused(
    caller: GraphQLClient, sessions: SessionMaker, shape: str
) -> None:
    key = fresh_key()
    document: Any = {
        "list": [valid(key)],
        "string": json.dumps(valid(key)),
        "number": 42,
    }[shape]

    error = await deploy_error(caller, {"d": document})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await versions(sessions, key) == []


@pytest.mark.parametrize("both", [True, False], ids=["both", "neither"])
async def test_exactly_one_of_definition_and_bpmn_xml_is_required(
    caller: GraphQLClient, sessions: SessionMaker, both: bool
) -> None:
    key = fresh_key()
    variables = {"d": valid(key), "x": "<definitions/>"} if both else {}

    error = await deploy_error(caller, variables)

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "exactly one" in error["message"]
    assert await versions(sessions, key) == []
