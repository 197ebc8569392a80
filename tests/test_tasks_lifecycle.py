"""The task lifecycle besides completion: unclaim, assign, delegate and resolve, priority
and dates, comments. Each change bumps the task's version and records one history event
with its actor; each refusal says why and changes nothing; the people concerned hear of
every change live; racing changes tell one consistent story."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, func, select
from strawberry.relay import GlobalID

from api.auth.permissions import ADMIN_ROLE, DEFAULT_ROLE
from api.auth.tokens import TokenIssuer
from api.db import SessionMaker
from api.models import Group, HistoryEvent, Membership, Task, TaskComment, User
from api.services.event_log import LogPosition
from api.settings import Settings
from bench.ws import Subscription, subscribe
from engine.enums import HistoryEventType, TaskStatus
from tests.client import GraphQLClient, GraphQLError
from tests.factories import claim, complete, deploy, inbox, instance, one_task, start

FIELDS = """id status version priority dueAt followUpAt delegationState variables
  assignee { username } owner { username }
  commentCount comments { author { username } message }"""
TASK = f"query($id: ID!) {{ task(id: $id) {{ {FIELDS} }} }}"
UNCLAIM = f"mutation($id: ID!) {{ unclaimTask(id: $id) {{ {FIELDS} }} }}"
ASSIGN = f"mutation($id: ID!, $user: ID!) {{ assignTask(id: $id, userId: $user) {{ {FIELDS} }} }}"
DELEGATE = (
    f"mutation($id: ID!, $user: ID!) {{ delegateTask(id: $id, userId: $user) {{ {FIELDS} }} }}"
)
RESOLVE = f"mutation($id: ID!, $v: JSON) {{ resolveTask(id: $id, variables: $v) {{ {FIELDS} }} }}"
PRIORITY = (
    f"mutation($id: ID!, $p: Int!) {{ setTaskPriority(id: $id, priority: $p) {{ {FIELDS} }} }}"
)
DUE = f"mutation($id: ID!, $at: DateTime) {{ setTaskDueDate(id: $id, dueAt: $at) {{ {FIELDS} }} }}"
FOLLOW_UP = (
    "mutation($id: ID!, $at: DateTime) "
    f"{{ setTaskFollowUp(id: $id, followUpAt: $at) {{ {FIELDS} }} }}"
)
COMMENT = (
    "mutation($id: ID!, $m: String!) "
    "{ addTaskComment(id: $id, message: $m) { id message author { username } } }"
)
COMPLETE = f"mutation($id: ID!, $v: JSON) {{ completeTask(id: $id, variables: $v) {{ {FIELDS} }} }}"
CLAIM = f"mutation($id: ID!) {{ claimTask(id: $id) {{ {FIELDS} }} }}"
TASK_EVENTS = """subscription($since: String) {
  taskEvents(since: $since) { type task { id } }
}"""

E = HistoryEventType


@dataclass
class Person:
    row: User
    api: GraphQLClient

    @property
    def gid(self) -> str:
        return str(GlobalID("User", str(self.row.id)))

    @property
    def name(self) -> str:
        return self.row.username


@dataclass
class Scene:
    """A task open to `group`: alice and bob are its candidates, carol and dave are not,
    and admin is an admin outside the group."""

    group: str
    key: str
    alice: Person
    bob: Person
    carol: Person
    dave: Person
    admin: Person
    task: str
    instance: str


async def person(
    sessions: SessionMaker,
    tokens: TokenIssuer,
    *groups: str,
    http: httpx.AsyncClient,
    admin: bool = False,
) -> Person:
    """A user with a token. Written straight to the tables: make_user hashes a password
    (argon2, ~0.3 s each), and these people never log in with one."""
    row = User(
        username=f"user-{uuid.uuid4().hex[:10]}",
        password_hash="!",
        roles=[DEFAULT_ROLE, ADMIN_ROLE] if admin else [DEFAULT_ROLE],
    )
    async with sessions() as session, session.begin():
        session.add(row)
        await session.flush()
        if groups:
            await session.exec(
                insert(Group)
                .values([{"key": g, "name": g} for g in groups])
                .on_conflict_do_nothing()
            )
            session.add_all(Membership(user_id=row.id, group_key=g) for g in groups)
    return Person(row, GraphQLClient(http, tokens.issue(row.id, row.username)))


@pytest.fixture
def tokens(settings: Settings) -> TokenIssuer:
    return TokenIssuer(settings)


@pytest.fixture
async def s(
    client: GraphQLClient, sessions: SessionMaker, tokens: TokenIssuer, unique: str
) -> Scene:
    """A fresh Scene."""
    group = f"team-{unique}"
    make = functools.partial(person, sessions, tokens, http=client.http)
    alice, bob = await make(group), await make(group)
    carol, dave, admin = await make(), await make(), await make(admin=True)
    key = (await deploy(alice.api, one_task(group=group)))["key"]
    started = await start(alice.api, key)
    return Scene(
        group, key, alice, bob, carol, dave, admin, started["tasks"][0]["id"], started["id"]
    )


def pk(global_id: str) -> uuid.UUID:
    return uuid.UUID(GlobalID.from_id(global_id).node_id)


async def row_of(sessions: SessionMaker, task: str) -> Task:
    async with sessions() as session:
        row = await session.get(Task, pk(task))
    assert row is not None
    return row


async def history_of(sessions: SessionMaker, task: str) -> list[tuple[E, uuid.UUID | None]]:
    """The task's history events, in order, as (type, actor id)."""
    async with sessions() as session:
        rows = await session.exec(
            select(HistoryEvent.type, HistoryEvent.actor_id)
            .where(HistoryEvent.task_id == pk(task))
            .order_by(col(HistoryEvent.seq))
        )
        return [(E(type_), actor) for type_, actor in rows.all()]


