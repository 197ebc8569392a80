"""Accounts over real HTTP: the admin's user list, updates, deactivation (its tokens stop
at once), password changes, and the audit log that records each of them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.db import SessionMaker, engine_of
from tests.client import PASSWORD, GraphQLClient, GraphQLError
from tests.security.conftest import refused, snapshot

USERS = """query($f: Int, $a: String) { users(first: $f, after: $a) {
  edges { cursor node { username } } pageInfo { hasNextPage endCursor } } }"""
UPDATE = """mutation($id: ID!, $n: String, $e: String) {
  updateUser(id: $id, displayName: $n, email: $e) { displayName email } }"""
UPDATE_NAME = (
    "mutation($id: ID!, $n: String) { updateUser(id: $id, displayName: $n) { displayName email } }"
)
DEACTIVATE = "mutation($id: ID!) { deactivateUser(id: $id) { username active } }"
PASSWORD_CHANGE = """mutation($c: String!, $n: String!) {
  changePassword(currentPassword: $c, newPassword: $n) { username } }"""
AUDIT = """query($u: ID) { auditLog(userId: $u, first: 10) {
  edges { node { action target targetType changes actor { username } at } } } }"""
ME = "{ me { username } }"


async def audit_of(admin: GraphQLClient, user_id: str) -> list[dict[str, Any]]:
    edges = (await admin.execute(AUDIT, {"u": user_id}))["auditLog"]["edges"]
    return [e["node"] for e in edges]


async def test_users_are_listed_by_username_in_pages_for_admins_only(people: Any) -> None:
    admin, person = await people(roles=["admin"]), await people()
    await people(), await people()
    first = (await admin.client.execute(USERS, {"f": 2}))["users"]
    assert len(first["edges"]) == 2 and first["pageInfo"]["hasNextPage"]
    after = await admin.client.execute(USERS, {"f": 2, "a": first["pageInfo"]["endCursor"]})
    names = [e["node"]["username"] for e in first["edges"] + after["users"]["edges"]]
    assert names == sorted(names) and len(set(names)) == 4
    assert await refused(person.client, USERS, {"f": 2}) == "FORBIDDEN"


async def test_an_update_is_audited_with_old_and_new_values(people: Any) -> None:
    admin, person = await people(roles=["admin"]), await people()
    old_email = person.row.email
    updated = await admin.client.execute(UPDATE_NAME, {"id": person.id, "n": "Pat"})
    # An omitted argument keeps its value.
    assert updated["updateUser"] == {"displayName": "Pat", "email": old_email}
    [entry, created] = await audit_of(admin.client, person.id)
    assert created["action"] == "createUser"
    assert entry["action"] == "updateUser"
    assert entry["target"] == person.id and entry["targetType"] == "User"
    assert entry["changes"] == {"displayName": [None, "Pat"]}
    assert entry["actor"] == {"username": admin.username}


async def test_a_plain_user_may_not_change_accounts_and_nothing_changes(
    people: Any, sessions: SessionMaker
) -> None:
    person, victim = await people(), await people()
    before = await snapshot(sessions)
    attempts: list[tuple[str, dict[str, Any]]] = [
        (UPDATE, {"id": victim.id, "n": "Owned", "e": "me@evil.example"}),
        (UPDATE, {"id": person.id, "n": "Me"}),
        (DEACTIVATE, {"id": victim.id}),
        (AUDIT, {"u": victim.id}),
    ]
    for query, variables in attempts:
        assert await refused(person.client, query, variables) == "FORBIDDEN", query
    assert await snapshot(sessions) == before
    assert (await victim.client.execute(ME))["me"]["username"] == victim.username


async def test_a_deactivated_user_is_refused_at_once_and_cannot_log_in(
    people: Any, client: GraphQLClient, sessions: SessionMaker
) -> None:
    admin, person = await people(roles=["admin"]), await people()
    assert (await person.client.execute(ME))["me"]["username"] == person.username

    assert await refused(admin.client, DEACTIVATE, {"id": admin.id}) == "BAD_USER_INPUT"
    done = await admin.client.execute(DEACTIVATE, {"id": person.id})
    assert done["deactivateUser"] == {"username": person.username, "active": False}

    assert await refused(person.client, ME) == "UNAUTHENTICATED"
    try:
        await client.login(person.username)
        raise AssertionError("a deactivated user logged in")
    except GraphQLError as refusal:
        assert refusal.codes == ["UNAUTHENTICATED"]
    [entry, _] = await audit_of(admin.client, person.id)
    assert (entry["action"], entry["changes"]) == ("deactivateUser", {"active": [True, False]})


async def test_a_password_change_needs_the_current_one_and_is_audited_without_it(
    people: Any, client: GraphQLClient, sessions: SessionMaker
) -> None:
    admin, person = await people(roles=["admin"]), await people()
    new = "a much better passphrase"
    before = await snapshot(sessions)
    wrong = {"c": "not the password", "n": new}
    assert await refused(person.client, PASSWORD_CHANGE, wrong) == "BAD_USER_INPUT"
    short = {"c": PASSWORD, "n": "short"}
    assert await refused(person.client, PASSWORD_CHANGE, short) == "BAD_USER_INPUT"
    assert await snapshot(sessions) == before
    await client.login(person.username)  # the old one still works

    await person.client.execute(PASSWORD_CHANGE, {"c": PASSWORD, "n": new})
    await client.login(person.username, new)
    try:
        await client.login(person.username)
        raise AssertionError("the old password still works")
    except GraphQLError as refusal:
        assert refusal.codes == ["UNAUTHENTICATED"]

    [entry, _] = await audit_of(admin.client, person.id)
    assert (entry["action"], entry["changes"]) == ("changePassword", {"password": ["*", "*"]})
    assert entry["actor"] == {"username": person.username}
    async with engine_of(sessions).connect() as connection:
        logged = (await connection.execute(sa.text("SELECT changes::text FROM audit_log"))).all()
    assert not any(new in row[0] or PASSWORD in row[0] or "argon2" in row[0] for row in logged)


LOGIN = """mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
  user { username email roles groups { key members { username } } } } }"""
CREATE = """mutation($u: String!, $p: String!, $r: [String!]) {
  createUser(username: $u, password: $p, roles: $r) { username roles } }"""


async def test_login_answers_the_users_own_account_and_nothing_of_others(
    people: Any, client: GraphQLClient, unique: str
) -> None:
    group = f"login-{unique}"
    person, _ = await people(groups=[group]), await people(groups=[group])
    user = (await client.execute(LOGIN, {"u": person.username, "p": PASSWORD}))["login"]["user"]
    assert user == {
        "username": person.username,
        "email": person.row.email,
        "roles": ["user"],
        "groups": [{"key": group, "members": []}],
    }


async def test_created_users_get_the_default_role_and_only_roles_that_exist(
    people: Any, sessions: SessionMaker, unique: str
) -> None:
    admin = await people(roles=["admin"])
    made = await admin.client.execute(
        CREATE, {"u": f"op-{unique}", "p": PASSWORD, "r": ["operator"]}
    )
    assert made["createUser"] == {"username": f"op-{unique}", "roles": ["operator", "user"]}
    before = await snapshot(sessions)
    bad = {"u": f"x-{unique}", "p": PASSWORD, "r": [f"ghost-{unique}"]}
    assert await refused(admin.client, CREATE, bad) == "NOT_FOUND"
    assert await snapshot(sessions) == before
