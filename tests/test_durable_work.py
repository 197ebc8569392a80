"""Durable work through the real worker: gateways, service tasks with their retry
policies against a live HTTP server, incidents and their retry, boundary events, messages,
call activities, multi-instance tasks, and pinned definition versions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from api.auth.tokens import TokenIssuer
from api.db import SessionMaker
from api.models import Task
from api.services.users import UserService
from api.settings import Settings
from engine.workflow_contract import workflow_id
from schema.ids import decode_id
from tests.client import PASSWORD, GraphQLClient
from tests.factories import complete, deploy, process, start, task
from tests.kit.http_stub import Stub
from tests.kit.instances import FIELDS, LIVE, read, until
from tests.kit.operations import RETRY, SET_VARIABLES
from tests.kit.people import make_user
from tests.kit.waiting import eventually

CHILDREN = f"""query($key: String!) {{
  processInstances(filter: {{definitionKey: $key}}) {{ edges {{ node {{ {FIELDS} }} }} }}
}}"""
MESSAGE = """mutation($id: ID!, $name: String!, $v: JSON) {
  sendMessage(instanceId: $id, name: $name, variables: $v) { status variables }
}"""
FAST_RETRY = {"initialInterval": "PT0.1S", "backoff": 1.0, "maxInterval": "PT0.1S"}


def status_is(*statuses: str) -> Callable[[dict[str, Any]], bool]:
    return lambda found: found["status"] in statuses


def open_tasks(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["nodeId"]: t for t in found["tasks"] if t["status"] in ("CREATED", "CLAIMED")}


def entered(found: dict[str, Any]) -> list[str]:
    return [h["nodeId"] for h in found["history"] if h["type"] == "NODE_ENTERED"]


def types(found: dict[str, Any]) -> list[str]:
    return [h["type"] for h in found["history"]]


@dataclass
class Reviewer:
    id: uuid.UUID
    username: str
    client: GraphQLClient


@dataclass
class Scene:
    group: str
    worker: GraphQLClient  # a member of `group`, who starts and works the instances
    reviewers: list[Reviewer]  # three more members, for multi-instance tasks


@pytest.fixture(scope="module")
async def people(users: UserService, settings: Settings) -> tuple[str, list[Any]]:
    """One cast for the module (passwords are slow to hash); tests isolate themselves
    with fresh definitions."""
    group = f"team-{uuid.uuid4().hex[:10]}"
    issuer = TokenIssuer(settings)
    # The worker also repairs instances (setInstanceVariables needs instance:manage).
    worker = await users.create_user(
        f"user-{uuid.uuid4().hex[:10]}", PASSWORD, groups=[group], roles=["operator"]
    )
    made = [worker, *[await make_user(users, groups=[group]) for _ in range(3)]]
    return group, [(u.id, u.username, issuer.issue(u.id, u.username)) for u in made]


@pytest.fixture
def s(client: GraphQLClient, people: tuple[str, list[Any]]) -> Scene:
    group, made = people
    as_ = [Reviewer(i, name, GraphQLClient(client.http, token)) for i, name, token in made]
    return Scene(group, as_[0].client, as_[1:])


def http_task(url: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "call",
        "type": "serviceTask",
        "action": "http",
        "input": {"method": "POST", "url": url, "json": {"amount": "=amount"}},
        **fields,
    }


async def http_attempts(temporal: Client, instance: str) -> list[int]:
    """How many attempts each activity of the instance's workflow took, once none is
    pending: Temporal then runs no further attempt until the workflow schedules one."""
    handle = temporal.get_workflow_handle(workflow_id(str(decode_id(instance, "ProcessInstance"))))
    await eventually(
        handle.describe,
        lambda found: not found.raw_description.pending_activities,
        what="no activity pending",
    )
    history = await handle.fetch_history()
    return [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]


# Gateways


async def test_a_parallel_fork_runs_every_branch_and_the_join_waits_for_all(s: Scene) -> None:
    definition = process(
        "parallel",
        [
            {"id": "fork", "type": "parallelGateway"},
            task("legal", s.group),
            task("finance", s.group),
            {"id": "join", "type": "parallelGateway"},
        ],
        [
            ("start", "fork"),
            ("fork", "legal"),
            ("fork", "finance"),
            ("legal", "join"),
            ("finance", "join"),
            ("join", "end"),
        ],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"])
    tasks = {t["nodeId"]: t["id"] for t in started["tasks"]}
    assert set(tasks) == {"legal", "finance"}

    await complete(s.worker, tasks["legal"])
    waiting = await read(s.worker, started["id"])
    assert waiting["status"] == "RUNNING" and "end" not in entered(waiting)

    await complete(s.worker, tasks["finance"])
    done = await read(s.worker, started["id"])
    assert done["status"] == "COMPLETED"
    assert entered(done).count("join") == 2 and entered(done).count("end") == 1


async def test_an_inclusive_fork_takes_every_branch_whose_condition_holds_and_joins_them(
    s: Scene,
) -> None:
    definition = process(
        "inclusive",
        [
            {"id": "fork", "type": "inclusiveGateway"},
            task("small", s.group),
            task("medium", s.group),
            task("large", s.group),
            {"id": "join", "type": "inclusiveGateway"},
        ],
        [
            ("start", "fork"),
            {"from": "fork", "to": "small", "condition": "amount > 1"},
            {"from": "fork", "to": "medium", "condition": "amount > 10"},
            {"from": "fork", "to": "large", "condition": "amount > 100"},
            ("small", "join"),
            ("medium", "join"),
            ("large", "join"),
            ("join", "end"),
        ],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"], amount=50)
    tasks = {t["nodeId"]: t["id"] for t in started["tasks"]}
    assert set(tasks) == {"small", "medium"}

    await complete(s.worker, tasks["small"])
    assert (await read(s.worker, started["id"]))["status"] == "RUNNING"
    await complete(s.worker, tasks["medium"])

    done = await read(s.worker, started["id"])
    assert done["status"] == "COMPLETED"
    assert "large" not in entered(done) and entered(done).count("end") == 1


async def test_an_exclusive_gateway_without_a_matching_condition_or_default_is_an_incident(
    s: Scene,
) -> None:
    definition = process(
        "exclusive",
        [{"id": "decide", "type": "exclusiveGateway"}, task("big", s.group)],
        [
            ("start", "decide"),
            {"from": "decide", "to": "big", "condition": "amount > 100"},
            {"from": "decide", "to": "end", "condition": "amount < 10"},
            ("big", "end"),
        ],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"], amount=50)

    assert started["status"] == "INCIDENT"
    stuck = await read(s.worker, started["id"])
    assert "no condition of gateway 'decide' holds" in stuck["incident"]
    assert types(stuck)[-1] == "INCIDENT_RAISED" and stuck["tasks"] == []

    # Once the variables allow a way, a retry takes it.
    await s.worker.execute(SET_VARIABLES, {"id": started["id"], "v": {"amount": 500}})
    retried = (await s.worker.execute(RETRY, {"id": started["id"]}))["retryIncident"]
    assert retried == {"status": "RUNNING", "incident": None}
    assert list(open_tasks(await read(s.worker, started["id"]))) == ["big"]


# Service tasks


async def test_a_set_service_task_maps_its_output_into_the_variables(s: Scene) -> None:
    definition = process(
        "set",
        [
            {
                "id": "price",
                "type": "serviceTask",
                "action": "set",
                "input": {"total": "=price * quantity", "currency": "EUR"},
                "output": {"charged": "result.total + 1", "label": "result.currency"},
            },
            task("check", s.group),
        ],
        [("start", "price"), ("price", "check"), ("check", "end")],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"], price=20, quantity=3)

    found = await until(s.worker, started["id"], lambda f: bool(open_tasks(f)))
    # With an output mapping, only what it names is set.
    assert found["variables"] == {"price": 20, "quantity": 3, "charged": 61, "label": "EUR"}
    assert "SERVICE_COMPLETED" in types(found)


async def test_an_http_service_task_maps_the_answer_into_the_variables(
    s: Scene, stub: Stub
) -> None:
    url = stub.answer("/charge", 201, {"id": "ch_42"})
    definition = process(
        "http_ok",
        [http_task(url, output={"charge_id": "result.body.id", "code": "result.status"})],
        [("start", "call"), ("call", "end")],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"], amount=12)

    done = await until(s.worker, started["id"], status_is("COMPLETED"))
    assert done["variables"] == {"amount": 12, "charge_id": "ch_42", "code": 201}
    assert stub.received["/charge"] == [{"amount": 12}]


async def test_a_failing_http_task_is_retried_per_its_policy_then_an_incident_a_retry_resolves(
    s: Scene, stub: Stub, temporal: Client
) -> None:
    url = stub.answer("/flaky", 500, {"error": "down"})
    definition = process(
        "http_retry",
        [http_task(url, retry={"maxAttempts": 3, **FAST_RETRY})],
        [("start", "call"), ("call", "end")],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"], amount=1)

    stuck = await until(s.worker, started["id"], status_is("INCIDENT"))
    assert stub.hits["/flaky"] == 3
    assert "HTTP_5XX" in stuck["incident"] and "answered 500" in stuck["incident"]
    [failed] = [h for h in stuck["history"] if h["type"] == "SERVICE_FAILED"]
    assert failed["nodeId"] == "call" and failed["data"]["error_code"] == "HTTP_5XX"
    # An incident runs nothing until it is retried: no attempt is left pending in Temporal.
    assert await http_attempts(temporal, started["id"]) == [3]
    assert stub.hits["/flaky"] == 3

    stub.answer("/flaky", 200, {"ok": True})
    await s.worker.execute(RETRY, {"id": started["id"]})
    done = await until(s.worker, started["id"], status_is("COMPLETED"))
    assert stub.hits["/flaky"] == 4
    assert types(done).count("INCIDENT_RESOLVED") == 1 and done["incident"] is None


async def test_a_client_error_marked_non_retryable_fails_after_one_attempt(
    s: Scene, stub: Stub, temporal: Client
) -> None:
    url = stub.answer("/missing", 404, {"error": "no such account"})
    definition = process(
        "http_4xx",
        [http_task(url, retry={"maxAttempts": 5, "nonRetryable": ["HTTP_4XX"], **FAST_RETRY})],
        [("start", "call"), ("call", "end")],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"], amount=1)

    stuck = await until(s.worker, started["id"], status_is("INCIDENT"))
    assert "HTTP_4XX" in stuck["incident"]
    assert await http_attempts(temporal, started["id"]) == [1]
    assert stub.hits["/missing"] == 1


async def test_an_error_boundary_with_the_failures_code_takes_the_error_path(
    s: Scene, stub: Stub
) -> None:
    url = stub.answer("/refused", 402, {"error": "card declined"})
    definition = process(
        "http_boundary",
        [
            http_task(url, retry={"maxAttempts": 4, "nonRetryable": ["HTTP_4XX"], **FAST_RETRY}),
            {
                "id": "on_5xx",
                "type": "errorBoundary",
                "attachedTo": "call",
                "errorCode": "HTTP_5XX",
            },
            {
                "id": "on_4xx",
                "type": "errorBoundary",
                "attachedTo": "call",
                "errorCode": "HTTP_4XX",
            },
            task("outage", s.group),
            task("declined", s.group),
        ],
        [
            ("start", "call"),
            ("call", "end"),
            ("on_5xx", "outage"),
            ("on_4xx", "declined"),
            ("outage", "end"),
            ("declined", "end"),
        ],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"], amount=1)

    caught = await until(s.worker, started["id"], lambda f: bool(open_tasks(f)))
    assert caught["status"] == "RUNNING" and caught["incident"] is None
    assert list(open_tasks(caught)) == ["declined"]
    assert "on_4xx" in entered(caught) and "on_5xx" not in entered(caught)
    assert stub.hits["/refused"] == 1

    await complete(s.worker, open_tasks(caught)["declined"]["id"])
    assert (await read(s.worker, started["id"]))["status"] == "COMPLETED"


# Boundary timers and messages


async def test_an_interrupting_boundary_timer_cancels_the_task_and_leaves_by_its_path(
    s: Scene,
) -> None:
    definition = process(
        "interrupting",
        [
            task("review", s.group),
            {"id": "too_late", "type": "timer", "attachedTo": "review", "duration": "PT1S"},
            task("escalated", s.group),
        ],
        [("start", "review"), ("review", "end"), ("too_late", "escalated"), ("escalated", "end")],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"])
    [review] = started["tasks"]

    fired = await until(s.worker, started["id"], lambda f: "escalated" in open_tasks(f))
    statuses = {t["nodeId"]: t["status"] for t in fired["tasks"]}
    assert statuses == {"review": "CANCELLED", "escalated": "CREATED"}
    assert [t for t in types(fired) if t in ("TIMER_FIRED", "TASK_CANCELLED")] == [
        "TIMER_FIRED",
        "TASK_CANCELLED",
    ]
    refused = await s.worker.raw(
        "mutation($id: ID!) { completeTask(id: $id) { id } }", {"id": review["id"]}
    )
    assert refused["errors"][0]["extensions"]["code"] == "CONFLICT"

    await complete(s.worker, open_tasks(fired)["escalated"]["id"])
    assert (await read(s.worker, started["id"]))["status"] == "COMPLETED"


async def test_a_non_interrupting_boundary_timer_adds_an_escalation_while_the_task_stays_open(
    s: Scene,
) -> None:
    definition = process(
        "non_interrupting",
        [
            task("review", s.group),
            {
                "id": "remind",
                "type": "timer",
                "attachedTo": "review",
                "duration": "PT1S",
                "interrupting": False,
            },
            task("chase", s.group),
            {"id": "chased", "type": "endEvent"},
        ],
        [("start", "review"), ("review", "end"), ("remind", "chase"), ("chase", "chased")],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"])

    fired = await until(s.worker, started["id"], lambda f: "chase" in open_tasks(f))
    assert set(open_tasks(fired)) == {"review", "chase"}
    await complete(s.worker, open_tasks(fired)["chase"]["id"])
    assert (await read(s.worker, started["id"]))["status"] == "RUNNING"

    await complete(s.worker, open_tasks(fired)["review"]["id"])
    done = await read(s.worker, started["id"])
    assert done["status"] == "COMPLETED"
    assert types(done).count("TIMER_FIRED") == 1


async def test_a_receive_task_waits_for_its_message(s: Scene) -> None:
    definition = process(
        "receive",
        [{"id": "await_payment", "type": "receiveTask", "message": "payment_received"}],
        [("start", "await_payment"), ("await_payment", "end")],
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"], order=7)
    live = (await s.worker.execute(LIVE, {"id": started["id"]}))["processInstance"]["liveState"]
    assert [m["name"] for m in live["messages"]] == ["payment_received"]

    sent = await s.worker.execute(
        MESSAGE, {"id": started["id"], "name": "payment_received", "v": {"receipt": "r-1"}}
    )
    assert sent["sendMessage"] == {
        "status": "COMPLETED",
        "variables": {"order": 7, "receipt": "r-1"},
    }


# Call activities


async def test_a_call_activity_runs_a_child_instance_mapping_inputs_and_outputs(
    s: Scene,
) -> None:
    child = process("child", [task("grant", s.group)], [("start", "grant"), ("grant", "end")])
    await deploy(s.worker, child)
    parent = process(
        "parent",
        [
            {
                "id": "onboard",
                "type": "callActivity",
                "calledElement": child["key"],
                "inputs": {"employee": "=name", "team": {"id": "=team"}},
                "outputs": {"access_granted": "granted", "by": "employee"},
            }
        ],
        [("start", "onboard"), ("onboard", "end")],
    )
    await deploy(s.worker, parent)
    started = await start(s.worker, parent["key"], name="ada", team=3, secret="x")

    async def children() -> list[dict[str, Any]]:
        found = await s.worker.execute(CHILDREN, {"key": child["key"]})
        edges: list[dict[str, Any]] = found["processInstances"]["edges"]
        return edges

    edges = await eventually(children, what="the child instance")
    [kid] = [e["node"] for e in edges]
    assert kid["parent"] == {"id": started["id"]}
    assert kid["variables"] == {"employee": "ada", "team": {"id": 3}}
    assert kid["businessKey"] == started["businessKey"]
    assert (await read(s.worker, started["id"]))["status"] == "RUNNING"

    [grant] = kid["tasks"]
    await complete(s.worker, grant["id"], granted=True)
    done = await until(s.worker, started["id"], status_is("COMPLETED"))
    kid = await read(s.worker, kid["id"])
    assert kid["status"] == "COMPLETED"
    assert done["variables"] == {
        "name": "ada",
        "team": 3,
        "secret": "x",
        "access_granted": True,
        "by": "ada",
    }
    assert done["endedAt"] >= kid["endedAt"]
    assert [t for t in types(done) if "CHILD" in t] == ["CHILD_STARTED", "CHILD_COMPLETED"]


# Multi-instance user tasks


def reviews(group: str, usernames: list[str], **loop: Any) -> dict[str, Any]:
    return process(
        "reviews",
        [
            task(
                "review",
                group,
                assignee="=reviewer",
                form={"type": "object", "properties": {"ok": {"type": "boolean"}}},
                multiInstance={
                    "collection": usernames,
                    "elementVariable": "reviewer",
                    "outputCollection": "reviews",
                    **loop,
                },
            )
        ],
        [("start", "review"), ("review", "end")],
    )


async def test_parallel_multi_instance_tasks_end_once_the_completion_condition_holds(
    sessions: SessionMaker, s: Scene
) -> None:
    people = s.reviewers
    definition = reviews(
        s.group,
        [p.username for p in people],
        completionCondition="nrOfCompletedInstances >= 2",
    )
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"])
    # One task per reviewer, each assigned to its own.
    tasks = {t["assignee"]["username"]: t for t in started["tasks"]}
    assert set(tasks) == {p.username for p in people}
    assert {t["status"] for t in tasks.values()} == {"CLAIMED"}
    mine = [tasks[p.username]["id"] for p in people]

    await complete(people[2].client, mine[2], ok=False)
    assert (await read(s.worker, started["id"]))["status"] == "RUNNING"
    await complete(people[0].client, mine[0], ok=True)

    done = await read(s.worker, started["id"])
    assert done["status"] == "COMPLETED"
    statuses = {t["id"]: t["status"] for t in done["tasks"]}
    assert [statuses[i] for i in mine] == ["COMPLETED", "CANCELLED", "COMPLETED"]
    # In collection order, null for the task the loop cancelled.
    assert done["variables"] == {"reviews": [{"ok": True}, None, {"ok": False}]}
    # The loop cancelled it, nobody in particular: it is not put down to whoever
    # completed the task that ended the loop.
    async with sessions() as session:
        cancelled = await session.get(Task, decode_id(mine[1], "Task"))
    assert cancelled is not None and cancelled.completed_by is None
    assert cancelled.assignee_id == people[1].id


async def test_sequential_multi_instance_tasks_come_one_after_the_other(
    s: Scene,
) -> None:
    people = s.reviewers[:2]
    definition = reviews(s.group, [p.username for p in people], sequential=True)
    await deploy(s.worker, definition)
    started = await start(s.worker, definition["key"])
    [first] = started["tasks"]
    assert first["assignee"]["username"] == people[0].username

    await complete(people[0].client, first["id"], ok=True)
    middle = await read(s.worker, started["id"])
    [second] = open_tasks(middle).values()
    assert second["assignee"]["username"] == people[1].username

    await complete(people[1].client, second["id"], ok=False)
    done = await read(s.worker, started["id"])
    assert done["status"] == "COMPLETED"
    assert done["variables"] == {"reviews": [{"ok": True}, {"ok": False}]}


# Versions


async def test_a_redeploy_never_changes_a_running_instance(s: Scene) -> None:
    v1 = process(
        "versions",
        [task("draft", s.group, name="Draft v1"), task("sign", s.group, name="Sign v1")],
        [("start", "draft"), ("draft", "sign"), ("sign", "end")],
    )
    await deploy(s.worker, v1)
    started = await start(s.worker, v1["key"])
    v2 = {
        **v1,
        "nodes": [
            {"id": "start", "type": "startEvent"},
            task("draft", s.group, name="Draft v2"),
            task("approve", s.group, name="Approve v2"),
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            {"from": "start", "to": "draft"},
            {"from": "draft", "to": "approve"},
            {"from": "approve", "to": "end"},
        ],
    }
    assert (await deploy(s.worker, v2))["version"] == 2

    [draft] = started["tasks"]
    await complete(s.worker, draft["id"])
    middle = await read(s.worker, started["id"])
    assert middle["definition"]["version"] == 1
    assert [(t["nodeId"], t["name"]) for t in middle["tasks"]] == [
        ("draft", "Draft v1"),
        ("sign", "Sign v1"),
    ]
    await complete(s.worker, open_tasks(middle)["sign"]["id"])
    assert (await read(s.worker, started["id"]))["status"] == "COMPLETED"

    fresh = await start(s.worker, v1["key"])
    assert [t["name"] for t in fresh["tasks"]] == ["Draft v2"]
