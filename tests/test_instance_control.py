"""Controlling instances and definitions through GraphQL: suspend, resume, cancel,
terminate, set variables, messages, the live state, who may do each; suspending and
activating definitions, validating, exporting, the published JSON Schema, BPMN deploys,
and listing instances. Every refusal says why with its code and changes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus

from api.auth.tokens import TokenIssuer
from api.db import SessionMaker
from api.models import PendingCompletion, ProcessDefinition, ProcessInstance, Task
from api.services.users import UserService
from api.settings import Settings
from engine.enums import TaskStatus
from engine.workflow_contract import workflow_id
from schema.ids import decode_id
from tests.client import GraphQLClient
from tests.factories import (
    TEMPLATES,
    claim,
    complete,
    deploy,
    fresh_key,
    one_task,
    process,
    start,
    task,
    template,
)
from tests.kit.instances import LIVE, READ, live, read, until
from tests.kit.operations import CANCEL, COMPLETE, RESUME, RETRY, SET_VARIABLES, START, SUSPEND
from tests.kit.people import make_user
from tests.kit.waiting import eventually

BPMN = Path(__file__).resolve().parent / "bpmn"

TERMINATE = "mutation($id: ID!, $r: String) { terminateInstance(id: $id, reason: $r) { status } }"
MESSAGE = """mutation($id: ID, $bk: String, $name: String!, $v: JSON) {
  sendMessage(instanceId: $id, businessKey: $bk, name: $name, variables: $v) { id status variables }
}"""
INSTANCES = """query($f: ProcessInstanceFilter, $first: Int, $after: String) {
  processInstances(filter: $f, first: $first, after: $after) {
    edges { cursor node { id status businessKey } } pageInfo { hasNextPage endCursor }
  }
}"""
SUSPEND_DEFINITION = (
    "mutation($k: String!, $v: Int) "
    "{ suspendDefinition(key: $k, version: $v) { version suspended } }"
)
ACTIVATE_DEFINITION = (
    "mutation($k: String!, $v: Int) "
    "{ activateDefinition(key: $k, version: $v) { version suspended } }"
)
VALIDATE = """query($d: JSON, $x: String) {
  validateDefinition(definition: $d, bpmnXml: $x) { path nodeId message }
}"""
EXPORT = "query($k: String!, $v: Int) { exportDefinition(key: $k, version: $v) }"
DEPLOY_XML = (
    "mutation($x: String!) { deployDefinition(bpmnXml: $x) { id key version checksum spec } }"
)


async def refused(client: GraphQLClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The one error of an operation that must fail."""
    body = await client.raw(query, variables)
    assert body.get("errors"), f"expected a refusal, got {body}"
    [error] = body["errors"]
    return dict(error)


async def code_of(client: GraphQLClient, query: str, variables: dict[str, Any]) -> str:
    return str((await refused(client, query, variables))["extensions"]["code"])


def types(found: dict[str, Any]) -> list[str]:
    return [h["type"] for h in found["history"]]


def uid(global_id: str, type_name: str) -> uuid.UUID:
    return decode_id(global_id, type_name)


async def task_row(sessions: SessionMaker, task_id: str) -> Task:
    async with sessions() as session:
        row = await session.get(Task, uid(task_id, "Task"))
    assert row is not None
    return row


async def instance_row(sessions: SessionMaker, instance_id: str) -> ProcessInstance:
    async with sessions() as session:
        row = await session.get(ProcessInstance, uid(instance_id, "ProcessInstance"))
    assert row is not None
    return row


@dataclass
class Scene:
    group: str
    starter: GraphQLClient
    candidate: GraphQLClient  # in `group`: may see the instances through their tasks
    outsider: GraphQLClient
    admin: GraphQLClient
    starter_name: str
    admin_name: str


ROLES = ("starter", "candidate", "outsider", "admin")


@pytest.fixture(scope="module")
async def people(users: UserService, settings: Settings) -> dict[str, Any]:
    """One cast for the module (passwords are slow to hash); tests isolate themselves
    with fresh definitions."""
    group = f"team-{uuid.uuid4().hex[:10]}"
    made = {
        "starter": await make_user(users),
        "candidate": await make_user(users, groups=[group]),
        "outsider": await make_user(users),
        "admin": await make_user(users, admin=True),
    }
    issuer = TokenIssuer(settings)
    return {
        "group": group,
        "names": {role: user.username for role, user in made.items()},
        "tokens": {role: issuer.issue(user.id, user.username) for role, user in made.items()},
    }