async def comment_rows(sessions: SessionMaker, task: str) -> int:
    async with sessions() as session:
        count = await session.exec(
            select(func.count()).select_from(TaskComment).where(TaskComment.task_id == pk(task))
        )
        return count.one()


async def state_of(sessions: SessionMaker, task: str) -> dict[str, Any]:
    row = await row_of(sessions, task)
    return {
        "version": row.version,
        "status": row.status,
        "assignee_id": row.assignee_id,
        "owner_id": row.owner_id,
        "delegation": row.delegation,
        "priority": row.priority,
        "due_at": row.due_at,
        "follow_up_at": row.follow_up_at,
        "variables": row.variables,
        "history": await history_of(sessions, task),
        "comments": await comment_rows(sessions, task),
    }


@asynccontextmanager
async def one_change(
    sessions: SessionMaker, task: str, kind: E, actor: Person
) -> AsyncIterator[None]:
    """The block changes the task once: its version grows by one and exactly one history
    event of `kind`, by `actor`, is added."""
    before = await row_of(sessions, task)
    history = await history_of(sessions, task)
    yield
    after = await row_of(sessions, task)
    assert after.version == before.version + 1
    assert (await history_of(sessions, task))[len(history) :] == [(kind, actor.row.id)]


async def refused(sessions: SessionMaker, task: str, code: str, call: Awaitable[Any]) -> None:
    """The call fails with `code` and leaves the task, its history and comments as they were."""
    before = await state_of(sessions, task)
    with pytest.raises(GraphQLError) as error:
        await call
    assert error.value.codes == [code]
    assert await state_of(sessions, task) == before


async def task_of(who: Person, task: str) -> dict[str, Any]:
    data: dict[str, Any] = (await who.api.execute(TASK, {"id": task}))["task"]
    return data


async def run(who: Person, mutation: str, **variables: Any) -> dict[str, Any]:
    data = await who.api.execute(mutation, variables)
    [result] = data.values()
    assert isinstance(result, dict)
    return result


# -- unclaim ----------------------------------------------------------------------------


async def test_unclaiming_gives_the_task_back_to_its_candidates(
    s: Scene, sessions: SessionMaker
) -> None:
    await claim(s.alice.api, s.task)
    assert s.task not in [e["node"]["id"] for e in (await inbox(s.bob.api))["edges"]]

    async with one_change(sessions, s.task, E.TASK_UNCLAIMED, s.alice):
        task = await run(s.alice, UNCLAIM, id=s.task)

    assert (task["status"], task["assignee"]) == ("CREATED", None)
    row = await row_of(sessions, s.task)
    assert (row.status, row.assignee_id) == (TaskStatus.CREATED, None)
    assert s.task in [e["node"]["id"] for e in (await inbox(s.bob.api))["edges"]]
    # And anyone of the group may take it now.
    assert (await claim(s.bob.api, s.task))["assignee"]["username"] == s.bob.name


