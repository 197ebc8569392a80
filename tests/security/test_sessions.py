"""Login sessions over real HTTP: short-lived access tokens, refresh tokens that rotate, a
reused refresh token that ends its session, logout."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from api.settings import Settings
from tests.client import PASSWORD, GraphQLClient
from tests.security.conftest import Person
from tests.security.test_open_sockets import app

LOGIN = """mutation($u: String!, $p: String!) {
  login(username: $u, password: $p) { token refreshToken user { username } } }"""
REFRESH = """mutation($t: String!) {
  refreshToken(token: $t) { token refreshToken user { username } } }"""
LOGOUT = "mutation { logout }"
ME = "{ me { username } }"


async def call(
    http: httpx.AsyncClient, query: str, variables: Any = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answer = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = answer.json()
    return body


def code(body: dict[str, Any]) -> str:
    [error] = body["errors"]
    return str(error["extensions"]["code"])


async def login(http: httpx.AsyncClient, person: Person) -> dict[str, Any]:
    body = await call(http, LOGIN, {"u": person.username, "p": PASSWORD})
    payload: dict[str, Any] = body["data"]["login"]
    return payload


async def test_an_expired_access_token_is_refused_and_a_refresh_gives_a_working_pair(
    settings: Settings, people: Any
) -> None:
    person: Person = await people()
    async with app(settings, jwt_ttl_seconds=1) as url, httpx.AsyncClient(base_url=url) as http:
        pair = await login(http, person)
        assert (await call(http, ME, token=pair["token"]))["data"] == {
            "me": {"username": person.username}
        }
        await asyncio.sleep(2.1)  # past the token's one-second life
        expired = await call(http, ME, token=pair["token"])
        assert code(expired) == "UNAUTHENTICATED"
        assert "expired" in expired["errors"][0]["message"]
        fresh = (await call(http, REFRESH, {"t": pair["refreshToken"]}))["data"]["refreshToken"]
        assert fresh["user"] == {"username": person.username}
        assert fresh["refreshToken"] != pair["refreshToken"]
        assert (await call(http, ME, token=fresh["token"]))["data"] == {
            "me": {"username": person.username}
        }


async def test_a_reused_refresh_token_revokes_its_whole_session(
    client: GraphQLClient, people: Any
) -> None:
    person: Person = await people()
    http = client.http
    pair = await login(http, person)
    other = await login(http, person)  # another session of the same user
    second = (await call(http, REFRESH, {"t": pair["refreshToken"]}))["data"]["refreshToken"]
    # The first refresh token again, as a thief holding a copy would.
    assert code(await call(http, REFRESH, {"t": pair["refreshToken"]})) == "UNAUTHENTICATED"
    # Every token of that session stops: the rotated refresh token, the access tokens.
    assert code(await call(http, REFRESH, {"t": second["refreshToken"]})) == "UNAUTHENTICATED"
    assert code(await call(http, ME, token=second["token"])) == "UNAUTHENTICATED"
    assert code(await call(http, ME, token=pair["token"])) == "UNAUTHENTICATED"
    # The other session is untouched.
    assert (await call(http, ME, token=other["token"]))["data"] == {
        "me": {"username": person.username}
    }


async def test_logout_ends_the_session_and_its_access_token(
    client: GraphQLClient, people: Any
) -> None:
    person: Person = await people()
    http = client.http
    pair = await login(http, person)
    assert (await call(http, LOGOUT, token=pair["token"]))["data"] == {"logout": True}
    assert code(await call(http, ME, token=pair["token"])) == "UNAUTHENTICATED"
    assert code(await call(http, REFRESH, {"t": pair["refreshToken"]})) == "UNAUTHENTICATED"
    assert code(await call(http, LOGOUT)) == "UNAUTHENTICATED"


async def test_an_unknown_refresh_token_is_refused(client: GraphQLClient) -> None:
    assert code(await call(client.http, REFRESH, {"t": "not-a-refresh-token"})) == "UNAUTHENTICATED"