@pytest.fixture
def s(client: GraphQLClient, people: dict[str, Any]) -> Scene:
    as_ = {role: GraphQLClient(client.http, people["tokens"][role]) for role in ROLES}
    return Scene(
        group=people["group"],
        starter=as_["starter"],
        candidate=as_["candidate"],
        outsider=as_["outsider"],
        admin=as_["admin"],
        starter_name=people["names"]["starter"],
        admin_name=people["names"]["admin"],
    )


async def one_task_instance(s: Scene, **variables: Any) -> dict[str, Any]:
    definition = await deploy(s.starter, one_task(group=s.group))
    return await start(s.starter, definition["key"], **variables)


async def parent_and_child(s: Scene) -> tuple[dict[str, Any], dict[str, Any]]:
    """An instance waiting on a task with a boundary timer, and on a child instance
    (itself waiting on a task) in a parallel branch."""
    child = process(
        "child", [task("child_work", s.group)], [("start", "child_work"), ("child_work", "end")]
    )
    await deploy(s.starter, child)
    parent = process(
        "parent",
        [
            {"id": "fork", "type": "parallelGateway"},
            task("work", s.group),
            {
                "id": "nag",
                "type": "timer",
                "attachedTo": "work",
                "duration": "PT1H",
                "interrupting": False,
            },
            {"id": "sub", "type": "callActivity", "calledElement": child["key"]},
            {"id": "join", "type": "parallelGateway"},
            {"id": "nagged", "type": "endEvent"},
        ],
        [
            ("start", "fork"),
            ("fork", "work"),
            ("fork", "sub"),
            ("work", "join"),
            ("sub", "join"),
            ("join", "end"),
            ("nag", "nagged"),
        ],
    )
    await deploy(s.starter, parent)
    started = await start(s.starter, parent["key"])
    kid = await child_of(s.starter, child["key"])
    return started, kid


async def child_of(client: GraphQLClient, child_key: str) -> dict[str, Any]:

    async def child_with_its_task() -> dict[str, Any] | None:
        edges = (await client.execute(INSTANCES, {"f": {"definitionKey": child_key}}))[
            "processInstances"
        ]["edges"]
        if edges and (await read(client, edges[0]["node"]["id"]))["tasks"]:
            return await read(client, edges[0]["node"]["id"])
        return None

    kid = await eventually(child_with_its_task, what="the child instance's task")
    assert kid is not None
    return kid


# Suspend and resume


async def test_a_suspended_instance_refuses_task_completions_until_resumed(
    s: Scene, sessions: SessionMaker
) -> None:
    started = await one_task_instance(s)
    [work] = started["tasks"]
    await claim(s.candidate, work["id"])

    suspended = await s.starter.execute(SUSPEND, {"id": started["id"], "r": "audit"})
    assert suspended["suspendInstance"]["status"] == "SUSPENDED"
    before = await read(s.starter, started["id"])
    assert before["history"][-1]["type"] == "INSTANCE_SUSPENDED"
    assert before["history"][-1]["data"] == {"reason": "audit"}
    assert before["history"][-1]["actor"] == {"username": s.starter_name}

    assert await code_of(s.candidate, COMPLETE, {"id": work["id"]}) == "CONFLICT"
    # The task is back as it was, not stuck COMPLETING, and nothing else moved.
    row = await task_row(sessions, work["id"])
    assert row.status is TaskStatus.CLAIMED
    async with sessions() as session:
        pending = await session.exec(
            select(PendingCompletion).where(col(PendingCompletion.task_id) == row.id)
        )
        assert pending.all() == []
    after = await read(s.starter, started["id"])
    assert after == before
    assert (await live(s.starter, started["id"]))["status"] == "SUSPENDED"

    resumed = await s.starter.execute(RESUME, {"id": started["id"]})
    assert resumed["resumeInstance"]["status"] == "RUNNING"
    await complete(s.candidate, work["id"])
    done = await read(s.starter, started["id"])
    assert done["status"] == "COMPLETED"
    assert types(done)[-6:] == [
        "INSTANCE_RESUMED",
        "TASK_COMPLETED",
        "NODE_LEFT",
        "NODE_ENTERED",
        "NODE_LEFT",
        "INSTANCE_COMPLETED",
    ]


