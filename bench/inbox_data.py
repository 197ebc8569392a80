"""The inbox fixture shared by the inbox, growth and many_open scenarios: synthetic rows bulk
inserted with generate_series (as tests/test_inbox_plan.py does), the GraphQL query with every
nested field, and the interleaved GraphQL-vs-raw measurement."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import templates
from api.auth.tokens import TokenIssuer
from api.services.definitions import DefinitionService
from api.services.users import UserService
from bench.http import Connection
from bench.stack import Person, Stack

# Every nested field an inbox screen shows: instance, definition, assignee, candidate groups,
# comment count. The raw route (bench.raw_inbox) returns the same fields.
INBOX_QUERY = """query($first: Int) { tasks(first: $first) { edges { cursor node {
  id name status priority dueAt createdAt candidateGroups commentCount
  assignee { id username displayName }
  instance { id businessKey status startedAt definition { id key name version } }
} } pageInfo { hasNextPage endCursor } } }"""

# The same page with the task's own scalar columns only: no relation, no nested object.
# Not a comparison side: it shows what GraphQL execution costs by itself for 50 rows.
SCALARS_QUERY = """query($first: Int) { tasks(first: $first) { edges { cursor node {
  id name status priority dueAt createdAt candidateGroups
} } pageInfo { hasNextPage endCursor } } }"""

MY_GROUP = "bench-team"
MINE = 60  # open tasks in my inbox: a third assigned to me, the rest claimable via my group
OTHER_USERS = 100
INSTANCES = 1000


@dataclass(frozen=True)
class InboxFixture:
    me: Person
    definitions: list[uuid.UUID]


async def fill(stack: Stack, total_tasks: int) -> InboxFixture:
    """My 60 open tasks among `total_tasks`: the rest are other people's (70% closed, 20% open
    for other groups, 10% held by other users), as in the plan test."""
    me = await stack.person(groups=[MY_GROUP])
    assert stack.sessions is not None
    definitions = DefinitionService(stack.sessions)
    deployer = await UserService(stack.sessions, TokenIssuer(stack.settings)).principal(me.id)
    ids = [(await definitions.deploy(doc, deployer)).id for doc in templates.documents()]
    array = "ARRAY[" + ",".join(f"'{i}'" for i in ids) + "]::uuid[]"
    await stack.sql(
        "INSERT INTO users (id, username, password_hash, roles, created_at)"
        " SELECT ('00000000-0000-0000-0001-' || lpad(g::text, 12, '0'))::uuid, 'other' || g, 'x', '{}', now()"
        f" FROM generate_series(1, {OTHER_USERS}) g",
        "INSERT INTO process_instances (id, definition_id, business_key, status, variables, step, last_seq, started_by, started_at)"
        f" SELECT {_instance('g')}, ({array})[1 + g % {len(ids)}], 'BK-' || g, 'RUNNING', '{{}}', 1, 0,"
        f" '{me.id}', now() - (g || ' minutes')::interval"
        f" FROM generate_series(1, {INSTANCES}) g",
        # Mine: the newest sixty, one per instance; every third commented on twice.
        "INSERT INTO tasks (id, instance_id, node_id, name, status, assignee_id, candidate_users,"
        " candidate_groups, priority, due_at, version, created_at, variables, form)"
        f" SELECT {_task('g')}, {_instance('g')}, 'review', 'Review ' || g,"
        f" CASE WHEN g % 3 = 0 THEN 'CLAIMED' ELSE 'CREATED' END,"
        f" CASE WHEN g % 3 = 0 THEN '{me.id}'::uuid END, '{{}}', ARRAY['{MY_GROUP}'], 50,"
        " now() + (g || ' hours')::interval, 1, now() - (g || ' seconds')::interval, '{}',"
        ' \'{"type": "object", "properties": {"approved": {"type": "boolean"}}}\''
        f" FROM generate_series(1, {MINE}) g",
        "INSERT INTO task_comments (id, task_id, author_id, message, created_at)"
        f" SELECT gen_random_uuid(), {_task('g')}, '{me.id}', 'note ' || k, now()"
        f" FROM generate_series(3, {MINE}, 3) g, generate_series(1, 2) k",
    )
    await add_others(stack, 1, total_tasks - MINE)
    return InboxFixture(me, ids)


async def add_others(stack: Stack, first: int, last: int, *, vacuum: bool = True) -> None:
    """Other people's tasks number `first`..`last`, all older than mine, then VACUUM ANALYZE
    (as autovacuum would, in time) or, with vacuum=False, ANALYZE alone (the state right
    after a burst of new tasks)."""
    if last >= first:
        await stack.sql(
            "INSERT INTO tasks (id, instance_id, node_id, name, status, assignee_id, candidate_users,"
            " candidate_groups, priority, version, created_at, completed_at, variables)"
            f" SELECT gen_random_uuid(), {_instance(f'(1 + g % {INSTANCES})')}, 'n', 'task ' || g,"
            " CASE WHEN g % 10 < 7 THEN 'COMPLETED' WHEN g % 10 < 9 THEN 'CREATED' ELSE 'CLAIMED' END,"
            f" CASE WHEN g % 10 = 9 THEN ('00000000-0000-0000-0001-' || lpad((1 + g % {OTHER_USERS})::text, 12, '0'))::uuid END,"
            " '{}', ARRAY['group' || (g % 500)], 50, 1, now() - ((100 + g) || ' seconds')::interval,"
            " CASE WHEN g % 10 < 7 THEN now() END, '{}'"
            f" FROM generate_series({first}, {last}) g"
        )
    await stack.sql("VACUUM ANALYZE" if vacuum else "ANALYZE")


def _instance(g: str) -> str:
    return f"('00000000-0000-0000-0000-' || lpad(({g})::text, 12, '0'))::uuid"


def _task(g: str) -> str:
    return f"('00000000-0000-0000-0002-' || lpad(({g})::text, 12, '0'))::uuid"


def normalized(page: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What must match between the GraphQL and the raw answer (cursors aside)."""
    out = []
    for edge in page["tasks"]["edges"]:
        n = edge["node"]
        out.append(
            (
                n["id"],
                n["name"],
                n["status"],
                n["priority"],
                n["candidateGroups"],
                n["commentCount"],
                (n["assignee"] or {}).get("username"),
                n["instance"]["id"],
                n["instance"]["businessKey"],
                n["instance"]["definition"]["key"],
                n["instance"]["definition"]["version"],
            )
        )
    return out


