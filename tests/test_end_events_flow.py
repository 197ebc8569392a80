"""Terminate and error end events on the real stack: a terminate end stops the work of
every other path (a child instance, a boundary timer) and completes the instance; an
uncaught error end leaves it in INCIDENT at the end event; paths without an end event
end where they stop."""

from __future__ import annotations

from strawberry.relay import GlobalID

from api.services.users import UserService
from tests.client import GraphQLClient
from tests.conftest import make_user
from tests.factories import complete, deploy, one_task, process, start, task
from tests.instance_reads import live, read, until


async def test_a_terminate_end_cancels_a_child_instance_and_a_timer_and_completes(
    client: GraphQLClient, users: UserService
) -> None:
    member = await make_user(users, groups=["reviewers"])
    as_member = await client.login(member.username)
    child = await deploy(as_member, one_task(group="reviewers"))
    definition = process(
        "terminate",
        [
            {"id": "fork", "type": "parallelGateway"},
            {"id": "delegate", "type": "callActivity", "calledElement": child["key"]},
            task("decide", "reviewers"),
            {"id": "remind", "type": "timer", "attachedTo": "decide", "duration": "P1D"},
            {"id": "stop", "type": "endEvent", "terminate": True},
        ],
        [
            ("start", "fork"),
            ("fork", "delegate"),
            ("delegate", "end"),
            ("fork", "decide"),
            ("decide", "stop"),
            ("remind", "end"),
        ],
    )
    await deploy(as_member, definition)
    started = await start(as_member, definition["key"])
    child_started = await until(
        as_member,
        started["id"],
        lambda f: any(h["type"] == "CHILD_STARTED" for h in f["history"]),
    )
    (child_id,) = [
        h["data"]["child_id"] for h in child_started["history"] if h["type"] == "CHILD_STARTED"
    ]
    child_gid = str(GlobalID("ProcessInstance", child_id))
    await until(as_member, child_gid, lambda f: bool(f["tasks"]))
    (decide,) = [t for t in started["tasks"] if t["nodeId"] == "decide"]

    await complete(as_member, decide["id"])

    final = await until(as_member, started["id"], lambda f: f["status"] == "COMPLETED")
    assert final["incident"] is None and final["endedAt"] is not None
    types = [h["type"] for h in final["history"]]
    assert {"CHILD_CANCELLED", "TIMER_CANCELLED"} <= set(types)
    assert types[-1] == "INSTANCE_COMPLETED"
    assert final["history"][-1]["data"] == {"terminated_by": "stop"}
    # The child cleans up as a cancelled instance: its task is closed, not left open.
    ended_child = await until(as_member, child_gid, lambda f: f["status"] == "CANCELLED")
    assert [t["status"] for t in ended_child["tasks"]] == ["CANCELLED"]


async def test_an_uncaught_error_end_puts_the_instance_in_incident_at_the_end_event(
    client: GraphQLClient, users: UserService
) -> None:
    member = await make_user(users, groups=["reviewers"])
    as_member = await client.login(member.username)
    definition = process(
        "error_end",
        [
            task("check", "reviewers"),
            {"id": "funded", "type": "exclusiveGateway"},
            {"id": "no_budget", "type": "endEvent", "errorCode": "NO_BUDGET"},
        ],
        [
            ("start", "check"),
            ("check", "funded"),
            {"from": "funded", "to": "end", "condition": "approved == true"},
            {"from": "funded", "to": "no_budget", "default": True},
        ],
    )
    await deploy(as_member, definition)
    started = await start(as_member, definition["key"])
    await complete(as_member, started["tasks"][0]["id"], approved=False)

    found = await until(as_member, started["id"], lambda f: f["status"] == "INCIDENT")
    message = "error 'NO_BUDGET' thrown by end event 'no_budget' is caught by no errorBoundary"
    assert found["incident"] == f"no_budget: {message}"
    assert (await live(as_member, started["id"]))["incidents"][0]["node_id"] == "no_budget"
    assert (await read(as_member, started["id"]))["endedAt"] is None


async def test_an_implicit_fork_and_implicit_ends_run_to_completion(
    client: GraphQLClient, users: UserService
) -> None:
    member = await make_user(users, groups=["reviewers"])
    as_member = await client.login(member.username)
    definition = {
        "key": process("implicit", [], [])["key"],
        "name": "Implicit flows",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            task("review", "reviewers"),
            {"id": "noted", "type": "task"},
        ],
        # The start event forks; neither branch has an outgoing flow or an end event.
        "flows": [{"from": "start", "to": "review"}, {"from": "start", "to": "noted"}],
    }
    await deploy(as_member, definition)
    started = await start(as_member, definition["key"])
    assert started["status"] == "RUNNING"
    (review,) = started["tasks"]
    await complete(as_member, review["id"])
    final = await until(as_member, started["id"], lambda f: f["status"] == "COMPLETED")
    entered = [h["nodeId"] for h in final["history"] if h["type"] == "NODE_ENTERED"]
    assert entered == ["start", "review", "noted"]
    assert final["history"][-1]["type"] == "INSTANCE_COMPLETED"


async def test_an_incident_dropped_by_a_terminate_in_the_same_step_leaves_no_incident(
    client: GraphQLClient, users: UserService
) -> None:
    member = await make_user(users, groups=["reviewers"])
    as_member = await client.login(member.username)
    definition = process(
        "terminate_over_incident",
        [
            {"id": "fork", "type": "parallelGateway"},
            {"id": "charge", "type": "serviceTask", "action": "log", "input": {"x": "=nope.x"}},
            {"id": "stop", "type": "endEvent", "terminate": True},
        ],
        [("start", "fork"), ("fork", "charge"), ("charge", "end"), ("fork", "stop")],
    )
    await deploy(as_member, definition)
    started = await start(as_member, definition["key"])
    assert started["status"] == "COMPLETED"
    found = await read(as_member, started["id"])
    assert "INCIDENT_RAISED" in [h["type"] for h in found["history"]]
    assert (found["status"], found["incident"]) == ("COMPLETED", None)