async def test_only_the_assignee_or_an_admin_may_unclaim_a_task(
    s: Scene, sessions: SessionMaker
) -> None:
    await claim(s.alice.api, s.task)

    await refused(sessions, s.task, "FORBIDDEN", run(s.bob, UNCLAIM, id=s.task))
    # Carol is in no group of the task: she is not told that it exists.
    await refused(sessions, s.task, "NOT_FOUND", run(s.carol, UNCLAIM, id=s.task))

    async with one_change(sessions, s.task, E.TASK_UNCLAIMED, s.admin):
        assert (await run(s.admin, UNCLAIM, id=s.task))["status"] == "CREATED"


async def test_a_completed_task_takes_no_more_changes_but_comments(
    s: Scene, sessions: SessionMaker
) -> None:
    await claim(s.alice.api, s.task)
    await complete(s.alice.api, s.task)

    for who, mutation, variables in (
        (s.alice, UNCLAIM, {}),
        (s.admin, ASSIGN, {"user": s.bob.gid}),
        (s.alice, DELEGATE, {"user": s.bob.gid}),
        (s.alice, PRIORITY, {"p": 10}),
        (s.alice, DUE, {"at": "2031-01-01T00:00:00+00:00"}),
        (s.alice, FOLLOW_UP, {"at": "2031-01-01T00:00:00+00:00"}),
        (s.bob, CLAIM, {}),
    ):
        await refused(sessions, s.task, "CONFLICT", run(who, mutation, id=s.task, **variables))


# -- assign -----------------------------------------------------------------------------


async def test_the_assignee_may_hand_a_task_to_someone_else(
    s: Scene, sessions: SessionMaker
) -> None:
    await claim(s.alice.api, s.task)

    async with one_change(sessions, s.task, E.TASK_ASSIGNED, s.alice):
        task = await run(s.alice, ASSIGN, id=s.task, user=s.carol.gid)

    assert (task["status"], task["assignee"]) == ("CLAIMED", {"username": s.carol.name})
    assert (await row_of(sessions, s.task)).assignee_id == s.carol.row.id
    assert [e["node"]["id"] for e in (await inbox(s.carol.api))["edges"]] == [s.task]
    assert s.task not in [e["node"]["id"] for e in (await inbox(s.alice.api))["edges"]]
    # The new assignee works it, though they are no candidate.
    assert (await complete(s.carol.api, s.task))["status"] == "COMPLETED"


async def test_an_admin_may_assign_any_task(s: Scene, sessions: SessionMaker) -> None:

    async with one_change(sessions, s.task, E.TASK_ASSIGNED, s.admin):
        await run(s.admin, ASSIGN, id=s.task, user=s.bob.gid)
    async with one_change(sessions, s.task, E.TASK_ASSIGNED, s.admin):
        task = await run(s.admin, ASSIGN, id=s.task, user=s.dave.gid)

    assert task["assignee"] == {"username": s.dave.name}


async def test_a_mere_candidate_may_not_assign_a_task(s: Scene, sessions: SessionMaker) -> None:

    # Open to the group: a candidate may claim it for themselves, not hand it out.
    await refused(sessions, s.task, "FORBIDDEN", run(s.bob, ASSIGN, id=s.task, user=s.bob.gid))
    await refused(sessions, s.task, "FORBIDDEN", run(s.bob, ASSIGN, id=s.task, user=s.carol.gid))
    await claim(s.alice.api, s.task)
    await refused(sessions, s.task, "FORBIDDEN", run(s.bob, ASSIGN, id=s.task, user=s.bob.gid))
    await refused(sessions, s.task, "NOT_FOUND", run(s.carol, ASSIGN, id=s.task, user=s.carol.gid))


async def test_assigning_to_an_unknown_user_is_not_found(s: Scene, sessions: SessionMaker) -> None:
    await claim(s.alice.api, s.task)
    nobody = str(GlobalID("User", str(uuid.uuid4())))

    for mutation in (ASSIGN, DELEGATE):
        await refused(sessions, s.task, "NOT_FOUND", run(s.alice, mutation, id=s.task, user=nobody))


