"""Completing a task while its instance is being cancelled: one consistent story."""

from __future__ import annotations

import asyncio

from api.services.users import UserService
from tests.client import GraphQLClient, GraphQLError
from tests.factories import complete, deploy, instance, one_task, start
from tests.kit.operations import CANCEL
from tests.kit.people import as_user


async def test_complete_racing_cancel_ends_in_one_consistent_story(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    group = f"g-{unique}"
    starter = await as_user(client, users, groups=[group])
    worker = await as_user(client, users, groups=[group])
    key = (await deploy(starter, one_task(group=group)))["key"]
    outcomes = set()
    for _ in range(5):
        started = await start(starter, key)
        task_id = started["tasks"][0]["id"]
        results = await asyncio.gather(
            complete(worker, task_id),
            starter.execute(CANCEL, {"id": started["id"], "r": "race"}),
            return_exceptions=True,
        )
        completed, cancelled = (not isinstance(r, BaseException) for r in results)
        for result in results:
            if isinstance(result, BaseException):
                assert isinstance(result, GraphQLError) and result.codes == ["CONFLICT"], result
        final = await instance(starter, started["id"])
        types = [h["type"] for h in final["history"]]
        [task] = final["tasks"]
        # Exactly one of them won, and every row agrees with the history.
        assert completed != cancelled, results
        if completed:
            outcomes.add("completed")
            assert final["status"] == "COMPLETED" and task["status"] == "COMPLETED"
            assert types.count("TASK_COMPLETED") == 1 and "TASK_CANCELLED" not in types
        else:
            outcomes.add("cancelled")
            assert final["status"] == "CANCELLED" and task["status"] == "CANCELLED"
            assert types.count("TASK_CANCELLED") == 1 and "TASK_COMPLETED" not in types
        assert [h["seq"] for h in final["history"]] == list(range(1, len(types) + 1))
    assert outcomes, outcomes
