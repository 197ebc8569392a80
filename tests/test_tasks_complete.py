"""completeTask and claimTask: exactly one winner, the right people only, forms checked,
and the inbox showing each caller their own open tasks."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import pytest
from sqlmodel import func, select
from strawberry.relay import GlobalID

from api.cursors import encode_cursor
from api.db import SessionMaker
from api.models import HistoryEvent, PendingCompletion, Task
from api.services.users import UserService
from engine.enums import HistoryEventType, TaskStatus
from tests.client import GraphQLClient, GraphQLError
from tests.factories import claim, complete, deploy, inbox, instance, one_task, process, start
from tests.factories import task as task_node
from tests.kit.operations import CLAIM, COMPLETE, TASK
from tests.kit.people import make_user

FORM = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "comment": {"type": "string", "maxLength": 10},
    },
    "required": ["approved"],
}


def pk(global_id: str) -> uuid.UUID:
    return uuid.UUID(GlobalID.from_id(global_id).node_id)


def two_tasks(group: str) -> dict[str, Any]:
    """start -> first -> second -> end, both for `group`."""
    return {
        "key": f"two_tasks_{uuid.uuid4().hex[:8]}",
        "name": "Two tasks",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "first", "type": "userTask", "name": "First", "candidateGroups": [group]},
            {"id": "second", "type": "userTask", "name": "Second", "candidateGroups": [group]},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            {"from": "start", "to": "first"},
            {"from": "first", "to": "second"},
            {"from": "second", "to": "end"},
        ],
    }


async def people(
    client: GraphQLClient, users: UserService, count: int, groups: list[str]
) -> list[GraphQLClient]:
    made = [await make_user(users, groups=groups) for _ in range(count)]
    return [await client.login(user.username) for user in made]


async def task_row(sessions: SessionMaker, task_gid: str) -> Task:
    async with sessions() as session:
        row = await session.get(Task, pk(task_gid))
    assert row is not None
    return row


async def events_of(sessions: SessionMaker, task_gid: str, kind: HistoryEventType) -> int:
    async with sessions() as session:
        count = await session.exec(
            select(func.count())
            .select_from(HistoryEvent)
            .where(HistoryEvent.task_id == pk(task_gid), HistoryEvent.type == kind)
        )
        return count.one()


async def tasks_at(sessions: SessionMaker, instance_gid: str, node_id: str) -> list[Task]:
    async with sessions() as session:
        rows = await session.exec(
            select(Task).where(Task.instance_id == pk(instance_gid), Task.node_id == node_id)
        )
        return list(rows.all())


async def pending(sessions: SessionMaker, task_gid: str) -> int:
    async with sessions() as session:
        count = await session.exec(
            select(func.count())
            .select_from(PendingCompletion)
            .where(PendingCompletion.task_id == pk(task_gid))
        )
        return count.one()


async def error_of(call: Any) -> GraphQLError:
    with pytest.raises(GraphQLError) as refused:
        await call
    return refused.value


async def outcomes(*calls: Any) -> list[str]:
    """Run the calls concurrently: "ok" for each that succeeded, else its error code."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    found = []
    for result in results:
        if isinstance(result, GraphQLError):
            [code] = result.codes
            found.append(code)
        elif isinstance(result, BaseException):
            raise result
        else:
            found.append("ok")
    return sorted(found)


async def test_completing_a_task_twice_is_a_conflict_and_advances_the_instance_once(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str
) -> None:
    group = f"team-{unique}"
    [worker] = await people(client, users, 1, [group])
    started = await start(worker, (await deploy(worker, two_tasks(group)))["key"])
    [first] = started["tasks"]

    assert (await complete(worker, first["id"]))["status"] == "COMPLETED"
    again = await error_of(complete(worker, first["id"]))

    assert again.codes == ["CONFLICT"]
    assert await events_of(sessions, first["id"], HistoryEventType.TASK_COMPLETED) == 1
    assert len(await tasks_at(sessions, started["id"], "second")) == 1
    assert [t["nodeId"] for t in (await instance(worker, started["id"]))["tasks"]] == [
        "first",
        "second",
    ]


