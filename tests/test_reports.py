"""definitionStats and throughput over the history of real instances, through GraphQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.services.users import UserService
from tests.client import GraphQLClient, GraphQLError
from tests.factories import claim, complete, deploy, one_task, start
from tests.kit.instances import until
from tests.kit.operations import CANCEL
from tests.kit.people import as_user

STATS = """
query($k: String!, $f: DateTime!, $t: DateTime!) {
  definitionStats(key: $k, from: $f, to: $t) {
    started completed cancelled terminated running incidents
    duration { p50 p90 p99 }
    nodes { nodeId passes duration { p50 p90 } waiting { p50 } working { p50 } slaBreaches }
    slowest { instanceId nodeId seconds }
  }
}
"""

THROUGHPUT = """
query($k: String!, $i: String!, $f: DateTime!, $t: DateTime!) {
  throughput(key: $k, interval: $i, from: $f, to: $t) { at started completed }
}
"""

DUE = "mutation($id: ID!, $d: DateTime) { setTaskDueDate(id: $id, dueAt: $d) { dueAt } }"


def window(hours: float = 1) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "f": (now - timedelta(hours=hours)).isoformat(),
        "t": (now + timedelta(hours=hours)).isoformat(),
    }


@pytest.fixture
async def finished(client: GraphQLClient, users: UserService, unique: str) -> dict[str, Any]:
    """Three instances of one definition: one completed in time, one completed after its
    due date, one cancelled."""
    group = f"reviewers-{unique}"
    owner = await as_user(client, users, groups=[group])
    key = (await deploy(owner, one_task(group=group)))["key"]
    instances = [await start(owner, key) for _ in range(3)]
    on_time, late, cancelled = instances
    await claim(owner, on_time["tasks"][0]["id"])
    await complete(owner, on_time["tasks"][0]["id"])
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    await owner.execute(DUE, {"id": late["tasks"][0]["id"], "d": past})
    await complete(owner, late["tasks"][0]["id"])
    await owner.execute(CANCEL, {"id": cancelled["id"]})
    for done in (on_time, late):
        await until(owner, done["id"], lambda i: i["status"] == "COMPLETED")
    await until(owner, cancelled["id"], lambda i: i["status"] == "CANCELLED")
    return {"owner": owner, "key": key, "instances": [i["id"] for i in instances]}


async def test_definition_stats_count_what_became_of_the_instances_started_in_the_window(
    finished: dict[str, Any],
) -> None:
    owner: GraphQLClient = finished["owner"]
    stats = (await owner.execute(STATS, {"k": finished["key"], **window()}))["definitionStats"]
    counts = {k: stats[k] for k in ("started", "completed", "cancelled", "terminated")}
    assert counts == {"started": 3, "completed": 2, "cancelled": 1, "terminated": 0}
    assert stats["running"] == stats["incidents"] == 0
    assert 0 <= stats["duration"]["p50"] <= stats["duration"]["p90"] <= stats["duration"]["p99"]
    work = {node["nodeId"]: node for node in stats["nodes"]}["work"]
    # The cancelled instance never left `work`: two passes, both completed.
    assert work["passes"] == 2 and work["slaBreaches"] == 1
    assert work["waiting"]["p50"] >= 0 and work["working"]["p50"] >= 0
    assert {step["instanceId"] for step in stats["slowest"]} <= set(finished["instances"])
    seconds = [step["seconds"] for step in stats["slowest"]]
    assert seconds == sorted(seconds, reverse=True) and seconds


async def test_a_window_before_the_instances_counts_none(finished: dict[str, Any]) -> None:
    owner: GraphQLClient = finished["owner"]
    earlier = datetime.now(UTC) - timedelta(days=2)
    variables = {
        "k": finished["key"],
        "f": earlier.isoformat(),
        "t": (earlier + timedelta(days=1)).isoformat(),
    }
    stats = (await owner.execute(STATS, variables))["definitionStats"]
    assert stats["started"] == 0 and stats["duration"] is None and stats["nodes"] == []


async def test_throughput_has_one_point_per_interval_and_counts_every_instance(
    finished: dict[str, Any],
) -> None:
    owner: GraphQLClient = finished["owner"]
    variables = {"k": finished["key"], "i": "PT30M", **window()}
    points = (await owner.execute(THROUGHPUT, variables))["throughput"]
    assert len(points) == 4
    starts = [datetime.fromisoformat(p["at"]) for p in points]
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(starts))
    assert sum(p["started"] for p in points) == 3
    assert sum(p["completed"] for p in points) == 2


async def test_reports_of_a_definition_someone_else_deployed_are_not_found(
    finished: dict[str, Any], client: GraphQLClient, users: UserService
) -> None:
    stranger = await as_user(client, users)
    for query, extra in ((STATS, {}), (THROUGHPUT, {"i": "PT1H"})):
        with pytest.raises(GraphQLError) as refused:
            await stranger.execute(query, {"k": finished["key"], **extra, **window()})
        assert refused.value.codes == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("interval", "hours", "message"),
    [("PT1S", 24 * 365, "more than 10000 points"), ("soon", 1, "ISO 8601"), ("PT0S", 1, "zero")],
)
async def test_throughput_refuses_an_interval_it_cannot_chart(
    finished: dict[str, Any], interval: str, hours: float, message: str
) -> None:
    owner: GraphQLClient = finished["owner"]
    with pytest.raises(GraphQLError) as refused:
        await owner.execute(THROUGHPUT, {"k": finished["key"], "i": interval, **window(hours)})
    assert refused.value.codes == ["BAD_USER_INPUT"]
    assert message in refused.value.errors[0]["message"]


async def test_a_window_that_ends_before_it_starts_is_refused(finished: dict[str, Any]) -> None:
    owner: GraphQLClient = finished["owner"]
    backwards = window()
    backwards["f"], backwards["t"] = backwards["t"], backwards["f"]
    with pytest.raises(GraphQLError) as refused:
        await owner.execute(STATS, {"k": finished["key"], **backwards})
    assert refused.value.codes == ["BAD_USER_INPUT"]