async def test_a_timer_that_fires_while_suspended_applies_on_resume(s: Scene) -> None:
    definition = process(
        "timer",
        [{"id": "wait", "type": "timer", "duration": "PT1S"}, task("after", s.group)],
        [("start", "wait"), ("wait", "after"), ("after", "end")],
    )
    await deploy(s.starter, definition)
    started = await start(s.starter, definition["key"])
    await s.starter.execute(SUSPEND, {"id": started["id"]})

    # The timer fires (PT1S) and the workflow keeps it for later.
    state = await eventually(
        lambda: live(s.starter, started["id"]), lambda found: bool(found["deferred"])
    )
    assert [d["kind"] for d in state["deferred"]] == ["timer_fired"]
    assert state["status"] == "SUSPENDED" and state["tasks"] == []
    waiting = await read(s.starter, started["id"])
    assert waiting["status"] == "SUSPENDED" and waiting["tasks"] == []
    assert "TIMER_FIRED" not in types(waiting)

    await s.starter.execute(RESUME, {"id": started["id"]})
    resumed = await read(s.starter, started["id"])
    assert resumed["status"] == "RUNNING"
    assert [t["nodeId"] for t in resumed["tasks"]] == ["after"]
    tail = types(resumed)[types(resumed).index("INSTANCE_RESUMED") :]
    assert tail[:2] == ["INSTANCE_RESUMED", "TIMER_FIRED"] and "TASK_CREATED" in tail
    assert (await live(s.starter, started["id"]))["deferred"] == []


async def test_suspending_a_suspended_or_resuming_a_running_instance_is_a_conflict(
    s: Scene,
) -> None:
    started = await one_task_instance(s)
    running = await read(s.starter, started["id"])
    assert await code_of(s.starter, RESUME, {"id": started["id"]}) == "CONFLICT"
    assert await read(s.starter, started["id"]) == running

    await s.starter.execute(SUSPEND, {"id": started["id"]})
    suspended = await read(s.starter, started["id"])
    assert await code_of(s.starter, SUSPEND, {"id": started["id"]}) == "CONFLICT"
    assert await code_of(s.starter, RETRY, {"id": started["id"]}) == "CONFLICT"
    assert await read(s.starter, started["id"]) == suspended


CONTROLS: dict[str, tuple[str, dict[str, Any]]] = {
    "suspend": (SUSPEND, {}),
    "resume": (RESUME, {}),
    "cancel": (CANCEL, {"r": "again"}),
    "terminate": (TERMINATE, {"r": "again"}),
    "set-variables": (SET_VARIABLES, {"v": {"late": True}}),
    "retry-incident": (RETRY, {}),
    "message": (MESSAGE, {"name": "anything"}),
}


async def _completed(s: Scene, instance_id: str) -> None:
    work = (await read(s.starter, instance_id))["tasks"][0]
    await complete(s.candidate, work["id"])


async def _cancelled(s: Scene, instance_id: str) -> None:
    await s.starter.execute(CANCEL, {"id": instance_id})


async def _terminated(s: Scene, instance_id: str) -> None:
    await s.starter.execute(TERMINATE, {"id": instance_id})


ENDINGS: dict[str, Callable[[Scene, str], Awaitable[None]]] = {
    "completed": _completed,
    "cancelled": _cancelled,
    "terminated": _terminated,
}


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_no_control_applies_to_an_instance_that_has_ended(
    s: Scene, sessions: SessionMaker, ending: str
) -> None:
    started = await one_task_instance(s)
    await ENDINGS[ending](s, started["id"])
    ended = await read(s.starter, started["id"])
    assert ended["status"] == ending.upper()
    row = await instance_row(sessions, started["id"])

    for name, (query, extra) in CONTROLS.items():
        # Setting variables takes instance:manage, which the starter lacks.
        for caller in (s.admin,) if name == "set-variables" else (s.starter, s.admin):
            error = await refused(caller, query, {"id": started["id"], **extra})
            assert error["extensions"]["code"] == "CONFLICT", (name, error)

    assert await read(s.starter, started["id"]) == ended
    assert (await instance_row(sessions, started["id"])).model_dump() == row.model_dump()


# Cancel and terminate


