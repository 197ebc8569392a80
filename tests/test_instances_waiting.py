"""ProcessInstance.waitingOn, read from the history, says what the workflow's own
liveState query says: the same tasks, timers, messages, children and incidents."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.relay import GlobalID

from api.services.users import UserService
from tests.client import GraphQLClient
from tests.factories import deploy, one_task, start
from tests.kit.instances import live, until
from tests.kit.people import as_user

WAITING = """
query($id: ID!) {
  processInstance(id: $id) {
    status
    waitingOn {
      tasks { id nodeId status }
      timers { nodeId dueAt }
      messages { nodeId name businessKey }
      services { nodeId action }
      children { id status definition { key } }
      incidents { nodeId message }
    }
  }
}
"""
SEND = "mutation($id: ID!, $n: String!) { sendMessage(instanceId: $id, name: $n) { id } }"


def pk(global_id: str) -> str:
    return GlobalID.from_id(global_id).node_id


def everything(group: str, child_key: str, *, failing: bool = True) -> dict[str, Any]:
    """One branch per kind of wait, forked at once (and one that fails, when `failing`)."""
    branches: list[dict[str, Any]] = [
        {"id": "review", "type": "userTask", "candidateGroups": [group]},
        {"id": "review_late", "type": "timer", "attachedTo": "review", "duration": "P1D"},
        {"id": "paid", "type": "receiveTask", "message": "payment_received"},
        {"id": "cool_off", "type": "timer", "duration": "PT1H"},
        {"id": "sub", "type": "callActivity", "calledElement": child_key},
    ]
    if failing:
        call = {
            "id": "call",
            "type": "serviceTask",
            "action": "http",
            # Nothing listens on port 1: an incident at the first attempt.
            "input": {"method": "GET", "url": "http://127.0.0.1:1/"},
            "retry": {"maxAttempts": 1},
        }
        branches.append(call)
    ends = [{"id": f"end_{b['id']}", "type": "endEvent"} for b in branches if "attachedTo" not in b]
    forked = [b["id"] for b in branches if "attachedTo" not in b]
    return {
        "key": f"waits_{group}",
        "name": "Waits",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "fork", "type": "parallelGateway"},
            *branches,
            *ends,
        ],
        "flows": [
            {"from": "start", "to": "fork"},
            *({"from": "fork", "to": b} for b in forked),
            *({"from": b, "to": f"end_{b}"} for b in forked),
            {"from": "review_late", "to": "end_review"},
        ],
    }


def from_history(waiting: dict[str, Any]) -> dict[str, Any]:
    return {
        "tasks": {pk(t["id"]) for t in waiting["tasks"]},
        "timers": {(t["nodeId"], t["dueAt"]) for t in waiting["timers"]},
        "messages": {(m["nodeId"], m["name"]) for m in waiting["messages"]},
        "children": sorted(c["definition"]["key"] for c in waiting["children"]),
        "incidents": {(i["nodeId"], i["message"]) for i in waiting["incidents"]},
    }


def from_workflow(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "tasks": {t["task_id"] for t in state["tasks"]},
        "timers": {(t["node_id"], t["fire_at"].replace("+00:00", "Z")) for t in state["timers"]},
        "messages": {(m["node_id"], m["name"]) for m in state["messages"]},
        "children": sorted(c["key"] for c in state["children"]),
        "incidents": {(i["node_id"], i["message"]) for i in state["incidents"]},
    }


def _same_moments(waiting: dict[str, Any]) -> dict[str, Any]:
    """GraphQL writes times with +00:00; the workflow's isoformat too: compare as text."""
    waiting["timers"] = {(n, at.replace("+00:00", "Z")) for n, at in waiting["timers"]}
    return waiting


@pytest.fixture
async def waiting_instance(
    client: GraphQLClient, users: UserService, unique: str
) -> tuple[GraphQLClient, dict[str, Any]]:
    me = await as_user(client, users, groups=[unique])
    child = await deploy(me, one_task(group=unique))
    await deploy(me, everything(unique, child["key"]))
    started = await start(me, f"waits_{unique}", business_key=f"bk-{unique}")
    await until(me, started["id"], lambda i: i["status"] == "INCIDENT")
    return me, started


async def test_waiting_on_says_what_the_workflow_holds(
    waiting_instance: tuple[GraphQLClient, dict[str, Any]], unique: str
) -> None:
    me, started = waiting_instance
    found = (await me.execute(WAITING, {"id": started["id"]}))["processInstance"]["waitingOn"]
    ours = _same_moments(from_history(found))
    assert ours == from_workflow(await live(me, started["id"]))
    assert {t["nodeId"] for t in found["tasks"]} == {"review"}
    assert {t["nodeId"] for t in found["timers"]} == {"review_late", "cool_off"}
    [message] = found["messages"]
    assert message == {"nodeId": "paid", "name": "payment_received", "businessKey": "bk-" + unique}
    assert [i["nodeId"] for i in found["incidents"]] == ["call"]
    assert [c["status"] for c in found["children"]] == ["RUNNING"]


async def test_a_message_received_is_no_longer_waited_for(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    me = await as_user(client, users, groups=[unique])
    child = await deploy(me, one_task(group=unique))
    await deploy(me, everything(unique, child["key"], failing=False))
    started = await start(me, f"waits_{unique}")
    # startProcess answers once the first step, the fork into every branch, is written.
    before = (await me.execute(WAITING, {"id": started["id"]}))["processInstance"]["waitingOn"]
    assert [m["name"] for m in before["messages"]] == ["payment_received"]
    await me.execute(SEND, {"id": started["id"], "n": "payment_received"})
    found = (await me.execute(WAITING, {"id": started["id"]}))["processInstance"]["waitingOn"]
    assert found["messages"] == []
    assert _same_moments(from_history(found)) == from_workflow(await live(me, started["id"]))
