"""Setting an instance's variables and delivering messages to it, by id or by business key;
every refusal says why with its code and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient
from tests.factories import (
    deploy,
    process,
    start,
)
from tests.instance_scene import MESSAGE, Scene, cast, code_of, one_task_instance, refused, scene
from tests.kit.instances import live, read
from tests.kit.operations import SET_VARIABLES


@pytest.fixture(scope="module")
async def people(users: UserService, settings: Settings) -> dict[str, Any]:
    return await cast(users, settings)


@pytest.fixture
def s(client: GraphQLClient, people: dict[str, Any]) -> Scene:
    return scene(client, people)


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