async def test_cancelling_closes_tasks_timers_and_children_and_says_who_and_why(
    s: Scene, temporal: Client, sessions: SessionMaker
) -> None:
    started, kid = await parent_and_child(s)
    assert [t["nodeId"] for t in kid["tasks"]] == ["child_work"]

    cancelled = await s.starter.execute(CANCEL, {"id": started["id"], "r": "duplicate order"})
    assert cancelled["cancelInstance"]["status"] == "CANCELLED"

    found = await read(s.starter, started["id"])
    assert found["status"] == "CANCELLED" and found["endedAt"] is not None
    assert {t["status"] for t in found["tasks"]} == {"CANCELLED"}
    [work] = found["tasks"]
    [closed] = [h for h in found["history"] if h["type"] == "TASK_CANCELLED"]
    assert closed["taskId"] == work["id"]
    assert closed["actor"] == {"username": s.starter_name}
    # Cancelling hands the task to no one.
    assert (await task_row(sessions, work["id"])).assignee_id is None
    assert {"TIMER_CANCELLED", "CHILD_CANCELLED"} <= set(types(found))
    last = found["history"][-1]
    assert last["type"] == "INSTANCE_CANCELLED"
    assert last["actor"] == {"username": s.starter_name}
    assert last["data"] == {"reason": "duplicate order"}
    assert (await live(s.starter, started["id"]))["timers"] == []

    # The child is cancelled too, with its own cleanup: its task closes, and it ends
    # CANCELLED rather than being cut off.
    child = await until(s.starter, kid["id"], lambda f: f["status"] != "RUNNING")
    assert child["status"] == "CANCELLED"
    assert {t["status"] for t in child["tasks"]} == {"CANCELLED"}
    assert "INSTANCE_CANCELLED" in types(child)
    # The workflows end right after writing their last step: they end, not linger.
    for each in (started["id"], kid["id"]):
        handle = temporal.get_workflow_handle(workflow_id(str(uid(each, "ProcessInstance"))))
        result = await asyncio.wait_for(handle.result(), timeout=10)
        assert result["status"] == "CANCELLED"
        assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED


async def test_terminating_stops_the_workflows_and_closes_the_rows_of_the_instance_and_its_child(
    s: Scene, temporal: Client, sessions: SessionMaker
) -> None:
    started, kid = await parent_and_child(s)

    terminated = await s.admin.execute(TERMINATE, {"id": started["id"], "r": "runaway"})
    assert terminated["terminateInstance"]["status"] == "TERMINATED"

    for each in (started["id"], kid["id"]):
        found = await read(s.admin, each)
        assert found["status"] == "TERMINATED" and found["endedAt"] is not None
        assert {t["status"] for t in found["tasks"]} == {"CANCELLED"}
        last = found["history"][-1]
        assert last["type"] == "INSTANCE_TERMINATED"
        assert last["actor"] == {"username": s.admin_name}
        assert last["data"] == {"reason": "runaway"}
        seqs = [h["seq"] for h in found["history"]]
        assert seqs == list(range(1, len(seqs) + 1))
        handle = temporal.get_workflow_handle(workflow_id(str(uid(each, "ProcessInstance"))))
        assert (await handle.describe()).status is WorkflowExecutionStatus.TERMINATED
        assert (await live(s.admin, each))["timers"] == []
        # Not handed to the admin who terminated it.
        for t in found["tasks"]:
            assert (await task_row(sessions, t["id"])).assignee_id is None


# Variables and messages


async def test_setting_variables_merges_them_and_records_the_change(s: Scene) -> None:
    started = await one_task_instance(s, a=1, b=2)

    changed = await s.admin.execute(SET_VARIABLES, {"id": started["id"], "v": {"b": 3, "c": [4]}})
    assert changed["setInstanceVariables"] == {
        "status": "RUNNING",
        "variables": {"a": 1, "b": 3, "c": [4]},
    }
    last = (await read(s.starter, started["id"]))["history"][-1]
    assert last["type"] == "VARIABLES_UPDATED"
    assert last["data"] == {"variables": {"b": 3, "c": [4]}}
    assert last["actor"] == {"username": s.admin_name}

    before = await read(s.starter, started["id"])
    bad: Any
    for bad in ([1, 2], {}, "x"):
        assert await code_of(s.admin, SET_VARIABLES, {"id": started["id"], "v": bad}) == (
            "BAD_USER_INPUT"
        )
    assert await read(s.starter, started["id"]) == before


def two_messages(group: str) -> dict[str, Any]:
    return process(
        "messages",
        [
            {"id": "paid", "type": "receiveTask", "message": "payment_received"},
            {"id": "shipped", "type": "receiveTask", "message": "parcel_shipped"},
        ],
        [("start", "paid"), ("paid", "shipped"), ("shipped", "end")],
    )