async def test_a_candidate_completing_a_task_another_completed_gets_a_conflict(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str
) -> None:
    """Not FORBIDDEN: whoever completed it became its assignee, but the task is closed,
    and that is what the late caller needs to know."""
    group = f"team-{unique}"
    winner, late = await people(client, users, 2, [group])
    started = await start(winner, (await deploy(winner, two_tasks(group)))["key"])
    [first] = started["tasks"]

    await complete(winner, first["id"])
    for call in (complete(late, first["id"]), claim(late, first["id"])):
        assert (await error_of(call)).codes == ["CONFLICT"]
    assert await events_of(sessions, first["id"], HistoryEventType.TASK_COMPLETED) == 1


@pytest.mark.parametrize("round_", range(5))
async def test_two_candidates_completing_at_once_make_exactly_one_winner(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str, round_: int
) -> None:
    group = f"team-{unique}"
    alice, bob = await people(client, users, 2, [group])
    started = await start(alice, (await deploy(alice, two_tasks(group)))["key"])
    [first] = started["tasks"]

    assert await outcomes(complete(alice, first["id"]), complete(bob, first["id"])) == [
        "CONFLICT",
        "ok",
    ]

    assert (await task_row(sessions, first["id"])).status == TaskStatus.COMPLETED
    assert await events_of(sessions, first["id"], HistoryEventType.TASK_COMPLETED) == 1
    assert len(await tasks_at(sessions, started["id"], "second")) == 1
    assert await pending(sessions, first["id"]) == 0


@pytest.mark.parametrize("round_", range(3))
async def test_two_candidates_claiming_at_once_make_exactly_one_winner(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str, round_: int
) -> None:
    group = f"team-{unique}"
    alice, bob = await people(client, users, 2, [group])
    started = await start(alice, (await deploy(alice, one_task(group=group)))["key"])
    [task] = started["tasks"]

    assert await outcomes(claim(alice, task["id"]), claim(bob, task["id"])) == ["CONFLICT", "ok"]

    row = await task_row(sessions, task["id"])
    assert row.status == TaskStatus.CLAIMED and row.assignee_id is not None
    assert row.version == 2
    assert await events_of(sessions, task["id"], HistoryEventType.TASK_CLAIMED) == 1


async def test_a_claim_retried_by_its_winner_succeeds_and_changes_nothing(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str
) -> None:
    group = f"team-{unique}"
    [holder] = await people(client, users, 1, [group])
    started = await start(holder, (await deploy(holder, one_task(group=group)))["key"])
    [task] = started["tasks"]

    first = await claim(holder, task["id"])
    again = await claim(holder, task["id"])

    assert first["status"] == again["status"] == "CLAIMED"
    assert first["assignee"] == again["assignee"]
    row = await task_row(sessions, task["id"])
    assert row.version == 2
    assert await events_of(sessions, task["id"], HistoryEventType.TASK_CLAIMED) == 1


@pytest.mark.parametrize("round_", range(3))
async def test_a_claim_sent_twice_at_once_by_one_caller_succeeds_twice_and_claims_once(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str, round_: int
) -> None:
    group = f"team-{unique}"
    [holder] = await people(client, users, 1, [group])
    started = await start(holder, (await deploy(holder, one_task(group=group)))["key"])
    [task] = started["tasks"]

    assert await outcomes(claim(holder, task["id"]), claim(holder, task["id"])) == ["ok", "ok"]

    assert (await task_row(sessions, task["id"])).version == 2
    assert await events_of(sessions, task["id"], HistoryEventType.TASK_CLAIMED) == 1


async def test_claiming_a_task_assigned_to_oneself_succeeds(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str
) -> None:
    group = f"team-{unique}"
    user = await make_user(users, groups=[group])
    assignee = await client.login(user.username)
    definition = process(
        "assigned",
        [task_node("review", group, assignee=user.username)],
        [
            ("start", "review"),
            ("review", "end"),
        ],
    )
    [task] = (await start(assignee, (await deploy(assignee, definition))["key"]))["tasks"]
    assert task["assignee"] == {"username": user.username}

    claimed = await claim(assignee, task["id"])

    assert claimed["status"] == (await task_row(sessions, task["id"])).status.value
    assert claimed["assignee"] == {"username": user.username}
    assert await events_of(sessions, task["id"], HistoryEventType.TASK_CLAIMED) == 0


