"""Reading other people's objects over real HTTP, by every id type and nested path: what
the caller may not see answers exactly as what does not exist, and nothing changes."""

from __future__ import annotations

import uuid
from typing import Any

from api.db import SessionMaker
from schema.ids import encode_id
from tests.factories import deploy, fresh_key, one_task, start
from tests.security.conftest import refused, snapshot

INSTANCE = """query($id: ID!) { processInstance(id: $id) {
  id variables definition { key } tasks { id name comments { message } } } }"""
INSTANCES = (
    "query($k: String) { processInstances(filter: {definitionKey: $k}) { edges { node { id } } } }"
)
TASK = "query($id: ID!) { task(id: $id) { id name comments { message } instance { id } } }"
TASK_INSTANCE_TASKS = (
    "query($id: ID!) { task(id: $id) { instance { tasks { id comments { message } } } } }"
)
TASKS = """query($i: ID) { tasks(filter: {instanceId: $i, status: [CREATED, CLAIMED, COMPLETED]}) {
  edges { node { id } } } }"""
NODE = """query($id: ID!) { node(id: $id) { id
  ... on ProcessInstance { variables tasks { id } }
  ... on Task { name }
  ... on User { username email roles groups { key members { username } } } } }"""
COMMENT = "mutation($id: ID!, $m: String!) { addTaskComment(id: $id, message: $m) { id } }"
USER = "query($id: ID!) { node(id: $id) { ... on User { username email roles groups { key } } } }"
NESTED_PEOPLE = """query($id: ID!) { task(id: $id) { instance {
  startedBy { username email roles groups { key } } } } }"""
ME = "{ me { username email roles groups { key members { username } } } }"

MUTATIONS = {
    "claim": ("mutation($id: ID!) { claimTask(id: $id) { id } }", "task", {}),
    "complete": ("mutation($id: ID!) { completeTask(id: $id) { id } }", "task", {}),
    "comment": (COMMENT, "task", {"m": "let me in"}),
    "priority": ("mutation($id: ID!) { setTaskPriority(id: $id, priority: 1) { id } }", "task", {}),
    "cancel": ("mutation($id: ID!) { cancelInstance(id: $id) { id } }", "instance", {}),
    "suspend": ("mutation($id: ID!) { suspendInstance(id: $id) { id } }", "instance", {}),
    "terminate": ("mutation($id: ID!) { terminateInstance(id: $id) { id } }", "instance", {}),
    "message": (
        'mutation($id: ID!) { sendMessage(instanceId: $id, name: "x") { id } }',
        "instance",
        {},
    ),
}


def two_groups(a: str, b: str) -> dict[str, Any]:
    """Two parallel tasks, one for each group."""
    return {
        "key": fresh_key("shared"),
        "name": "Shared",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "fork", "type": "parallelGateway"},
            {"id": "for_a", "type": "userTask", "name": "A's part", "candidateGroups": [a]},
            {"id": "for_b", "type": "userTask", "name": "B's part", "candidateGroups": [b]},
            {"id": "join", "type": "parallelGateway"},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            {"from": "start", "to": "fork"},
            {"from": "fork", "to": "for_a"},
            {"from": "fork", "to": "for_b"},
            {"from": "for_a", "to": "join"},
            {"from": "for_b", "to": "join"},
            {"from": "join", "to": "end"},
        ],
    }


async def scene(people: Any, unique: str) -> dict[str, Any]:
    a, b = f"a-{unique}", f"b-{unique}"
    starter = await people()
    in_a, in_b, outsider = await people(groups=[a]), await people(groups=[b]), await people()
    definition = two_groups(a, b)
    await deploy(starter.client, definition)
    started = await start(starter.client, definition["key"], secret="payroll")
    tasks = {t["name"]: t["id"] for t in started["tasks"]}
    await in_b.client.execute(COMMENT, {"id": tasks["B's part"], "m": "B only"})
    return {
        "key": definition["key"],
        "starter": starter,
        "in_a": in_a,
        "in_b": in_b,
        "outsider": outsider,
        "instance": started["id"],
        "a_task": tasks["A's part"],
        "b_task": tasks["B's part"],
    }


