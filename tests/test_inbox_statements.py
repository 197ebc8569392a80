"""An inbox page costs a fixed number of SQL statements, whatever its size: every nested
relation goes through a DataLoader."""

from __future__ import annotations

from api.services.users import UserService
from bench.statements import counting_statements
from tests.client import GraphQLClient
from tests.factories import deploy, one_task, start
from tests.kit.people import make_user

# What an inbox screen shows: the page costs one statement and each kind of related row
# one (the caller's groups one more, once every FLOWDESK_PRINCIPAL_CACHE_SECONDS).
INBOX = """query($first: Int) { tasks(first: $first) { edges { node {
  id name status priority dueAt candidateGroups commentCount assignee { username }
  instance { businessKey definition { key name } }
} } } }"""

EVERYTHING = """query($first: Int) { tasks(first: $first) { edges { node {
  id name status priority dueAt form createdAt candidateGroups version commentCount
  assignee { username groups { key } } owner { username } completedBy { username }
  candidateUsers { username }
  comments { message author { username } }
  instance { id status businessKey startedBy { username } definition { key version deployedBy { username } } }
} } pageInfo { hasNextPage endCursor } } }"""


async def _inbox_of(
    client: GraphQLClient, users: UserService, unique: str, tasks: int
) -> tuple[GraphQLClient, list[str]]:
    """A worker whose inbox holds `tasks` tasks of as many instances, and their ids."""
    group = f"g-{unique}"
    worker = await make_user(users, groups=[group])
    as_worker = await client.login(worker.username)
    key = (await deploy(as_worker, one_task(group=group)))["key"]
    started = [await start(as_worker, key, business_key=f"BK-{i}") for i in range(tasks)]
    return as_worker, [s["tasks"][0]["id"] for s in started]


async def test_an_inbox_page_costs_the_same_statements_for_5_and_100_tasks(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    as_worker, task_ids = await _inbox_of(client, users, unique, 100)
    # Some held, some commented, so that every relation has rows to load.
    for task_id in task_ids[::3]:
        await as_worker.execute("mutation($id: ID!) { claimTask(id: $id) { id } }", {"id": task_id})
    for task_id in task_ids[::4]:
        await as_worker.execute(
            'mutation($id: ID!) { addTaskComment(id: $id, message: "on it") { id } }',
            {"id": task_id},
        )

    for query, most in ((INBOX, 4), (EVERYTHING, 7)):
        counts = {}
        for first in (5, 100):
            with counting_statements() as statements:
                page = await as_worker.execute(query, {"first": first})
            assert len(page["tasks"]["edges"]) == first
            counts[first] = len(statements)
        # The page, instances with definitions, people, comments, ...
        assert counts[5] == counts[100] <= most, counts


# The same selection through a named fragment and an inline one: the page still loads
# the relations ahead (schema/loaded.py reads fragments too) and answers alike.
WITH_FRAGMENTS = """
fragment Who on User { username }
query($first: Int) { tasks(first: $first) { edges { node {
  id name status priority dueAt candidateGroups
  ... on Task { commentCount assignee { ...Who } }
  instance { businessKey definition { key name } }
} } } }"""


async def test_relations_selected_through_fragments_are_loaded_ahead_too(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    as_worker, task_ids = await _inbox_of(client, users, unique, 30)
    for task_id in task_ids[::2]:
        await as_worker.execute("mutation($id: ID!) { claimTask(id: $id) { id } }", {"id": task_id})

    plain = await as_worker.execute(INBOX, {"first": 30})
    counts = {}
    for first in (5, 30):
        with counting_statements() as statements:
            fragments = await as_worker.execute(WITH_FRAGMENTS, {"first": first})
        counts[first] = len(statements)
    assert fragments == plain
    assert {e["node"]["assignee"] is None for e in plain["tasks"]["edges"]} == {True, False}
    assert counts[5] == counts[30] <= 4, counts
