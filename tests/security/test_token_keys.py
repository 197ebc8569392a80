"""Access tokens over real HTTP: each names its key (`kid`), audience and id; a rotated
secret keeps verifying the tokens it signed while it is listed as previous."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import OctKey
from pydantic import SecretStr

from api.auth.tokens import TokenIssuer
from api.settings import Settings
from tests.security.conftest import Person
from tests.security.test_open_sockets import app

ME = "{ me { username } }"


async def me(url: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        answer = await http.post(
            "/graphql", json={"query": ME}, headers={"authorization": f"Bearer {token}"}
        )
    body: dict[str, Any] = answer.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


def decoded(token: str | None, settings: Settings) -> Any:
    assert token is not None and settings.jwt_secret is not None
    return jwt.decode(token, OctKey.import_key(settings.jwt_secret.get_secret_value()))


async def test_a_token_names_its_key_audience_and_id(people: Any, settings: Settings) -> None:
    person: Person = await people()
    first = decoded(person.client.token, settings)
    assert first.header["kid"]
    assert first.claims["aud"] == settings.jwt_audience
    second = decoded((await person.client.login(person.username)).token, settings)
    assert first.claims["jti"] != second.claims["jti"]


async def test_a_rotated_secret_verifies_its_tokens_only_while_listed_as_previous(
    people: Any, settings: Settings
) -> None:
    person: Person = await people()
    old_token = TokenIssuer(settings).issue(person.row.id, person.username)
    new_secret = SecretStr(secrets.token_urlsafe(32))
    async with app(
        settings, jwt_secret=new_secret, jwt_previous_secrets=[settings.jwt_secret]
    ) as url:
        assert (await me(url, old_token))["data"] == {"me": {"username": person.username}}
        rotated = TokenIssuer(settings.model_copy(update={"jwt_secret": new_secret}))
        fresh = rotated.issue(person.row.id, person.username)
        assert (await me(url, fresh))["data"] == {"me": {"username": person.username}}
    async with app(settings, jwt_secret=new_secret) as url:
        assert codes(await me(url, old_token)) == ["UNAUTHENTICATED"]


async def test_tokens_without_the_audience_an_id_or_a_known_kid_are_refused(
    people: Any, settings: Settings, app_url: str
) -> None:
    person: Person = await people()
    assert settings.jwt_secret is not None
    key = OctKey.import_key(settings.jwt_secret.get_secret_value())
    kid = decoded(person.client.token, settings).header["kid"]
    now = int(time.time())
    good = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": "x",
        "sub": str(person.row.id),
        "iat": now,
        "exp": now + 60,
    }
    assert codes(await me(app_url, jwt.encode({"alg": "HS256", "kid": kid}, good, key))) == []
    for claims, header in [
        ({k: v for k, v in good.items() if k != "aud"}, {"kid": kid}),
        ({**good, "aud": "another-api"}, {"kid": kid}),
        ({k: v for k, v in good.items() if k != "jti"}, {"kid": kid}),
        (good, {}),
        (good, {"kid": "unknown"}),
    ]:
        token = jwt.encode({"alg": "HS256", **header}, claims, key)
        assert codes(await me(app_url, token)) == ["UNAUTHENTICATED"], (claims, header)
