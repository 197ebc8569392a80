"""`flowdesk archive` moves finished instances out of the live tables with everything they
had, `archivedInstances` lists them, and `flowdesk restore-archive` puts the same rows back."""

from __future__ import annotations

import argparse
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from strawberry.relay import GlobalID

from api.cli import age, archive_or_restore, parser
from api.db import SessionMaker, engine_of
from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient, GraphQLError
from tests.factories import claim, complete, deploy, instance, one_task, start
from tests.kit.instances import until
from tests.kit.operations import NODE
from tests.kit.people import as_user

ARCHIVED = """
query($k: String) {
  archivedInstances(definitionKey: $k, first: 10) {
    edges { node { id instanceId status businessKey variables endedAt archivedAt
                   definition { key } startedBy { username } history { seq type nodeId } } }
  }
}
"""
COMMENT = "mutation($id: ID!, $m: String!) { addTaskComment(id: $id, message: $m) { id } }"


async def flowdesk(settings: Settings, *args: str) -> None:
    """A CLI command as `flowdesk` parses and runs it, in this process."""
    await archive_or_restore(settings, parser().parse_args(args))


async def live_rows(sessions: SessionMaker, instance_ids: list[str]) -> dict[str, int]:
    ids = [uuid.UUID(GlobalID.from_id(i).node_id) for i in instance_ids]
    counts = {}
    async with engine_of(sessions).connect() as connection:
        for table, rows in (
            ("process_instances", "process_instances WHERE id = ANY(:ids)"),
            ("tasks", "tasks WHERE instance_id = ANY(:ids)"),
            (
                "task_comments",
                "task_comments c JOIN tasks t ON t.id = c.task_id WHERE t.instance_id = ANY(:ids)",
            ),
            ("history_events", "history_events WHERE instance_id = ANY(:ids)"),
        ):
            query = sa.text(f"SELECT count(*) FROM {rows}")
            counts[table] = (await connection.execute(query, {"ids": ids})).scalar_one()
    return counts


@pytest.fixture
async def finished(client: GraphQLClient, users: UserService, unique: str) -> dict[str, Any]:
    """Two completed instances (one task with a comment) and one still running."""
    group = f"archive-{unique}"
    owner = await as_user(client, users, groups=[group])
    key = (await deploy(owner, one_task(group=group)))["key"]
    done = [await start(owner, key, business_key=f"done-{n}", n=n) for n in range(2)]
    running = await start(owner, key, business_key="running")
    for one in done:
        await claim(owner, one["tasks"][0]["id"])
        await owner.execute(COMMENT, {"id": one["tasks"][0]["id"], "m": "looks good"})
        await complete(owner, one["tasks"][0]["id"])
    before = [await until(owner, one["id"], lambda i: i["status"] == "COMPLETED") for one in done]
    return {"owner": owner, "key": key, "done": before, "running": running}


async def test_archive_moves_finished_instances_out_and_restore_puts_the_same_rows_back(
    finished: dict[str, Any],
    settings: Settings,
    sessions: SessionMaker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    owner: GraphQLClient = finished["owner"]
    done_ids = [one["id"] for one in finished["done"]]
    before = [await instance(owner, i) for i in done_ids]
    rows_before = await live_rows(sessions, done_ids)
    assert rows_before["task_comments"] == 2

    await flowdesk(settings, "archive", "--older-than", "0m", "--definition", finished["key"])
    assert "archived 2 instances" in capsys.readouterr().out
    assert set((await live_rows(sessions, done_ids)).values()) == {0}
    for instance_id in done_ids:
        with pytest.raises(GraphQLError):
            await instance(owner, instance_id)
    assert (await instance(owner, finished["running"]["id"]))["status"] == "RUNNING"

    listed = (await owner.execute(ARCHIVED, {"k": finished["key"]}))["archivedInstances"]
    archived = {edge["node"]["instanceId"]: edge["node"] for edge in listed["edges"]}
    assert set(archived) == set(done_ids)
    for was in before:
        node = archived[was["id"]]
        assert node["status"] == "COMPLETED" and node["businessKey"] == was["businessKey"]
        assert node["variables"] == was["variables"]
        assert node["definition"]["key"] == finished["key"]
        assert [(h["seq"], h["type"]) for h in node["history"]] == [
            (h["seq"], h["type"]) for h in was["history"]
        ]

    ids = [GlobalID.from_id(i).node_id for i in done_ids]
    await flowdesk(settings, "restore-archive", *ids)
    assert "restored 2 of 2" in capsys.readouterr().out
    after = [await instance(owner, i) for i in done_ids]
    assert after == before
    assert await live_rows(sessions, done_ids) == rows_before
    listed = (await owner.execute(ARCHIVED, {"k": finished["key"]}))["archivedInstances"]
    assert listed["edges"] == []


async def test_archived_instances_are_hidden_from_people_who_did_not_start_them(
    finished: dict[str, Any], settings: Settings, client: GraphQLClient, users: UserService
) -> None:
    await flowdesk(settings, "archive", "--older-than", "0m", "--definition", finished["key"])
    owner: GraphQLClient = finished["owner"]
    mine = (await owner.execute(ARCHIVED, {"k": finished["key"]}))["archivedInstances"]["edges"]
    assert len(mine) == 2
    stranger = await as_user(client, users)
    theirs = await stranger.execute(ARCHIVED, {"k": finished["key"]})
    assert theirs["archivedInstances"]["edges"] == []
    assert (await stranger.execute(NODE, {"id": mine[0]["node"]["id"]}))["node"] is None
    assert (await owner.execute(NODE, {"id": mine[0]["node"]["id"]}))["node"] is not None


async def test_restoring_an_id_that_is_not_archived_says_so(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit, match="not archived"):
        await flowdesk(settings, "restore-archive", str(uuid.uuid4()))
    assert "restored 0 of 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("P2DT1H", timedelta(days=2, hours=1)),
    ],
)
def test_ages_read_short_and_iso_8601_forms(text: str, expected: timedelta) -> None:
    assert age(text) == expected


def test_an_age_in_another_form_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="ISO 8601"):
        age("three months")