async def test_a_message_reaches_its_instance_by_id_or_by_business_key(s: Scene) -> None:
    definition = await deploy(s.starter, two_messages(s.group))
    business_key = f"order-{uuid.uuid4().hex[:8]}"
    started = await start(s.starter, definition["key"], business_key=business_key)

    by_id = await s.starter.execute(
        MESSAGE, {"id": started["id"], "name": "payment_received", "v": {"paid": 10}}
    )
    assert by_id["sendMessage"]["status"] == "RUNNING"
    by_key = await s.starter.execute(
        MESSAGE, {"bk": business_key, "name": "parcel_shipped", "v": {"tracking": "T1"}}
    )
    assert by_key["sendMessage"] == {
        "id": started["id"],
        "status": "COMPLETED",
        "variables": {"paid": 10, "tracking": "T1"},
    }
    received = [
        h
        for h in (await read(s.starter, started["id"]))["history"]
        if h["type"] == "MESSAGE_RECEIVED"
    ]
    assert [(h["nodeId"], h["data"]["name"]) for h in received] == [
        ("paid", "payment_received"),
        ("shipped", "parcel_shipped"),
    ]


async def test_a_business_key_of_two_open_instances_is_a_conflict_and_an_unknown_one_not_found(
    s: Scene,
) -> None:
    definition = await deploy(s.starter, two_messages(s.group))
    business_key = f"order-{uuid.uuid4().hex[:8]}"
    first = await start(s.starter, definition["key"], business_key=business_key)
    second = await start(s.starter, definition["key"], business_key=business_key)
    before = [await read(s.starter, i["id"]) for i in (first, second)]

    shared = {"bk": business_key, "name": "payment_received"}
    assert await code_of(s.starter, MESSAGE, shared) == "CONFLICT"
    unknown = {"bk": f"nobody-{uuid.uuid4().hex}", "name": "payment_received"}
    assert await code_of(s.starter, MESSAGE, unknown) == "NOT_FOUND"
    both = {"id": first["id"], "bk": business_key, "name": "payment_received"}
    assert await code_of(s.starter, MESSAGE, both) == "BAD_USER_INPUT"
    assert [await read(s.starter, i["id"]) for i in (first, second)] == before


async def test_a_business_key_counts_only_the_instances_the_caller_may_see(s: Scene) -> None:
    definition = await deploy(s.starter, two_messages(s.group))
    business_key = f"order-{uuid.uuid4().hex[:8]}"
    theirs = await start(s.outsider, definition["key"], business_key=business_key)
    mine = await start(s.starter, definition["key"], business_key=business_key)

    message = {"bk": business_key, "name": "payment_received"}
    assert (await s.starter.execute(MESSAGE, message))["sendMessage"]["id"] == mine["id"]
    assert (await s.outsider.execute(MESSAGE, message))["sendMessage"]["id"] == theirs["id"]
    # Someone who may see neither hears of none.
    stranger = {"bk": business_key, "name": "parcel_shipped"}
    assert await code_of(s.candidate, MESSAGE, stranger) == "NOT_FOUND"
    for each in (mine, theirs):
        found = await read(s.admin, each["id"])
        assert [h["type"] for h in found["history"]].count("MESSAGE_RECEIVED") == 1
    assert await code_of(s.admin, MESSAGE, stranger) == "CONFLICT"


async def test_a_message_nobody_waits_for_is_a_conflict_and_changes_nothing(s: Scene) -> None:
    definition = await deploy(s.starter, two_messages(s.group))
    started = await start(s.starter, definition["key"])
    before = await read(s.starter, started["id"])

    error = await refused(s.starter, MESSAGE, {"id": started["id"], "name": "parcel_shipped"})
    assert error["extensions"]["code"] == "CONFLICT"
    assert "payment_received" in error["message"]
    assert await read(s.starter, started["id"]) == before
    assert [m["name"] for m in (await live(s.starter, started["id"]))["messages"]] == [
        "payment_received"
    ]


# The live state