async def test_a_user_who_is_not_a_candidate_can_neither_see_claim_nor_complete_a_task(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str
) -> None:
    group = f"team-{unique}"
    [worker] = await people(client, users, 1, [group])
    [outsider] = await people(client, users, 1, [f"others-{unique}"])
    started = await start(worker, (await deploy(worker, one_task(group=group)))["key"])
    [task] = started["tasks"]
    before = await task_row(sessions, task["id"])

    for call in (
        outsider.execute(COMPLETE, {"id": task["id"]}),
        outsider.execute(CLAIM, {"id": task["id"]}),
        outsider.execute(TASK, {"id": task["id"]}),
    ):
        assert (await error_of(call)).codes == ["NOT_FOUND"]

    after = await task_row(sessions, task["id"])
    assert (after.status, after.version, after.assignee_id) == (
        TaskStatus.CREATED,
        before.version,
        None,
    )
    assert await events_of(sessions, task["id"], HistoryEventType.TASK_COMPLETED) == 0
    assert await events_of(sessions, task["id"], HistoryEventType.TASK_CLAIMED) == 0


async def test_once_claimed_a_task_is_completed_by_its_assignee_only(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str
) -> None:
    group = f"team-{unique}"
    holder, third = await people(client, users, 2, [group])
    started = await start(holder, (await deploy(holder, one_task(group=group)))["key"])
    [task] = started["tasks"]
    await claim(holder, task["id"])
    before = await task_row(sessions, task["id"])

    assert (await error_of(third.execute(COMPLETE, {"id": task["id"]}))).codes == ["FORBIDDEN"]
    assert (await error_of(third.execute(CLAIM, {"id": task["id"]}))).codes == ["CONFLICT"]

    after = await task_row(sessions, task["id"])
    assert (after.status, after.version, after.assignee_id) == (
        TaskStatus.CLAIMED,
        before.version,
        before.assignee_id,
    )
    assert await events_of(sessions, task["id"], HistoryEventType.TASK_COMPLETED) == 0
    assert (await complete(holder, task["id"]))["status"] == "COMPLETED"


@pytest.mark.parametrize("claimed", [False, True], ids=["open", "claimed"])
async def test_form_data_failing_the_forms_schema_is_refused_naming_each_field(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str, claimed: bool
) -> None:
    group = f"team-{unique}"
    [worker] = await people(client, users, 1, [group])
    started = await start(worker, (await deploy(worker, one_task(group=group, form=FORM)))["key"])
    [task] = started["tasks"]
    if claimed:
        await claim(worker, task["id"])
    before = await task_row(sessions, task["id"])

    for variables, fields in (
        ({"comment": "far too long a comment"}, ["approved", "comment"]),
        ({"approved": "yes"}, ["approved"]),
    ):
        refused = await error_of(worker.execute(COMPLETE, {"id": task["id"], "v": variables}))
        [error] = refused.errors
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert [f["field"] for f in error["extensions"]["fields"]] == fields

    after = await task_row(sessions, task["id"])
    assert (after.status, after.version) == (before.status, before.version)
    assert after.status == (TaskStatus.CLAIMED if claimed else TaskStatus.CREATED)
    assert await pending(sessions, task["id"]) == 0
    assert await events_of(sessions, task["id"], HistoryEventType.TASK_COMPLETED) == 0

    assert (await complete(worker, task["id"], approved=True))["status"] == "COMPLETED"
    final = await instance(worker, started["id"])
    assert final["status"] == "COMPLETED" and final["variables"] == {"approved": True}


@pytest.mark.parametrize("variables", [[1], "approved", 5])
async def test_form_data_that_is_not_an_object_is_refused(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str, variables: Any
) -> None:
    group = f"team-{unique}"
    [worker] = await people(client, users, 1, [group])
    started = await start(worker, (await deploy(worker, one_task(group=group)))["key"])
    [task] = started["tasks"]

    refused = await error_of(worker.execute(COMPLETE, {"id": task["id"], "v": variables}))

    assert refused.codes == ["BAD_USER_INPUT"]
    assert (await task_row(sessions, task["id"])).status == TaskStatus.CREATED


