"""Roles and permissions over real HTTP: the built-in roles, custom roles, granting and
revoking, and administration refused to everyone else with nothing changed."""

from __future__ import annotations

from typing import Any

from api.auth.permissions import BUILTIN_ROLES, Permission
from api.db import SessionMaker
from tests.factories import deploy, one_task
from tests.security.conftest import refused, snapshot

ROLES = "{ roles { name permissions builtin description } }"
CREATE_ROLE = """mutation($n: String!, $p: [String!]!, $d: String) {
  createRole(name: $n, permissions: $p, description: $d) { name permissions builtin }
}"""
GRANT = "mutation($u: ID!, $r: String!) { grantRole(userId: $u, role: $r) { username roles } }"
REVOKE = "mutation($u: ID!, $r: String!) { revokeRole(userId: $u, role: $r) { username roles } }"
ME = "{ me { username roles } }"
DEPLOY = "mutation($d: JSON!) { deployDefinition(definition: $d) { key version } }"
DEFINITIONS = "query($k: String) { processDefinitions(key: $k) { edges { node { key } } } }"


async def test_a_new_user_holds_the_default_user_role(people: Any) -> None:
    person = await people()
    assert (await person.client.execute(ME))["me"] == {
        "username": person.username,
        "roles": ["user"],
    }


async def test_the_built_in_roles_are_listed_with_their_permissions(people: Any) -> None:
    admin = await people(roles=["admin"])
    found = {r["name"]: r for r in (await admin.client.execute(ROLES))["roles"]}
    for name, permissions in BUILTIN_ROLES.items():
        assert found[name]["builtin"] is True
        assert set(found[name]["permissions"]) == {p.value for p in permissions}
    assert set(found["admin"]["permissions"]) == {p.value for p in Permission}


async def test_administration_of_roles_is_refused_to_a_plain_user_and_changes_nothing(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    person, other = await people(), await people()
    before = await snapshot(sessions)
    attempts: list[tuple[str, dict[str, Any]]] = [
        (ROLES, {}),
        (CREATE_ROLE, {"n": f"r-{unique}", "p": ["user:admin"]}),
        (GRANT, {"u": person.id, "r": "admin"}),
        (GRANT, {"u": other.id, "r": "operator"}),
        (REVOKE, {"u": other.id, "r": "user"}),
    ]
    for query, variables in attempts:
        assert await refused(person.client, query, variables) == "FORBIDDEN", query
    assert await snapshot(sessions) == before
    assert (await person.client.execute(ME))["me"]["roles"] == ["user"]


async def test_a_custom_role_grants_exactly_its_permissions_at_once(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    admin, person = await people(roles=["admin"]), await people()
    reader = f"reader-{unique}"
    made = await admin.client.execute(
        CREATE_ROLE, {"n": reader, "p": ["definition:read"], "d": "reads definitions"}
    )
    assert made["createRole"] == {
        "name": reader,
        "permissions": ["definition:read"],
        "builtin": False,
    }
    definition = await deploy(admin.client, one_task())

    await admin.client.execute(GRANT, {"u": person.id, "r": reader})
    revoked = await admin.client.execute(REVOKE, {"u": person.id, "r": "user"})
    assert revoked["revokeRole"]["roles"] == [reader]

    # The very next request is judged by the new roles (same process: no stale cache).
    before = await snapshot(sessions, [f"{unique}_mine"])
    code = await refused(person.client, DEPLOY, {"d": one_task(key=f"{unique}_mine")})
    assert code == "FORBIDDEN"
    assert await snapshot(sessions, [f"{unique}_mine"]) == before
    seen = await person.client.execute(DEFINITIONS, {"k": definition["key"]})
    assert seen["processDefinitions"]["edges"] == [{"node": {"key": definition["key"]}}]

    await admin.client.execute(REVOKE, {"u": person.id, "r": reader})
    unseen = await person.client.execute(DEFINITIONS, {"k": definition["key"]})
    assert unseen["processDefinitions"]["edges"] == []


async def test_bad_roles_are_refused_by_name_and_change_nothing(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    admin, person = await people(roles=["admin"]), await people()
    before = await snapshot(sessions)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (CREATE_ROLE, {"n": f"r-{unique}", "p": ["definition:read", "root:all"]}, "BAD_USER_INPUT"),
        (CREATE_ROLE, {"n": "operator", "p": []}, "CONFLICT"),
        (CREATE_ROLE, {"n": " ", "p": []}, "BAD_USER_INPUT"),
        (GRANT, {"u": person.id, "r": f"nothing-{unique}"}, "NOT_FOUND"),
        (REVOKE, {"u": admin.id, "r": "admin"}, "BAD_USER_INPUT"),
    ]
    for query, variables, code in cases:
        assert await refused(admin.client, query, variables) == code, variables
    assert await snapshot(sessions) == before


HISTORY = "query($id: ID!) { processInstance(id: $id) { id history { type } } }"


async def test_an_instance_history_needs_history_read(people: Any, unique: str) -> None:
    admin = await people(roles=["admin"])
    no_history = f"no-history-{unique}"
    await admin.client.execute(
        CREATE_ROLE,
        {"n": no_history, "p": ["definition:read", "instance:start", "instance:read"]},
    )
    person = await people(roles=[no_history])
    await admin.client.execute(REVOKE, {"u": person.id, "r": "user"})
    definition = await deploy(admin.client, one_task())
    started = await person.client.execute(
        "mutation($k: String!) { startProcess(key: $k) { id } }", {"k": definition["key"]}
    )
    instance_id = started["startProcess"]["id"]
    body = await person.client.raw(HISTORY, {"id": instance_id})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body["data"] is None or body["data"]["processInstance"] is None
    seen = await admin.client.execute(HISTORY, {"id": instance_id})
    assert seen["processInstance"]["history"]