async def test_the_live_state_shows_active_nodes_waiting_timers_and_open_tasks(
    s: Scene,
) -> None:
    definition = process(
        "live",
        [
            {"id": "fork", "type": "parallelGateway"},
            task("work", s.group),
            {
                "id": "nag",
                "type": "timer",
                "attachedTo": "work",
                "duration": "PT1H",
                "interrupting": False,
            },
            {"id": "cool_off", "type": "timer", "duration": "PT2H"},
            {"id": "join", "type": "parallelGateway"},
            {"id": "nagged", "type": "endEvent"},
        ],
        [
            ("start", "fork"),
            ("fork", "work"),
            ("fork", "cool_off"),
            ("work", "join"),
            ("cool_off", "join"),
            ("join", "end"),
            ("nag", "nagged"),
        ],
    )
    await deploy(s.starter, definition)
    started = await start(s.starter, definition["key"])
    [work] = started["tasks"]

    state = await live(s.candidate, started["id"])
    assert state["status"] == "RUNNING"
    assert {n["node_id"]: n["type"] for n in state["active_nodes"]} == {
        "work": "userTask",
        "cool_off": "timer",
    }
    assert {t["node_id"]: t["attached_to"] for t in state["timers"]} == {
        "nag": "work",
        "cool_off": None,
    }
    assert [(t["task_id"], t["node_id"]) for t in state["tasks"]] == [
        (str(uid(work["id"], "Task")), "work")
    ]
    assert await code_of(s.outsider, LIVE, {"id": started["id"]}) == "NOT_FOUND"

    # Once the instance has ended, the same shape, empty.
    await s.starter.execute(CANCEL, {"id": started["id"]})
    ended = await live(s.starter, started["id"])
    assert ended["status"] == "CANCELLED"
    assert ended["active_nodes"] == ended["timers"] == ended["tasks"] == []


async def test_seeing_a_child_instance_does_not_open_its_parent(
    s: Scene, users: UserService, client: GraphQLClient
) -> None:
    other = f"other-{uuid.uuid4().hex[:8]}"
    helper = await make_user(users, groups=[other])
    as_helper = await client.login(helper.username)
    child = process("child", [task("help", other)], [("start", "help"), ("help", "end")])
    await deploy(s.starter, child)
    parent = process(
        "parent",
        [
            task("own", s.group),
            {"id": "sub", "type": "callActivity", "calledElement": child["key"]},
        ],
        [("start", "own"), ("own", "sub"), ("sub", "end")],
    )
    await deploy(s.starter, parent)
    started = await start(s.starter, parent["key"])
    await complete(s.candidate, started["tasks"][0]["id"])
    kid = await child_of(s.starter, child["key"])
    assert kid["parent"] == {"id": started["id"]}

    seen = await read(as_helper, kid["id"])
    assert seen["parent"] is None
    assert await code_of(as_helper, READ, {"id": started["id"]}) == "NOT_FOUND"


# Who may


async def test_only_the_starter_and_admins_may_control_an_instance(
    s: Scene, sessions: SessionMaker
) -> None:
    started = await one_task_instance(s)
    before = await read(s.starter, started["id"])
    row = await instance_row(sessions, started["id"])

    for name, (query, extra) in CONTROLS.items():
        if name == "message":
            continue
        variables = {"id": started["id"], **extra}
        assert await code_of(s.candidate, query, variables) == "FORBIDDEN", name
        # Who may not see the instance is not told that it exists.
        expected = "FORBIDDEN" if name == "set-variables" else "NOT_FOUND"
        assert await code_of(s.outsider, query, variables) == expected, name
    assert await code_of(s.outsider, MESSAGE, {"id": started["id"], "name": "x"}) == "NOT_FOUND"
    assert await read(s.starter, started["id"]) == before
    assert (await instance_row(sessions, started["id"])).model_dump() == row.model_dump()

    await s.admin.execute(SUSPEND, {"id": started["id"]})
    await s.starter.execute(RESUME, {"id": started["id"]})
    await s.admin.execute(SET_VARIABLES, {"id": started["id"], "v": {"by": "admin"}})
    await s.starter.execute(CANCEL, {"id": started["id"]})
    assert (await read(s.starter, started["id"]))["status"] == "CANCELLED"


# Definitions


