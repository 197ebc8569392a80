"""Authentication and administration: bearer tokens over HTTP, the token in connection_init
over websockets, the admin role, and errors that never show the server's internals."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import websockets
from pydantic import SecretStr
from sqlmodel import select
from strawberry.relay import GlobalID
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from api.auth.tokens import TokenIssuer
from api.db import SessionMaker
from api.models import Group, Membership, ProcessDefinition, User
from api.services.users import UserService
from api.settings import Settings
from tests.client import PASSWORD, GraphQLClient, GraphQLError
from tests.kit.people import as_user, make_user

ME = "{ me { id username groups { key } } }"
LOGIN = """
mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token user { username } } }
"""
CREATE_USER = """
mutation($u: String!, $p: String!, $g: [String!]) {
  createUser(username: $u, password: $p, groups: $g) { id username groups { key } }
}
"""
CREATE_GROUP = "mutation($k: String!, $n: String) { createGroup(key: $k, name: $n) { key name } }"
ADD_MEMBER = """
mutation($k: String!, $u: ID!) { addGroupMember(groupKey: $k, userId: $u) { key members { username } } }
"""

# Every operation but login needs a caller.
NEEDS_A_CALLER = [
    ME,
    "{ tasks { edges { node { id } } } }",
    "{ processDefinitions { edges { node { key } } } }",
    '{ processDefinition(key: "leave_request") { key } }',
    'mutation { deployDefinition(definition: {key: "k"}) { key } }',
    'mutation { startProcess(key: "leave_request") { id } }',
    'mutation { createGroup(key: "g") { key } }',
]


def as_token(client: GraphQLClient, token: str) -> GraphQLClient:
    return GraphQLClient(client.http, token)


async def with_header(client: GraphQLClient, query: str, authorization: str) -> dict[str, Any]:
    response = await client.http.post(
        "/graphql", json={"query": query}, headers={"Authorization": authorization}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def user_named(sessions: SessionMaker, username: str) -> User | None:
    async with sessions() as session:
        return (await session.exec(select(User).where(User.username == username))).first()


@pytest.mark.parametrize("query", NEEDS_A_CALLER)
async def test_an_operation_without_a_token_is_unauthenticated(
    client: GraphQLClient, query: str
) -> None:
    body = await client.raw(query)
    assert codes(body) == ["UNAUTHENTICATED"]
    assert not any((body["data"] or {}).values())


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    # A character in the middle: the last one may only carry padding bits.
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


@pytest.mark.parametrize(
    "kind", ["expired", "tampered", "other-secret", "not-a-jwt", "wrong-scheme", "empty-bearer"]
)
async def test_a_bad_token_is_unauthenticated(
    client: GraphQLClient, users: UserService, settings: Settings, kind: str
) -> None:
    user = await make_user(users)
    good = (await client.login(user.username)).token
    assert good is not None
    if kind == "expired":
        expired = TokenIssuer(settings.model_copy(update={"jwt_ttl_seconds": -10}))
        authorization = f"Bearer {expired.issue(user.id, user.username)}"
    elif kind == "tampered":
        authorization = f"Bearer {tampered(good)}"
    elif kind == "other-secret":
        other = settings.model_copy(update={"jwt_secret": SecretStr(uuid.uuid4().hex * 2)})
        authorization = f"Bearer {TokenIssuer(other).issue(user.id, user.username)}"
    elif kind == "not-a-jwt":
        authorization = "Bearer abc"
    elif kind == "wrong-scheme":
        authorization = f"Token {good}"
    else:
        authorization = "Bearer"

    body = await with_header(client, ME, authorization)

    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None
    # The same token, unspoilt, is accepted.
    assert (await with_header(client, ME, f"Bearer {good}"))["data"]["me"]["username"] == (
        user.username
    )


async def test_a_token_of_a_user_that_no_longer_exists_is_unauthenticated(
    client: GraphQLClient, settings: Settings
) -> None:
    token = TokenIssuer(settings).issue(uuid.uuid4(), "ghost")
    assert codes(await with_header(client, ME, f"Bearer {token}")) == ["UNAUTHENTICATED"]


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    client: GraphQLClient, users: UserService
) -> None:
    user = await make_user(users)
    wrong = await client.raw(LOGIN, {"u": user.username, "p": PASSWORD + "!"})
    unknown = await client.raw(LOGIN, {"u": f"nobody-{uuid.uuid4().hex[:8]}", "p": PASSWORD})

    assert codes(wrong) == codes(unknown) == ["UNAUTHENTICATED"]
    assert wrong["errors"][0]["message"] == unknown["errors"][0]["message"]
    assert wrong["data"] is None and unknown["data"] is None


async def test_login_works_whatever_authorization_header_is_sent(
    client: GraphQLClient, users: UserService
) -> None:
    user = await make_user(users)
    for authorization in ("Bearer expired.or.wrong", "Token abc", "nonsense"):
        response = await client.http.post(
            "/graphql",
            json={"query": LOGIN, "variables": {"u": user.username, "p": PASSWORD}},
            headers={"Authorization": authorization},
        )
        body = response.json()
        assert "errors" not in body, body
        assert body["data"]["login"]["user"]["username"] == user.username
        token = body["data"]["login"]["token"]
        assert (await as_token(client, token).execute(ME))["me"]["username"] == user.username


async def test_me_is_the_caller_with_its_groups(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    user = await make_user(users, groups=[f"b-{unique}", f"a-{unique}"])
    me = (await (await client.login(user.username)).execute(ME))["me"]

    assert me["username"] == user.username
    assert GlobalID.from_id(me["id"]).node_id == str(user.id)
    assert [g["key"] for g in me["groups"]] == [f"a-{unique}", f"b-{unique}"]


async def test_administration_needs_the_admin_role(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, unique: str
) -> None:
    someone = await make_user(users)
    caller = await as_user(client, users)
    new_name, group = f"new-{unique}", f"group-{unique}"

    for query, variables in (
        (CREATE_USER, {"u": new_name, "p": PASSWORD}),
        (CREATE_GROUP, {"k": group}),
        (ADD_MEMBER, {"k": group, "u": str(GlobalID("User", str(someone.id)))}),
    ):
        with pytest.raises(GraphQLError) as refused:
            await caller.execute(query, variables)
        assert refused.value.codes == ["FORBIDDEN"]

    assert await user_named(sessions, new_name) is None
    async with sessions() as session:
        assert await session.get(Group, group) is None
        memberships = await session.exec(select(Membership).where(Membership.user_id == someone.id))
        assert memberships.all() == []


async def test_an_admin_creates_users_and_groups_and_the_new_user_logs_in(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    admin = await as_user(client, users, admin=True)
    new_name, group, other = f"new-{unique}", f"group-{unique}", f"other-{unique}"

    created = (await admin.execute(CREATE_USER, {"u": new_name, "p": PASSWORD, "g": [group]}))[
        "createUser"
    ]
    assert created["username"] == new_name
    assert [g["key"] for g in created["groups"]] == [group]

    made = (await admin.execute(CREATE_GROUP, {"k": other, "n": "Others"}))["createGroup"]
    assert made == {"key": other, "name": "Others"}
    joined = (await admin.execute(ADD_MEMBER, {"k": other, "u": created["id"]}))["addGroupMember"]
    assert joined["members"] == [{"username": new_name}]

    newcomer = await client.login(new_name)
    me = (await newcomer.execute(ME))["me"]
    assert me["id"] == created["id"]
    assert sorted(g["key"] for g in me["groups"]) == sorted([group, other])


async def test_a_taken_username_or_group_key_is_a_conflict(
    client: GraphQLClient, users: UserService, unique: str
) -> None:
    admin = await as_user(client, users, admin=True)
    existing = await make_user(users)
    await admin.execute(CREATE_GROUP, {"k": f"group-{unique}"})

    for query, variables in (
        (CREATE_USER, {"u": existing.username, "p": PASSWORD}),
        (CREATE_GROUP, {"k": f"group-{unique}"}),
    ):
        with pytest.raises(GraphQLError) as taken:
            await admin.execute(query, variables)
        assert taken.value.codes == ["CONFLICT"]


@pytest.mark.parametrize("round_", range(3))
async def test_creating_the_same_user_or_group_at_once_makes_one_and_one_conflict(
    client: GraphQLClient, users: UserService, round_: int
) -> None:
    admin = await as_user(client, users, admin=True)
    name = f"twin-{uuid.uuid4().hex[:8]}"

    for query, variables in (
        (CREATE_USER, {"u": name, "p": PASSWORD, "g": [name]}),
        (CREATE_GROUP, {"k": f"{name}-g"}),
    ):
        results = await asyncio.gather(admin.raw(query, variables), admin.raw(query, variables))
        assert sorted(codes(r)[0] if codes(r) else "ok" for r in results) == ["CONFLICT", "ok"]


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (CREATE_USER, {"u": "x" * 151, "p": PASSWORD}, "username"),
        (CREATE_USER, {"u": "short-pass", "p": "1234567"}, "password"),
        (CREATE_USER, {"u": "  ", "p": PASSWORD}, "username"),
        (CREATE_USER, {"u": "fine", "p": PASSWORD, "g": ["g" * 151]}, "groups"),
        (CREATE_GROUP, {"k": "k" * 151}, "key"),
        (CREATE_GROUP, {"k": "fine", "n": "n" * 201}, "name"),
    ],
    ids=[
        "long-username",
        "short-password",
        "blank-username",
        "long-group",
        "long-key",
        "long-name",
    ],
)
async def test_administration_input_the_tables_cannot_hold_is_bad_user_input(
    client: GraphQLClient,
    users: UserService,
    sessions: SessionMaker,
    query: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    admin = await as_user(client, users, admin=True)
    suffix = uuid.uuid4().hex[:8]
    variables = {
        k: (f"{v}-{suffix}" if k in ("u", "k") and v == "fine" else v) for k, v in variables.items()
    }

    with pytest.raises(GraphQLError) as refused:
        await admin.execute(query, variables)

    [error] = refused.value.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    if "u" in variables:
        assert await user_named(sessions, variables["u"]) is None


async def test_an_unexpected_server_error_is_masked_as_internal(
    client: GraphQLClient, users: UserService, sessions: SessionMaker
) -> None:
    """A definition row that no deployment could have written (its spec does not parse)
    breaks startProcess in a way no domain error covers."""
    caller = await as_user(client, users)
    key = f"corrupt_{uuid.uuid4().hex[:8]}"
    async with sessions() as session, session.begin():
        session.add(
            ProcessDefinition(
                key=key, version=1, name="Corrupt", spec={"secret": "s3cr3t"}, checksum="x"
            )
        )

    body = await caller.raw("mutation($k: String!) { startProcess(key: $k) { id } }", {"k": key})

    [error] = body["errors"]
    assert error["extensions"] == {"code": "INTERNAL"}
    assert error["message"] == "internal error"
    assert "s3cr3t" not in json.dumps(body) and "Traceback" not in json.dumps(body)


WS_PROTOCOL = "graphql-transport-ws"


async def ws_init(settings: Settings, payload: dict[str, Any]) -> dict[str, Any] | int:
    """Open a websocket and send connection_init: the server's first message, or the
    code it closed the connection with."""
    async with connect(
        f"ws://127.0.0.1:{settings.port}/graphql", subprotocols=[Subprotocol(WS_PROTOCOL)]
    ) as ws:
        assert ws.subprotocol == WS_PROTOCOL
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        return await first_answer(ws)


async def first_answer(ws: ClientConnection) -> dict[str, Any] | int:
    try:
        message = await asyncio.wait_for(ws.recv(), timeout=10)
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code
    answer: dict[str, Any] = json.loads(message)
    return answer


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"authorization": "Bearer not-a-token"},
        {"authorization": "Token abc"},
        {"authorization": 42},
    ],
    ids=["no-token", "bad-token", "wrong-scheme", "not-a-string"],
)
async def test_a_websocket_without_a_good_token_is_refused_at_connection_init(
    app_url: str, settings: Settings, payload: dict[str, Any]
) -> None:
    assert await ws_init(settings, payload) == 4403


async def test_a_websocket_with_an_expired_token_is_refused_at_connection_init(
    app_url: str, settings: Settings, users: UserService
) -> None:
    user = await make_user(users)
    expired = TokenIssuer(settings.model_copy(update={"jwt_ttl_seconds": -10}))
    token = expired.issue(user.id, user.username)
    assert await ws_init(settings, {"authorization": f"Bearer {token}"}) == 4403


async def test_a_websocket_with_a_good_token_is_acknowledged(
    client: GraphQLClient, users: UserService, settings: Settings
) -> None:
    token = (await as_user(client, users)).token
    answer = await ws_init(settings, {"authorization": f"Bearer {token}"})
    assert isinstance(answer, dict) and answer["type"] == "connection_ack"
