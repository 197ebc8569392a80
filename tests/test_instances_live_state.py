"""The live state of an instance, as its workflow holds it: active nodes, waiting timers,
open tasks; seeing a child instance does not open its parent."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient
from tests.factories import (
    complete,
    deploy,
    process,
    start,
    task,
)
from tests.instance_scene import Scene, cast, child_of, code_of, scene, uid
from tests.kit.instances import LIVE, READ, live, read
from tests.kit.operations import CANCEL
from tests.kit.people import make_user


@pytest.fixture(scope="module")
async def people(users: UserService, settings: Settings) -> dict[str, Any]:
    return await cast(users, settings)


@pytest.fixture
def s(client: GraphQLClient, people: dict[str, Any]) -> Scene:
    return scene(client, people)


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