async def test_a_suspended_definition_starts_nothing_until_activated(
    s: Scene, sessions: SessionMaker
) -> None:
    definition = await deploy(s.starter, one_task(group=s.group))
    running = await start(s.starter, definition["key"])

    assert await code_of(s.starter, SUSPEND_DEFINITION, {"k": definition["key"]}) == "FORBIDDEN"
    suspended = await s.admin.execute(SUSPEND_DEFINITION, {"k": definition["key"], "v": 1})
    assert suspended["suspendDefinition"] == {"version": 1, "suspended": True}

    assert await code_of(s.starter, START, {"k": definition["key"]}) == "CONFLICT"
    async with sessions() as session:
        count = await session.exec(
            select(sa.func.count())
            .select_from(ProcessInstance)
            .where(col(ProcessInstance.definition_id) == uid(definition["id"], "ProcessDefinition"))
        )
        assert count.one() == 1
    # Instances already running go on.
    await complete(s.candidate, running["tasks"][0]["id"])

    assert await code_of(s.starter, ACTIVATE_DEFINITION, {"k": definition["key"]}) == "FORBIDDEN"
    async with sessions() as session:
        row = await session.get(ProcessDefinition, uid(definition["id"], "ProcessDefinition"))
        assert row is not None and row.suspended
    activated = await s.admin.execute(ACTIVATE_DEFINITION, {"k": definition["key"]})
    assert activated["activateDefinition"] == {"version": 1, "suspended": False}
    assert (await s.starter.execute(START, {"k": definition["key"]}))["startProcess"]["status"] == (
        "RUNNING"
    )


async def test_validating_lists_problems_without_deploying(
    s: Scene, sessions: SessionMaker
) -> None:
    broken = one_task(group=s.group)
    broken["nodes"][1]["priority"] = 500
    broken["flows"].append({"from": "start", "to": "nowhere"})
    problems = (await s.starter.execute(VALIDATE, {"d": broken}))["validateDefinition"]
    assert problems and all(p["message"] for p in problems)
    assert "nodes[1].priority" in {p["path"] for p in problems}

    valid = one_task(group=s.group)
    assert (await s.starter.execute(VALIDATE, {"d": valid}))["validateDefinition"] == []
    samples = sorted(BPMN.glob("*.bpmn"))
    assert samples
    found = {
        sample.name: (await s.starter.execute(VALIDATE, {"x": sample.read_text()}))[
            "validateDefinition"
        ]
        for sample in samples
    }
    # The order calls an invoicing process that is not deployed here.
    assert [p["nodeId"] for p in found.pop("order_zeebe.bpmn")] == ["Activity_invoice"]
    assert found == {name: [] for name in found}
    bpmn = (BPMN / "leave_request_camunda7.bpmn").read_text()
    invalid_bpmn = bpmn.replace('targetRef="decide"', 'targetRef="nowhere"')
    for document in (invalid_bpmn, "not even XML"):
        problems = (await s.starter.execute(VALIDATE, {"x": document}))["validateDefinition"]
        assert problems and all(p["message"] for p in problems), document

    async with sessions() as session:
        rows = await session.exec(
            select(ProcessDefinition).where(
                col(ProcessDefinition.key).in_([broken["key"], valid["key"]])
            )
        )
        assert rows.all() == []


async def test_an_exported_definition_redeploys_as_the_same_version(s: Scene) -> None:
    deployed = await deploy(s.starter, template("expense_approval"))
    exported = (await s.starter.execute(EXPORT, {"k": deployed["key"]}))["exportDefinition"]
    assert exported["key"] == deployed["key"]

    again = await deploy(s.starter, exported)
    assert again == deployed


async def test_the_definition_schema_is_a_json_schema_the_shipped_templates_satisfy(
    s: Scene,
) -> None:
    schema = (await s.starter.execute("{ definitionSchema }"))["definitionSchema"]
    validator = jsonschema.Draft202012Validator
    validator.check_schema(schema)
    templates = sorted(TEMPLATES.glob("*.json"))
    assert templates
    for path in templates:
        validator(schema).validate(json.loads(path.read_text()))

    wrong = one_task()
    wrong["nodes"][1]["colour"] = "red"
    del wrong["nodes"][0]["type"]
    assert len(list(validator(schema).iter_errors(wrong))) >= 2


async def test_a_bpmn_document_deploys_and_runs(s: Scene, users: UserService) -> None:
    manager = await make_user(users)
    as_manager = await s.starter.login(manager.username)
    process_key = fresh_key("leave_bpmn")
    xml = (BPMN / "leave_request_camunda7.bpmn").read_text()
    xml = xml.replace('process id="leave_request"', f'process id="{process_key}"')

    deployed = (await s.starter.execute(DEPLOY_XML, {"x": xml}))["deployDefinition"]
    assert (deployed["key"], deployed["version"]) == (process_key, 1)
    assert {n["id"] for n in deployed["spec"]["nodes"]} >= {"start", "review", "decide"}

    started = await start(s.starter, process_key, days=3, manager=manager.username)
    [review] = started["tasks"]
    assert review["nodeId"] == "review" and review["status"] == "CLAIMED"
    await complete(as_manager, review["id"], approved=True)
    done = await read(s.starter, started["id"])
    assert done["status"] == "COMPLETED"
    assert "approved" in [h["nodeId"] for h in done["history"] if h["type"] == "NODE_ENTERED"]


