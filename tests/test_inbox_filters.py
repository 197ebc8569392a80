"""The inbox query: every filter, every order, keyset pagination that stays put while tasks
arrive, the badges, and visibility: nobody sees another group's tasks through any filter,
while admins see them all."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from strawberry.relay import GlobalID

from api.auth.tokens import TokenIssuer
from api.db import SessionMaker
from api.models import Task
from api.settings import Settings
from tests.client import GraphQLClient, GraphQLError
from tests.factories import claim, complete, deploy, start
from tests.kit.operations import NODE, TASK
from tests.test_tasks_lifecycle import Person, person, pk

TASKS = """query($f: TaskFilter, $o: [TaskOrder!], $first: Int, $after: String) {
  tasks(filter: $f, orderBy: $o, first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}"""
COUNTS = "{ taskCounts { mine groups overdue } }"
SET_DUE = "mutation($id: ID!, $at: DateTime) { setTaskDueDate(id: $id, dueAt: $at) { id } }"

ALL = ["CREATED", "CLAIMED", "COMPLETED"]
PAST_DUE = "2000-01-01T00:00:00+00:00"


def definition(
    key: str, name: str, groups: list[str], priority: int | str, due: str | None = None
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "id": "work",
        "type": "userTask",
        "name": name,
        "candidateGroups": groups,
        "priority": priority,
    }
    if due:
        task["due"] = due
    return {
        "key": key,
        "name": name,
        "nodes": [{"id": "start", "type": "startEvent"}, task, {"id": "end", "type": "endEvent"}],
        "flows": [{"from": "start", "to": "work"}, {"from": "work", "to": "end"}],
    }


@dataclass
class World:
    """Tasks of four definitions for the groups sales and legal, and of a fifth for a group
    none of ann and bob is in. Started in this order:

    | task | definition | name                 | groups | priority | due       | business key |
    | a1   | alpha      | Review 100% of_items | sales  | 80       | +1 day    | order-1      |
    | b1   | beta       | Approve invoice      | legal  | 20       | 2000 (*)  | order-1      |
    | c1   | gamma      | Check contract       | sales  | 50       | none      |              |
    | a2   | alpha      | Review 100% of_items | sales  | 80       | +1 day    | order-2      |
    | d1   | delta      | review 1000 of items | legal  | 10       | +2 days   |              |
    | c2   | gamma      | Check contract       | sales  | 50       | none      |              |
    | h1   | hidden     | Secret review        | hidden | 90       | +1 day    | order-1      |
    | h2   | hidden     | Secret review        | hidden | 90       | +1 day    |              |

    (*) set past by ann. ann (sales, legal) claimed a2 and completed c1; bob (sales)
    claimed c2; oli (hidden) claimed h1 and completed h2; adm is an admin in no group."""

    keys: dict[str, str]
    business_keys: dict[str, str]
    ann: Person
    bob: Person
    oli: Person
    adm: Person
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def name_of(self, task_id: str) -> str:
        for name, task in self.tasks.items():
            if task["id"] == task_id:
                return name
        return task_id

    def id(self, name: str) -> str:
        task_id: str = self.tasks[name]["id"]
        return task_id


@pytest.fixture(scope="module")
async def world(app_url: str, sessions: SessionMaker, settings: Settings) -> AsyncIterator[World]:
    u = uuid.uuid4().hex[:8]
    sales, legal, hidden = f"sales-{u}", f"legal-{u}", f"hidden-{u}"
    async with httpx.AsyncClient(base_url=app_url, timeout=30) as http:
        make = functools.partial(person, sessions, TokenIssuer(settings), http=http)
        w = World(
            keys={k: f"{k}_{u}" for k in ("alpha", "beta", "gamma", "delta", "hidden")},
            business_keys={"order-1": f"order-1-{u}", "order-2": f"order-2-{u}"},
            ann=await make(sales, legal),
            bob=await make(sales),
            oli=await make(hidden),
            adm=await make(admin=True),
        )
        k = w.keys
        for d in (
            definition(k["alpha"], "Review 100% of_items", [sales], 80, "P1D"),
            definition(k["beta"], "Approve invoice", [legal], 20, "P3D"),
            definition(k["gamma"], "Check contract", [sales], 50),
            definition(k["delta"], "review 1000 of items", [legal], 10, "P2D"),
            definition(k["hidden"], "Secret review", [hidden], 90, "P1D"),
        ):
            await deploy(w.ann.api, d)
        for name, key, business_key in (
            ("a1", "alpha", "order-1"),
            ("b1", "beta", "order-1"),
            ("c1", "gamma", None),
            ("a2", "alpha", "order-2"),
            ("d1", "delta", None),
            ("c2", "gamma", None),
            ("h1", "hidden", "order-1"),
            ("h2", "hidden", None),
        ):
            starter = w.oli if key == "hidden" else w.ann
            bk = w.business_keys[business_key] if business_key else None
            started = await start(starter.api, k[key], business_key=bk)
            [task] = started["tasks"]
            w.tasks[name] = {**task, "instance": started["id"]}
        # The created times as stored (the factories' task fields do not include them).
        async with sessions() as session:
            for task in w.tasks.values():
                row = await session.get(Task, pk(task["id"]))
                assert row is not None
                task["createdAt"] = row.created_at.isoformat()
        await claim(w.ann.api, w.id("a2"))
        await claim(w.bob.api, w.id("c2"))
        await complete(w.ann.api, w.id("c1"))
        await w.ann.api.execute(SET_DUE, {"id": w.id("b1"), "at": PAST_DUE})
        await claim(w.oli.api, w.id("h1"))
        await complete(w.oli.api, w.id("h2"))
        yield w


async def page(
    who: Person,
    filter: dict[str, Any] | None = None,
    order: list[dict[str, Any]] | None = None,
    *,
    first: int | None = 100,
    after: str | None = None,
) -> dict[str, Any]:
    data = await who.api.execute(TASKS, {"f": filter, "o": order, "first": first, "after": after})
    tasks: dict[str, Any] = data["tasks"]
    return tasks


async def names(
    w: World, who: Person, filter: dict[str, Any] | None = None, order: Any = None
) -> list[str]:
    """The tasks the caller gets, by their names in the world (ids of others as they are)."""
    found = await page(who, filter, order)
    return [w.name_of(e["node"]["id"]) for e in found["edges"]]


async def walk(who: Person, filter: Any, order: Any, first: int) -> list[str]:
    """Every task id, page by page; each page at most `first` long."""
    seen: list[str] = []
    after = None
    while True:
        found = await page(who, filter, order, first=first, after=after)
        assert len(found["edges"]) <= first
        seen += [e["node"]["id"] for e in found["edges"]]
        if not found["pageInfo"]["hasNextPage"]:
            return seen
        after = found["pageInfo"]["endCursor"]


def now(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


# -- filters ----------------------------------------------------------------------------


async def test_without_a_filter_each_caller_gets_their_open_and_claimable_tasks_newest_first(
    world: World,
) -> None:
    assert await names(world, world.ann) == ["d1", "a2", "b1", "a1"]
    assert await names(world, world.bob) == ["c2", "a1"]
    assert await names(world, world.oli) == ["h1"]
    assert await names(world, world.adm) == []


Filter = Callable[[World], dict[str, Any]]

# (caller, filter, the tasks it gets in the default order: newest first)
CASES: list[tuple[str, str, Filter, list[str]]] = [
    ("assigned to me", "ann", lambda w: {"assignedToMe": True}, ["a2"]),
    # Not assigned to me includes the unassigned ones.
    ("not assigned to me", "ann", lambda w: {"assignedToMe": False}, ["c2", "d1", "b1", "a1"]),
    ("assignee", "ann", lambda w: {"assigneeId": w.bob.gid}, ["c2"]),
    ("assignee is me", "ann", lambda w: {"assigneeId": w.ann.gid}, ["a2"]),
    ("unassigned", "ann", lambda w: {"unassigned": True}, ["d1", "b1", "a1"]),
    ("assigned", "ann", lambda w: {"unassigned": False}, ["c2", "a2"]),
    ("candidate", "ann", lambda w: {"candidateForMe": True}, ["c2", "d1", "a2", "b1", "a1"]),
    ("candidate (bob)", "bob", lambda w: {"candidateForMe": True}, ["c2", "a2", "a1"]),
    ("not candidate", "ann", lambda w: {"candidateForMe": False}, []),
    ("completed", "ann", lambda w: {"status": ["COMPLETED"]}, ["c1"]),
    ("completed (bob)", "bob", lambda w: {"status": ["COMPLETED"]}, ["c1"]),
    ("completed (oli)", "oli", lambda w: {"status": ["COMPLETED"]}, ["h2"]),
    ("created", "ann", lambda w: {"status": ["CREATED"]}, ["d1", "b1", "a1"]),
    ("claimed", "ann", lambda w: {"status": ["CLAIMED"]}, ["c2", "a2"]),
    ("any status", "ann", lambda w: {"status": ALL}, ["c2", "d1", "a2", "c1", "b1", "a1"]),
    ("definition", "ann", lambda w: {"definitionKey": w.keys["alpha"]}, ["a2", "a1"]),
    # Without a status or assignment filter it is the inbox: c1 is closed, c2 bob's.
    ("definition, inbox", "ann", lambda w: {"definitionKey": w.keys["gamma"]}, []),
    (
        "definition, any status",
        "ann",
        lambda w: {"definitionKey": w.keys["gamma"], "status": ALL},
        ["c2", "c1"],
    ),
    ("instance", "ann", lambda w: {"instanceId": w.tasks["a1"]["instance"]}, ["a1"]),
    (
        "instance, completed",
        "ann",
        lambda w: {"instanceId": w.tasks["c1"]["instance"], "status": ["COMPLETED"]},
        ["c1"],
    ),
    ("business key", "ann", lambda w: {"businessKey": w.business_keys["order-1"]}, ["b1", "a1"]),
    ("name, any case", "ann", lambda w: {"nameContains": "REVIEW"}, ["d1", "a2", "a1"]),
    ("name with %", "ann", lambda w: {"nameContains": "100%"}, ["a2", "a1"]),
    ("name with _", "ann", lambda w: {"nameContains": "of_"}, ["a2", "a1"]),
    ("name is %", "ann", lambda w: {"nameContains": "%"}, ["a2", "a1"]),
    ("name is _", "ann", lambda w: {"nameContains": "_"}, ["a2", "a1"]),
    ("name, none", "ann", lambda w: {"nameContains": "nothing like it"}, []),
    ("priority min", "ann", lambda w: {"priorityMin": 20}, ["a2", "b1", "a1"]),
    ("priority max", "ann", lambda w: {"priorityMax": 20}, ["d1", "b1"]),
    ("priority range", "ann", lambda w: {"priorityMin": 15, "priorityMax": 50}, ["b1"]),
    ("due before now", "ann", lambda w: {"dueBefore": now()}, ["b1"]),
    ("due after now", "ann", lambda w: {"dueAfter": now()}, ["d1", "a2", "a1"]),
    ("due before", "ann", lambda w: {"dueBefore": now(hours=36)}, ["a2", "b1", "a1"]),
    ("due after", "ann", lambda w: {"dueAfter": now(hours=36)}, ["d1"]),
    ("created after", "ann", lambda w: {"createdAfter": w.tasks["a2"]["createdAt"]}, ["d1"]),
    (
        "created before",
        "ann",
        lambda w: {"createdBefore": w.tasks["a2"]["createdAt"]},
        ["b1", "a1"],
    ),
    (
        "created between",
        "ann",
        lambda w: {
            "createdAfter": w.tasks["a1"]["createdAt"],
            "createdBefore": w.tasks["d1"]["createdAt"],
        },
        ["a2", "b1"],
    ),
    ("overdue", "ann", lambda w: {"overdue": True}, ["b1"]),
    ("not overdue", "ann", lambda w: {"overdue": False}, ["d1", "a2", "a1"]),
    # Without a due date a task is not overdue.
    (
        "not overdue, open",
        "ann",
        lambda w: {"overdue": False, "status": ["CREATED", "CLAIMED"]},
        ["c2", "d1", "a2", "a1"],
    ),
    (
        "definition and mine",
        "ann",
        lambda w: {"definitionKey": w.keys["alpha"], "assignedToMe": True},
        ["a2"],
    ),
    (
        "unassigned, low, late",
        "ann",
        lambda w: {"unassigned": True, "priorityMax": 20, "dueBefore": now()},
        ["b1"],
    ),
    (
        "name and unassigned",
        "ann",
        lambda w: {"nameContains": "review", "unassigned": True},
        ["d1", "a1"],
    ),
    (
        "business key, any status, priority",
        "ann",
        lambda w: {"businessKey": w.business_keys["order-1"], "status": ALL, "priorityMin": 50},
        ["a1"],
    ),
    (
        "not assigned to me, completed",
        "ann",
        lambda w: {"assignedToMe": False, "status": ["COMPLETED"]},
        [],
    ),
]


@pytest.mark.parametrize(
    ("caller", "make_filter", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_each_filter_narrows_the_inbox_to_what_it_names(
    world: World, caller: str, make_filter: Filter, expected: list[str]
) -> None:
    who: Person = getattr(world, caller)
    assert await names(world, who, make_filter(world)) == expected


async def test_the_badges_count_mine_claimable_and_overdue_tasks(world: World) -> None:
    expected = {
        "ann": {"mine": 1, "groups": 3, "overdue": 1},
        "bob": {"mine": 1, "groups": 1, "overdue": 0},
        "oli": {"mine": 1, "groups": 0, "overdue": 0},
        "adm": {"mine": 0, "groups": 0, "overdue": 0},
    }
    for name, counts in expected.items():
        who: Person = getattr(world, name)
        assert (await who.api.execute(COUNTS))["taskCounts"] == counts, name


# -- visibility -------------------------------------------------------------------------

# Filters that would show oli's tasks h1 and h2 to anyone allowed to see them.
REACHING: list[tuple[str, Filter]] = [
    ("definition", lambda w: {"definitionKey": w.keys["hidden"], "status": ALL}),
    ("instance", lambda w: {"instanceId": w.tasks["h1"]["instance"], "status": ALL}),
    ("instance, inbox", lambda w: {"instanceId": w.tasks["h1"]["instance"]}),
    ("business key", lambda w: {"businessKey": w.business_keys["order-1"], "status": ALL}),
    ("name", lambda w: {"nameContains": "secret", "status": ALL}),
    ("assignee", lambda w: {"assigneeId": w.oli.gid, "status": ALL}),
    ("assigned", lambda w: {"unassigned": False, "priorityMin": 90}),
    ("not assigned to me", lambda w: {"assignedToMe": False, "status": ALL}),
    ("not candidate", lambda w: {"candidateForMe": False, "status": ALL}),
    ("completed", lambda w: {"status": ["COMPLETED"], "priorityMin": 90}),
    ("not overdue", lambda w: {"overdue": False, "status": ALL, "priorityMin": 90}),
    ("due after", lambda w: {"dueAfter": now(), "status": ALL}),
    ("created after", lambda w: {"createdAfter": w.tasks["a1"]["createdAt"], "status": ALL}),
]


@pytest.mark.parametrize("make_filter", [r[1] for r in REACHING], ids=[r[0] for r in REACHING])
async def test_nobody_sees_tasks_of_groups_they_are_not_in_through_any_filter(
    world: World, make_filter: Filter
) -> None:
    hidden = {world.id("h1"), world.id("h2")}
    for who in (world.ann, world.bob):
        found = await page(who, make_filter(world))
        assert not hidden & {e["node"]["id"] for e in found["edges"]}


async def test_admins_see_every_task_through_the_filters(world: World) -> None:
    h = world.tasks
    w = world
    for filter, expected in (
        ({"definitionKey": w.keys["hidden"], "status": ALL}, ["h2", "h1"]),
        ({"instanceId": h["h1"]["instance"], "status": ALL}, ["h1"]),
        ({"businessKey": w.business_keys["order-1"], "status": ALL}, ["h1", "b1", "a1"]),
        ({"assigneeId": w.oli.gid}, ["h1"]),
        ({"definitionKey": w.keys["hidden"], "status": ["COMPLETED"]}, ["h2"]),
        ({"definitionKey": w.keys["gamma"], "status": ALL}, ["c2", "c1"]),
        ({"definitionKey": w.keys["hidden"], "unassigned": False}, ["h1"]),
    ):
        assert await names(w, w.adm, filter) == expected, filter


async def test_a_task_of_another_group_is_not_readable_by_id(world: World) -> None:
    for task in ("h1", "h2"):
        with pytest.raises(GraphQLError) as refused:
            await world.ann.api.execute(TASK, {"id": world.id(task)})
        assert refused.value.codes == ["NOT_FOUND"]
        assert (await world.ann.api.execute(NODE, {"id": world.id(task)}))["node"] is None
        assert (await world.adm.api.execute(TASK, {"id": world.id(task)}))["task"]


# -- orders and pagination --------------------------------------------------------------


def asc(field: str) -> dict[str, Any]:
    return {"field": field, "descending": False}


def desc(field: str) -> dict[str, Any]:
    return {"field": field, "descending": True}


ORDERS: list[tuple[str, list[dict[str, Any]] | None]] = [
    ("default", None),
    ("created", [asc("CREATED")]),
    ("created desc", [desc("CREATED")]),
    ("due", [asc("DUE")]),
    ("due desc", [desc("DUE")]),
    ("priority", [asc("PRIORITY")]),
    ("priority desc", [desc("PRIORITY")]),
    ("name", [asc("NAME")]),
    ("name desc", [desc("NAME")]),
    ("priority desc, name", [desc("PRIORITY"), asc("NAME")]),
    ("due, priority desc", [asc("DUE"), desc("PRIORITY")]),
]


EARLIEST = datetime.min.replace(tzinfo=UTC)


def _sort_value(field: str, descending: bool, rank: dict[str, int]) -> Callable[[Task], Any]:
    match field:
        case "CREATED":
            return lambda r: r.created_at
        case "PRIORITY":
            return lambda r: r.priority
        case "NAME":
            return lambda r: rank[r.name]
        case _:
            # Tasks without a due date last, whichever the direction.
            if descending:
                return lambda r: (r.due_at is not None, r.due_at or EARLIEST)
            return lambda r: (r.due_at is None, r.due_at or EARLIEST)


async def expected_order(
    sessions: SessionMaker, task_ids: list[str], order: list[dict[str, Any]] | None
) -> list[str]:
    """The order the inbox promises, worked out here from the rows: each key in turn, then
    the id in the direction of the last key. Names compare as the database collates them."""
    keys = order or [desc("CREATED")]
    async with sessions() as session:
        found = await session.exec(select(Task).where(col(Task.id).in_([pk(t) for t in task_ids])))
        rows = list(found.all())
        names = sorted({r.name for r in rows})
        values = sa.text("unnest(CAST(:names AS text[])) AS n").bindparams(names=names)
        n: sa.ColumnClause[str] = sa.literal_column("n")
        collated = await session.exec(select(n).select_from(values).order_by(n))
        rank = {name: i for i, name in enumerate(collated.all())}
    # Stable sorts, the least significant key first.
    rows.sort(key=lambda r: r.id, reverse=keys[-1]["descending"])
    for key in reversed(keys):
        rows.sort(key=_sort_value(key["field"], key["descending"], rank), reverse=key["descending"])
    return [str(GlobalID("Task", str(r.id))) for r in rows]


@pytest.mark.parametrize("order", [o[1] for o in ORDERS], ids=[o[0] for o in ORDERS])
async def test_each_order_sorts_and_pages_through_every_task_exactly_once(
    world: World, sessions: SessionMaker, order: list[dict[str, Any]] | None
) -> None:
    visible = [world.id(n) for n in ("a1", "b1", "c1", "a2", "d1", "c2")]
    expected = await expected_order(sessions, visible, order)

    found = await page(world.ann, {"status": ALL}, order)
    assert [world.name_of(e["node"]["id"]) for e in found["edges"]] == [
        world.name_of(t) for t in expected
    ]
    for first in (1, 2, 4):
        assert await walk(world.ann, {"status": ALL}, order, first) == expected, first


async def test_tasks_without_a_due_date_come_last_in_either_direction(world: World) -> None:
    for direction in (asc("DUE"), desc("DUE")):
        got = await names(world, world.ann, {"status": ALL}, [direction])
        assert sorted(got[-2:]) == ["c1", "c2"], direction
    assert (await names(world, world.ann, {"status": ALL}, [asc("DUE")]))[:1] == ["b1"]
    assert (await names(world, world.ann, {"status": ALL}, [desc("DUE")]))[:1] == ["d1"]


async def test_cursors_stay_put_while_tasks_arrive(
    client: GraphQLClient, sessions: SessionMaker, settings: Settings, unique: str
) -> None:
    group = f"team-{unique}"
    who = await person(sessions, TokenIssuer(settings), group, http=client.http)
    key = f"prio_{unique}"
    await deploy(who.api, definition(key, "Prioritised", [group], "=prio"))

    async def new(priority: int) -> str:
        task_id: str = (await start(who.api, key, prio=priority))["tasks"][0]["id"]
        return task_id

    old = {p: await new(p) for p in (90, 80, 70, 60, 50, 40, 30)}
    by_priority, newest_first = [desc("PRIORITY")], None
    first_pages = {
        "priority": await page(who, None, by_priority, first=3),
        "created": await page(who, None, newest_first, first=3),
    }
    assert [e["node"]["id"] for e in first_pages["priority"]["edges"]] == [
        old[90],
        old[80],
        old[70],
    ]
    # Before page 1's last task and after it, in both orders.
    arrived = {p: await new(p) for p in (95, 75, 65, 10)}

    rest = await walk_from(who, by_priority, first_pages["priority"]["pageInfo"]["endCursor"])
    assert rest == [arrived[65], old[60], old[50], old[40], old[30], arrived[10]]
    rest = await walk_from(who, newest_first, first_pages["created"]["pageInfo"]["endCursor"])
    # Newest first: everything that arrived sorts before page 1 (the three made last), so
    # the older ones follow on.
    assert [e["node"]["id"] for e in first_pages["created"]["edges"]] == [
        old[30],
        old[40],
        old[50],
    ]
    assert rest == [old[p] for p in (60, 70, 80, 90)]


async def walk_from(who: Person, order: Any, after: str) -> list[str]:
    seen: list[str] = []
    while True:
        found = await page(who, None, order, first=2, after=after)
        seen += [e["node"]["id"] for e in found["edges"]]
        if not found["pageInfo"]["hasNextPage"]:
            return seen
        after = found["pageInfo"]["endCursor"]


async def test_a_cursor_made_for_one_order_is_refused_by_another(world: World) -> None:
    orders = [o for _, o in ORDERS[1:]]  # "default" is "created desc"
    cursors = []
    for order in orders:
        found = await page(world.ann, {"status": ALL}, order, first=1)
        cursors.append(found["pageInfo"]["endCursor"])
    for i, cursor in enumerate(cursors):
        for j, order in enumerate(orders):
            if i == j:
                assert (await page(world.ann, {"status": ALL}, order, after=cursor))["edges"]
                continue
            with pytest.raises(GraphQLError) as refused:
                await page(world.ann, {"status": ALL}, order, after=cursor)
            assert refused.value.codes == ["BAD_USER_INPUT"], (orders[i], order)


@pytest.mark.parametrize("first", [0, -1, 101, 10_000])
async def test_a_page_size_out_of_range_is_bad_user_input(world: World, first: int) -> None:
    with pytest.raises(GraphQLError) as refused:
        await page(world.ann, first=first)
    assert refused.value.codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("name", ["dueBefore", "dueAfter", "createdBefore", "createdAfter"])
async def test_a_date_without_a_time_zone_is_bad_user_input(world: World, name: str) -> None:
    with pytest.raises(GraphQLError) as refused:
        await page(world.ann, {name: "2031-05-04T03:02:01"})
    assert refused.value.codes == ["BAD_USER_INPUT"]