async def test_another_users_instance_and_tasks_are_not_found_by_every_id_and_path(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    s = await scene(people, unique)
    outsider = s["outsider"].client
    before = await snapshot(sessions, [s["key"]])
    nowhere = {
        "instance": encode_id("ProcessInstance", uuid.uuid4()),
        "task": encode_id("Task", uuid.uuid4()),
    }

    for real, fake in ((s["instance"], nowhere["instance"]),):
        assert await refused(outsider, INSTANCE, {"id": real}) == "NOT_FOUND"
        assert await refused(outsider, INSTANCE, {"id": fake}) == "NOT_FOUND"
    for task_id in (s["a_task"], s["b_task"], nowhere["task"]):
        assert await refused(outsider, TASK, {"id": task_id}) == "NOT_FOUND"
    for any_id in (s["instance"], s["a_task"], s["b_task"]):
        assert (await outsider.execute(NODE, {"id": any_id}))["node"] is None
    listed = await outsider.execute(INSTANCES, {"k": s["key"]})
    assert listed["processInstances"]["edges"] == []
    assert (await outsider.execute(TASKS, {"i": s["instance"]}))["tasks"]["edges"] == []

    for name, (mutation, kind, extra) in MUTATIONS.items():
        real = s["a_task"] if kind == "task" else s["instance"]
        code = await refused(outsider, mutation, {"id": real, **extra})
        assert code == await refused(outsider, mutation, {"id": nowhere[kind], **extra}), name
        assert code == "NOT_FOUND", name
    assert await snapshot(sessions, [s["key"]]) == before


async def test_a_shared_instance_shows_a_candidate_only_their_own_tasks(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    s = await scene(people, unique)
    in_a = s["in_a"].client
    before = await snapshot(sessions, [s["key"]])

    seen = (await in_a.execute(INSTANCE, {"id": s["instance"]}))["processInstance"]
    assert [t["id"] for t in seen["tasks"]] == [s["a_task"]]
    node = (await in_a.execute(NODE, {"id": s["instance"]}))["node"]
    assert [t["id"] for t in node["tasks"]] == [s["a_task"]]
    via_task = (await in_a.execute(TASK, {"id": s["a_task"]}))["task"]
    assert via_task["instance"] == {"id": s["instance"]}
    nested = (await in_a.execute(TASK_INSTANCE_TASKS, {"id": s["a_task"]}))["task"]
    assert [t["id"] for t in nested["instance"]["tasks"]] == [s["a_task"]]
    # B's task, and its comment, stay out of reach by every path.
    assert await refused(in_a, TASK, {"id": s["b_task"]}) == "NOT_FOUND"
    assert (await in_a.execute(NODE, {"id": s["b_task"]}))["node"] is None
    assert await refused(in_a, COMMENT, {"id": s["b_task"], "m": "peek"}) == "NOT_FOUND"
    assert await snapshot(sessions, [s["key"]]) == before

    # Whoever sees the instance itself (its starter) sees every task, as task(id) does.
    starter = s["starter"].client
    full = (await starter.execute(INSTANCE, {"id": s["instance"]}))["processInstance"]
    assert {t["id"] for t in full["tasks"]} == {s["a_task"], s["b_task"]}
    b_task = (await starter.execute(TASK, {"id": s["b_task"]}))["task"]
    assert b_task["comments"] == [{"message": "B only"}]


async def test_other_users_email_groups_and_roles_are_hidden_except_to_admins(
    people: Any, unique: str
) -> None:
    group = f"private-{unique}"
    person, other = await people(groups=[group]), await people(groups=[group])
    admin = await people(roles=["admin"])

    seen = (await other.client.execute(USER, {"id": person.id}))["node"]
    assert seen == {"username": person.username, "email": None, "roles": [], "groups": []}
    mine = (await person.client.execute(ME))["me"]
    assert mine["email"] == person.row.email
    assert mine["roles"] == ["user"]
    # Their own groups, but not who else is in them.
    assert mine["groups"] == [{"key": group, "members": []}]

    # Nor through the people an object names.
    key = (await deploy(person.client, one_task(group=group)))["key"]
    started = await start(person.client, key)
    nested = await other.client.execute(NESTED_PEOPLE, {"id": started["tasks"][0]["id"]})
    assert nested["task"]["instance"]["startedBy"] == {
        "username": person.username,
        "email": None,
        "roles": [],
        "groups": [],
    }

    by_admin = (await admin.client.execute(NODE, {"id": person.id}))["node"]
    assert by_admin["email"] == person.row.email
    assert by_admin["roles"] == ["user"]
    [found] = by_admin["groups"]
    assert {m["username"] for m in found["members"]} == {person.username, other.username}