# -- delegate and resolve ---------------------------------------------------------------


async def test_a_delegated_task_goes_to_the_delegate_and_comes_back_with_their_variables(
    s: Scene, sessions: SessionMaker
) -> None:
    await claim(s.alice.api, s.task)

    async with one_change(sessions, s.task, E.TASK_DELEGATED, s.alice):
        task = await run(s.alice, DELEGATE, id=s.task, user=s.dave.gid)
    assert task["owner"] == {"username": s.alice.name}
    assert task["assignee"] == {"username": s.dave.name}
    assert task["delegationState"] == "PENDING"
    row = await row_of(sessions, s.task)
    assert (row.owner_id, row.assignee_id) == (s.alice.row.id, s.dave.row.id)
    assert [e["node"]["id"] for e in (await inbox(s.dave.api))["edges"]] == [s.task]

    # Nobody completes it while the delegate works on it: not the owner, not the delegate.
    await refused(sessions, s.task, "CONFLICT", run(s.alice, COMPLETE, id=s.task))
    await refused(sessions, s.task, "CONFLICT", run(s.dave, COMPLETE, id=s.task))

    async with one_change(sessions, s.task, E.TASK_RESOLVED, s.dave):
        task = await run(s.dave, RESOLVE, id=s.task, v={"checked": True, "amount": 5})
    assert task["assignee"] == {"username": s.alice.name}
    assert task["owner"] == {"username": s.alice.name}
    assert task["delegationState"] == "RESOLVED"
    assert task["variables"] == {"checked": True, "amount": 5}
    assert s.task not in [e["node"]["id"] for e in (await inbox(s.dave.api))["edges"]]

    # The owner completes it; the delegate's variables reach the instance, under the owner's.
    done = await run(s.alice, COMPLETE, id=s.task, v={"amount": 7, "approved": True})
    assert done["status"] == "COMPLETED"
    variables = (await instance(s.alice.api, s.instance))["variables"]
    assert variables == {"checked": True, "amount": 7, "approved": True}


async def test_a_task_cannot_be_delegated_to_oneself(s: Scene, sessions: SessionMaker) -> None:
    await claim(s.alice.api, s.task)

    await refused(
        sessions, s.task, "BAD_USER_INPUT", run(s.alice, DELEGATE, id=s.task, user=s.alice.gid)
    )


async def test_only_the_assignee_may_delegate_and_only_once_at_a_time(
    s: Scene, sessions: SessionMaker
) -> None:
    # Unclaimed: there is nobody to give it back to.
    await refused(sessions, s.task, "CONFLICT", run(s.admin, DELEGATE, id=s.task, user=s.dave.gid))
    await claim(s.alice.api, s.task)
    await refused(sessions, s.task, "FORBIDDEN", run(s.bob, DELEGATE, id=s.task, user=s.dave.gid))
    await run(s.alice, DELEGATE, id=s.task, user=s.dave.gid)
    await refused(sessions, s.task, "CONFLICT", run(s.dave, DELEGATE, id=s.task, user=s.carol.gid))


async def test_only_the_delegate_may_resolve_a_delegated_task(
    s: Scene, sessions: SessionMaker
) -> None:
    await claim(s.alice.api, s.task)
    # Not delegated: there is nothing to resolve.
    await refused(sessions, s.task, "CONFLICT", run(s.alice, RESOLVE, id=s.task))
    await run(s.alice, DELEGATE, id=s.task, user=s.dave.gid)

    for other in (s.alice, s.bob, s.admin):
        await refused(sessions, s.task, "FORBIDDEN", run(other, RESOLVE, id=s.task, v={"x": 1}))
    await refused(sessions, s.task, "NOT_FOUND", run(s.carol, RESOLVE, id=s.task, v={"x": 1}))
    assert (await row_of(sessions, s.task)).variables == {}


async def test_the_delegate_may_not_unclaim_the_owners_task(
    s: Scene, sessions: SessionMaker
) -> None:
    """Giving it back is resolveTask: unclaiming would drop the owner's claim on it."""
    await claim(s.alice.api, s.task)
    await run(s.alice, DELEGATE, id=s.task, user=s.dave.gid)

    await refused(sessions, s.task, "CONFLICT", run(s.dave, UNCLAIM, id=s.task))


