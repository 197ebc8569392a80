"""Listing process instances: what the caller may see, filtered and paged."""

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
    one_task,
    start,
)
from tests.instance_scene import INSTANCES, Scene, cast, code_of, scene


@pytest.fixture(scope="module")
async def people(users: UserService, settings: Settings) -> dict[str, Any]:
    return await cast(users, settings)


@pytest.fixture
def s(client: GraphQLClient, people: dict[str, Any]) -> Scene:
    return scene(client, people)


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