async def test_an_invalid_bpmn_document_is_bad_user_input_with_its_problems(
    s: Scene, sessions: SessionMaker
) -> None:
    process_key = fresh_key("broken_bpmn")
    xml = (BPMN / "leave_request_camunda7.bpmn").read_text()
    xml = xml.replace('process id="leave_request"', f'process id="{process_key}"')
    xml = xml.replace(
        'sourceRef="review" targetRef="decide"', 'sourceRef="review" targetRef="gone"'
    )

    for document in (xml, "<definitions>not BPMN</definitions>", "not even XML"):
        error = await refused(s.starter, DEPLOY_XML, {"x": document})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["extensions"]["problems"], error
    async with sessions() as session:
        rows = await session.exec(
            select(ProcessDefinition).where(col(ProcessDefinition.key) == process_key)
        )
        assert rows.all() == []


async def test_a_call_activity_to_a_key_not_deployed_is_bad_user_input_naming_the_node(
    s: Scene,
) -> None:
    missing = fresh_key("missing")
    definition = process(
        "caller",
        [{"id": "call_it", "type": "callActivity", "calledElement": missing}],
        [("start", "call_it"), ("call_it", "end")],
    )
    error = await refused(
        s.starter,
        "mutation($d: JSON!) { deployDefinition(definition: $d) { id } }",
        {"d": definition},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["problems"] == [
        {
            "path": "nodes[1].calledElement",
            "nodeId": "call_it",
            "message": f"no process definition '{missing}' is deployed",
        }
    ]


# Listing instances


async def test_process_instances_lists_what_the_caller_may_see_filtered_and_paged(
    s: Scene, users: UserService
) -> None:
    definition = await deploy(s.starter, one_task(group=s.group))
    other_group = await deploy(s.starter, one_task(group=f"other-{uuid.uuid4().hex[:8]}"))
    mine = [await start(s.starter, definition["key"], business_key=f"bk-{i}") for i in range(3)]
    hidden = await start(s.starter, other_group["key"])
    by_candidate = await start(s.candidate, definition["key"], business_key="bk-0")
    await complete(s.candidate, mine[0]["tasks"][0]["id"])

    async def ids(client: GraphQLClient, **f: Any) -> list[str]:
        f.setdefault("definitionKey", definition["key"])
        edges = (await client.execute(INSTANCES, {"f": f}))["processInstances"]["edges"]
        return [e["node"]["id"] for e in edges]

    everyone = [by_candidate["id"], *(i["id"] for i in reversed(mine))]  # newest first
    starters = everyone[1:]
    assert await ids(s.starter) == starters  # not the candidate's own instance
    assert await ids(s.candidate) == everyone  # a candidate of every task
    assert await ids(s.admin) == everyone
    assert await ids(s.outsider) == []
    assert await ids(s.outsider, definitionKey=other_group["key"]) == []
    assert await ids(s.candidate, definitionKey=other_group["key"]) == []
    assert await ids(s.starter, definitionKey=other_group["key"]) == [hidden["id"]]

    assert await ids(s.starter, status=["COMPLETED"]) == [mine[0]["id"]]
    assert await ids(s.candidate, status=["RUNNING", "SUSPENDED"]) == everyone[:3]
    assert await ids(s.starter, businessKey="bk-0") == [mine[0]["id"]]
    assert await ids(s.admin, businessKey="bk-0") == [by_candidate["id"], mine[0]["id"]]
    assert await ids(s.starter, startedByMe=True) == starters
    assert await ids(s.starter, startedByMe=False) == []
    assert await ids(s.candidate, startedByMe=True) == [by_candidate["id"]]
    assert await ids(s.candidate, startedByMe=False) == starters

    seen: list[str] = []
    after = None
    while True:
        page = (
            await s.candidate.execute(
                INSTANCES, {"f": {"definitionKey": definition["key"]}, "first": 3, "after": after}
            )
        )["processInstances"]
        seen += [e["node"]["id"] for e in page["edges"]]
        assert len(page["edges"]) <= 3
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == everyone
    bad = {"f": None, "first": 2, "after": "nonsense"}
    assert await code_of(s.starter, INSTANCES, bad) == "BAD_USER_INPUT"