# -- priority and dates -----------------------------------------------------------------


async def test_who_may_work_a_task_sets_its_priority_and_dates(
    s: Scene, sessions: SessionMaker
) -> None:

    # Open: any candidate may; claimed: its assignee.
    for who, priority in ((s.bob, 0), (s.alice, 100)):
        async with one_change(sessions, s.task, E.TASK_UPDATED, who):
            assert (await run(who, PRIORITY, id=s.task, p=priority))["priority"] == priority
    await claim(s.alice.api, s.task)

    due, follow_up = "2031-05-04T03:02:01+00:00", "2031-05-01T09:00:00+00:00"
    async with one_change(sessions, s.task, E.TASK_UPDATED, s.alice):
        assert (await run(s.alice, DUE, id=s.task, at=due))["dueAt"] == due
    async with one_change(sessions, s.task, E.TASK_UPDATED, s.alice):
        assert (await run(s.alice, FOLLOW_UP, id=s.task, at=follow_up))["followUpAt"] == follow_up
    row = await row_of(sessions, s.task)
    assert (row.priority, row.due_at.isoformat() if row.due_at else None) == (100, due)

    async with one_change(sessions, s.task, E.TASK_UPDATED, s.alice):
        assert (await run(s.alice, DUE, id=s.task, at=None))["dueAt"] is None
    async with one_change(sessions, s.task, E.TASK_UPDATED, s.alice):
        assert (await run(s.alice, FOLLOW_UP, id=s.task, at=None))["followUpAt"] is None
    row = await row_of(sessions, s.task)
    assert (row.due_at, row.follow_up_at) == (None, None)


@pytest.mark.parametrize("priority", [-1, 101, 1000])
async def test_a_priority_outside_0_to_100_is_bad_user_input(
    s: Scene, sessions: SessionMaker, priority: int
) -> None:
    await refused(sessions, s.task, "BAD_USER_INPUT", run(s.alice, PRIORITY, id=s.task, p=priority))


async def test_others_may_not_change_a_tasks_priority_or_dates(
    s: Scene, sessions: SessionMaker
) -> None:
    changes: list[tuple[str, dict[str, Any]]] = [
        (PRIORITY, {"p": 10}),
        (DUE, {"at": "2031-01-01T00:00:00+00:00"}),
        (FOLLOW_UP, {"at": "2031-01-01T00:00:00+00:00"}),
    ]
    for mutation, variables in changes:
        await refused(sessions, s.task, "NOT_FOUND", run(s.carol, mutation, id=s.task, **variables))
    await claim(s.alice.api, s.task)
    for who in (s.bob, s.carol, s.admin):
        expected = "NOT_FOUND" if who is s.carol else "FORBIDDEN"
        for mutation, variables in changes:
            await refused(sessions, s.task, expected, run(who, mutation, id=s.task, **variables))


@pytest.mark.parametrize("mutation", [DUE, FOLLOW_UP], ids=["due", "follow-up"])
async def test_a_date_without_a_time_zone_is_bad_user_input(
    s: Scene, sessions: SessionMaker, mutation: str
) -> None:
    """It would be read in the server's time zone, whatever the client meant."""
    await refused(
        sessions, s.task, "BAD_USER_INPUT", run(s.alice, mutation, id=s.task, at="2031-05-04T03:02")
    )


# -- comments ---------------------------------------------------------------------------


async def test_anyone_who_may_see_a_task_comments_on_it_oldest_first(
    s: Scene, sessions: SessionMaker
) -> None:
    await claim(s.alice.api, s.task)
    await run(s.alice, DELEGATE, id=s.task, user=s.dave.gid)
    said = [
        (s.alice, "Please check the totals."),  # the owner
        (s.dave, "Totals are fine."),  # the delegate
        (s.bob, "  Thanks!  "),  # a candidate
        (s.admin, "Noted."),  # an admin
    ]
    for who, message in said:
        async with one_change(sessions, s.task, E.TASK_UPDATED, who):
            comment = await run(who, COMMENT, id=s.task, m=message)
        assert comment["author"] == {"username": who.name}
        assert comment["message"] == message.strip()

    task = await task_of(s.bob, s.task)
    assert task["comments"] == [
        {"author": {"username": who.name}, "message": message.strip()} for who, message in said
    ]
    assert task["commentCount"] == len(said)

    # Closed tasks keep taking remarks from the people who may see them.
    await run(s.dave, RESOLVE, id=s.task)
    await complete(s.alice.api, s.task)
    async with one_change(sessions, s.task, E.TASK_UPDATED, s.bob):
        await run(s.bob, COMMENT, id=s.task, m="Done.")
    assert (await task_of(s.alice, s.task))["commentCount"] == len(said) + 1