async def test_an_unknown_task_is_not_found(client: GraphQLClient, users: UserService) -> None:
    [worker] = await people(client, users, 1, [])
    missing = str(GlobalID("Task", str(uuid.uuid4())))
    for query in (TASK, COMPLETE, CLAIM):
        assert (await error_of(worker.execute(query, {"id": missing}))).codes == ["NOT_FOUND"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-an-id",
        str(GlobalID("Task", "not-a-uuid")),
        str(GlobalID("ProcessInstance", str(uuid.uuid4()))),
    ],
    ids=["garbage", "not-a-uuid", "another-type"],
)
async def test_a_malformed_task_id_is_bad_user_input(
    client: GraphQLClient, users: UserService, bad_id: str
) -> None:
    [worker] = await people(client, users, 1, [])
    for query in (TASK, COMPLETE, CLAIM):
        assert (await error_of(worker.execute(query, {"id": bad_id}))).codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'["yesterday", "someone"]').decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        encode_cursor("2024-01-01T00:00:00+00:00", "not-a-uuid"),
    ],
    ids=["garbage", "numbers", "words", "object", "bad-uuid"],
)
async def test_an_invalid_after_cursor_on_the_inbox_is_bad_user_input(
    client: GraphQLClient, users: UserService, cursor: str
) -> None:
    [worker] = await people(client, users, 1, [])
    assert (await error_of(inbox(worker, after=cursor))).codes == ["BAD_USER_INPUT"]


async def test_the_inbox_shows_a_users_group_and_assigned_tasks_newest_first(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    groups = [f"a-{unique}", f"b-{unique}", f"c-{unique}"]
    ann_user = await make_user(users, groups=[groups[0]])
    ann, bob, cid = [
        await client.login(u.username)
        for u in (
            ann_user,
            await make_user(users, groups=[groups[1]]),
            await make_user(users, groups=[groups[2]]),
        )
    ]
    for_a = (await deploy(ann, one_task(group=groups[0])))["key"]
    for_b = (await deploy(ann, one_task(group=groups[1])))["key"]
    for_c = (await deploy(ann, one_task(group=groups[2])))["key"]
    # Assigned to Ann by name, with Bob's group as candidates: Ann's, not Bob's.
    assigned = one_task(group=groups[1])
    assigned["nodes"][1]["assignee"] = ann_user.username
    to_ann = (await deploy(ann, assigned))["key"]

    created: dict[str, list[str]] = {"ann": [], "bob": [], "cid": []}
    for key, owner in [
        (for_a, "ann"),
        (for_b, "bob"),
        (to_ann, "ann"),
        (for_a, "ann"),
        (for_c, "cid"),
        (for_b, "bob"),
        (for_a, "ann"),
    ]:
        [task] = (await start(ann, key))["tasks"]
        created[owner].append(task["id"])

    for name, caller in (("ann", ann), ("bob", bob), ("cid", cid)):
        page = await inbox(caller, first=100)
        assert [e["node"]["id"] for e in page["edges"]] == created[name][::-1], name
        assert page["pageInfo"]["hasNextPage"] is False

    # A completed task leaves the inbox.
    await complete(ann, created["ann"][-1])
    assert [e["node"]["id"] for e in (await inbox(ann))["edges"]] == created["ann"][-2::-1]


async def test_paging_through_the_inbox_returns_every_task_once(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    group = f"team-{unique}"
    [worker] = await people(client, users, 1, [group])
    key = (await deploy(worker, one_task(group=group)))["key"]
    created = [(await start(worker, key))["tasks"][0]["id"] for _ in range(7)]

    seen: list[str] = []
    after = None
    while True:
        page = await inbox(worker, first=3, after=after)
        seen += [e["node"]["id"] for e in page["edges"]]
        assert len(page["edges"]) <= 3
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == created[::-1]
    assert (await error_of(inbox(worker, first=0))).codes == ["BAD_USER_INPUT"]
