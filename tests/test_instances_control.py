"""Controlling an instance through GraphQL: suspend and resume, cancel and terminate, and who may
do each; nothing applies to an instance that has ended. Every refusal says why with its
code and changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus

from api.db import SessionMaker
from api.models import PendingCompletion, ProcessInstance, Task
from api.services.users import UserService
from api.settings import Settings
from engine.enums import TaskStatus
from engine.workflow_contract import workflow_id
from tests.client import GraphQLClient
from tests.factories import (
    claim,
    complete,
    deploy,
    process,
    start,
    task,
)
from tests.instance_scene import (
    MESSAGE,
    Scene,
    cast,
    child_of,
    code_of,
    one_task_instance,
    refused,
    scene,
    uid,
)
from tests.kit.instances import live, read, until
from tests.kit.operations import CANCEL, COMPLETE, RESUME, RETRY, SET_VARIABLES, SUSPEND
from tests.kit.waiting import eventually

TERMINATE = "mutation($id: ID!, $r: String) { terminateInstance(id: $id, reason: $r) { status } }"


def types(found: dict[str, Any]) -> list[str]:
    return [h["type"] for h in found["history"]]


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


@pytest.fixture(scope="module")
async def people(users: UserService, settings: Settings) -> dict[str, Any]:
    return await cast(users, settings)


@pytest.fixture
def s(client: GraphQLClient, people: dict[str, Any]) -> Scene:
    return scene(client, people)


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