@pytest.mark.parametrize("message", ["", "   \n ", "x" * 10_001], ids=["empty", "blank", "long"])
async def test_an_empty_or_overlong_comment_is_bad_user_input(
    s: Scene, sessions: SessionMaker, message: str
) -> None:
    await refused(sessions, s.task, "BAD_USER_INPUT", run(s.alice, COMMENT, id=s.task, m=message))


async def test_an_outsider_may_not_comment_on_a_task(s: Scene, sessions: SessionMaker) -> None:
    await refused(sessions, s.task, "NOT_FOUND", run(s.carol, COMMENT, id=s.task, m="Hello"))


# -- live events ------------------------------------------------------------------------


async def log_head(sessions: SessionMaker) -> str:
    """A `since` for taskEvents that misses nothing committed from now on (as the server's
    own start position), so a subscriber cannot miss a change made right after it connects."""
    async with sessions() as session:
        xmin = (
            await session.exec(
                select(sa.text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint"))
            )
        ).one()
    return LogPosition(int(xmin), 0).encode()


async def heard(sub: Subscription, count: int) -> list[tuple[str, str]]:
    """The next `count` events as (type, task id); fewer if no more come within 10 s."""
    found: list[tuple[str, str]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            while len(found) < count:
                payload = await sub.next()
                assert not payload.get("errors"), payload
                event = payload["data"]["taskEvents"]
                found.append((event["type"], event["task"]["id"]))
    return found


async def test_every_change_reaches_the_people_concerned_and_no_one_else(
    s: Scene, sessions: SessionMaker, tokens: TokenIssuer, client: GraphQLClient, app_url: str
) -> None:
    eve = await person(sessions, tokens, http=client.http)  # concerned by nothing until the end
    url = app_url.replace("http://", "ws://") + "/graphql"
    since = {"since": await log_head(sessions)}
    T = s.task
    async with (
        subscribe(url, TASK_EVENTS, s.alice.api.token, since) as to_alice,
        subscribe(url, TASK_EVENTS, s.bob.api.token, since) as to_bob,
        subscribe(url, TASK_EVENTS, s.carol.api.token, since) as to_carol,
        subscribe(url, TASK_EVENTS, s.dave.api.token, since) as to_dave,
        subscribe(url, TASK_EVENTS, eve.api.token, since) as to_eve,
    ):
        await claim(s.alice.api, T)  # 1
        await run(s.alice, UNCLAIM, id=T)  # 2
        await claim(s.alice.api, T)  # 3
        await run(s.alice, ASSIGN, id=T, user=s.carol.gid)  # 4: to carol, away from alice
        await run(s.carol, DELEGATE, id=T, user=s.dave.gid)  # 5
        await run(s.dave, PRIORITY, id=T, p=80)  # 6: the owner, carol, hears of it
        await run(s.dave, RESOLVE, id=T, v={"ok": True})  # 7
        await run(s.carol, COMMENT, id=T, m="thanks")  # 8
        await run(s.carol, DUE, id=T, at="2031-01-01T00:00:00+00:00")  # 9
        await run(s.carol, ASSIGN, id=T, user=s.dave.gid)  # 10: away from carol
        # A marker task passed from hand to hand: whoever hears it heard nothing else before.
        M = (await start(s.alice.api, s.key))["tasks"][0]["id"]  # 11
        for who in (s.carol, s.dave, eve):  # 12, 13, 14
            await run(s.admin, ASSIGN, id=M, user=who.gid)

        on_t = [
            ("TASK_CLAIMED", T),
            ("TASK_UNCLAIMED", T),
            ("TASK_CLAIMED", T),
            ("TASK_ASSIGNED", T),
            ("TASK_DELEGATED", T),
            ("TASK_UPDATED", T),
            ("TASK_RESOLVED", T),
            ("TASK_UPDATED", T),
            ("TASK_UPDATED", T),
            ("TASK_ASSIGNED", T),
        ]
        on_m = [("TASK_CREATED", M), *[("TASK_ASSIGNED", M)] * 3]
        group = on_t + on_m
        expected = {
            "alice": (to_alice, group),
            "bob": (to_bob, group),
            "carol": (to_carol, on_t[3:] + on_m[1:3]),
            "dave": (to_dave, [*on_t[4:7], on_t[9], *on_m[2:]]),
            "eve": (to_eve, on_m[3:]),
        }
        for name, (sub, events) in expected.items():
            assert await heard(sub, len(events)) == events, name


# -- races ------------------------------------------------------------------------------


async def outcome(call: Awaitable[Any]) -> str:
    try:
        await call
    except GraphQLError as error:
        [code] = error.codes
        return code
    return "ok"


async def both(first: Awaitable[Any], second: Awaitable[Any]) -> tuple[str, str]:
    a, b = await asyncio.gather(outcome(first), outcome(second))
    return a, b


@pytest.mark.parametrize("same_person", [False, True], ids=["two-people", "one-person"])
async def test_a_claim_racing_a_completion_tells_one_consistent_story(
    s: Scene, sessions: SessionMaker, same_person: bool
) -> None:
    claimer = s.alice if same_person else s.bob
    for _ in range(4):
        task = (await start(s.alice.api, s.key))["tasks"][0]["id"]

        completed, claimed = await both(
            run(s.alice, COMPLETE, id=task), run(claimer, CLAIM, id=task)
        )

        kinds = [kind for kind, _ in await history_of(sessions, task)]
        row = await row_of(sessions, task)
        assert kinds.count(E.TASK_COMPLETED) <= 1
        assert kinds.count(E.TASK_CLAIMED) <= 1
        if E.TASK_COMPLETED in kinds and E.TASK_CLAIMED in kinds:
            assert kinds.index(E.TASK_CLAIMED) < kinds.index(E.TASK_COMPLETED)
        assert "ok" in (completed, claimed)
        assert (E.TASK_COMPLETED in kinds) == (completed == "ok")
        assert (E.TASK_CLAIMED in kinds) == (claimed == "ok")
        if completed == "ok":
            assert (row.status, row.completed_by) == (TaskStatus.COMPLETED, s.alice.row.id)
            # Only its own claim comes before a completion.
            assert claimed == "CONFLICT" or same_person
        else:
            # Lost while the task was open (CONFLICT), or found it already someone
            # else's (FORBIDDEN).
            assert completed in ("CONFLICT", "FORBIDDEN")
            assert completed == "CONFLICT" or not same_person
            assert (row.status, row.assignee_id) == (TaskStatus.CLAIMED, claimer.row.id)
        if claimed != "ok":
            assert claimed == "CONFLICT"


async def test_an_assignment_racing_a_claim_tells_one_consistent_story(
    s: Scene, sessions: SessionMaker
) -> None:
    for _ in range(4):
        task = (await start(s.alice.api, s.key))["tasks"][0]["id"]

        assigned, claimed = await both(
            run(s.admin, ASSIGN, id=task, user=s.carol.gid), run(s.bob, CLAIM, id=task)
        )

        history = (await history_of(sessions, task))[1:]  # after TASK_CREATED
        row = await row_of(sessions, task)
        assert "ok" in (assigned, claimed)
        assert {assigned, claimed} <= {"ok", "CONFLICT"}
        expected = []
        if claimed == "ok":
            expected.append((E.TASK_CLAIMED, s.bob.row.id))
        if assigned == "ok":
            # An admin's assignment may come after a claim, never before it: once assigned,
            # the task is nobody else's to claim.
            expected.append((E.TASK_ASSIGNED, s.admin.row.id))
        assert history == expected
        assert row.version == 1 + len(expected)
        holder = s.carol if assigned == "ok" else s.bob
        assert (row.status, row.assignee_id) == (TaskStatus.CLAIMED, holder.row.id)