async def graphql_page(
    connection: Connection, first: int, query: str = INBOX_QUERY
) -> dict[str, Any]:
    data: dict[str, Any] = await connection.graphql(query, {"first": first})
    return data


async def raw_page(connection: Connection, first: int) -> dict[str, Any]:
    data: dict[str, Any] = await connection.get_json(f"/inbox?first={first}")
    return data


async def measure_pair(
    graphql: Connection,
    raw: Connection,
    *,
    first: int,
    warmup: int,
    requests: int,
    reference: list[float] | None = None,
) -> tuple[list[float], list[float]]:
    """Interleaved: one GraphQL page, one raw page, and so on, so that drift hits both sides.
    With `reference`, a scalars-only GraphQL page is timed in the same rounds into it."""
    a = await graphql_page(graphql, first)
    b = await raw_page(raw, first)
    if normalized(a) != normalized(b):
        raise AssertionError("the GraphQL and the raw inbox answer differ")
    if len(a["tasks"]["edges"]) != first:
        raise AssertionError(f"expected {first} tasks, got {len(a['tasks']['edges'])}")
    for _ in range(warmup):
        await graphql_page(graphql, first)
        await raw_page(raw, first)
    ours: list[float] = []
    theirs: list[float] = []
    for i in range(requests):
        for side in (0, 1) if i % 2 == 0 else (1, 0):
            started = time.perf_counter()
            if side == 0:
                await graphql_page(graphql, first)
                ours.append(time.perf_counter() - started)
            else:
                await raw_page(raw, first)
                theirs.append(time.perf_counter() - started)
        if reference is not None:
            started = time.perf_counter()
            await graphql_page(graphql, first, SCALARS_QUERY)
            reference.append(time.perf_counter() - started)
    return ours, theirs
