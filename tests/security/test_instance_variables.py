"""setInstanceVariables over real HTTP: only holders of instance:manage who see the
instance, and only values the definition's variables schema admits; a refusal changes
neither the variables nor the history."""

from __future__ import annotations

from typing import Any

from api.db import SessionMaker
from tests.factories import deploy, one_task, start
from tests.security.conftest import refused, snapshot

SET = """mutation($id: ID!, $v: JSON!) {
  setInstanceVariables(id: $id, variables: $v) { variables } }"""
SCHEMA = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "minimum": 1},
        "approved": {"type": "boolean"},
    },
    "required": ["amount"],
}


async def started(people: Any, unique: str, **extra: Any) -> tuple[Any, dict[str, Any], str]:
    group = f"approvers-{unique}"
    starter = await people()
    definition = {**one_task(group=group), "variables": SCHEMA, **extra}
    await deploy(starter.client, definition)
    instance = await start(starter.client, definition["key"], amount=10)
    return starter, instance, definition["key"]


async def test_the_starter_may_not_rewrite_the_variables(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    starter, instance, key = await started(people, unique)
    before = await snapshot(sessions, [key])
    code = await refused(starter.client, SET, {"id": instance["id"], "v": {"approved": True}})
    assert code == "FORBIDDEN"
    assert await snapshot(sessions, [key]) == before


async def test_variables_outside_the_schema_are_bad_user_input_naming_them_and_change_nothing(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    operator = await people(roles=["operator"])
    _, instance, key = await started(people, unique)
    before = await snapshot(sessions, [key])

    for bad, field in (({"amount": "lots"}, "amount"), ({"amount": 0}, "amount")):
        body = await operator.client.raw(SET, {"id": instance["id"], "v": bad})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert [f["field"] for f in error["extensions"]["fields"]] == [field]
        assert field in error["message"]
    assert await snapshot(sessions, [key]) == before

    changed = await operator.client.execute(SET, {"id": instance["id"], "v": {"approved": True}})
    assert changed["setInstanceVariables"]["variables"] == {"amount": 10, "approved": True}
    after = await snapshot(sessions, [key])
    assert len(after["history"]) == len(before["history"]) + 1


async def test_an_operator_may_not_set_variables_of_an_instance_they_may_not_see(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    operator = await people(roles=["operator"])
    _, instance, key = await started(people, unique, visibleTo={"users": []})
    before = await snapshot(sessions, [key])
    code = await refused(operator.client, SET, {"id": instance["id"], "v": {"approved": True}})
    assert code == "NOT_FOUND"
    assert await snapshot(sessions, [key]) == before
