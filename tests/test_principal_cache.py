"""The caller's groups and roles are kept for a few seconds per API process: a change made
through the same service shows at once, one made elsewhere once the entry expires."""

from __future__ import annotations

import uuid

from api.auth.tokens import TokenIssuer
from api.db import SessionMaker
from api.services.users import UserService
from api.settings import Settings
from tests.kit.people import make_user


async def _outsider(users: UserService, service: UserService) -> tuple[str, uuid.UUID]:
    """A new group and a new user outside it, whom `service` has seen as such."""
    group = f"g-{uuid.uuid4().hex[:8]}"
    await users.create_group(group)
    user = await make_user(users)
    assert group not in (await service.principal(user.id)).groups
    return group, user.id


async def test_membership_changed_through_the_service_shows_at_once(
    settings: Settings, sessions: SessionMaker, users: UserService
) -> None:
    cached = UserService(sessions, TokenIssuer(settings), principal_ttl=60)
    group, user_id = await _outsider(users, cached)

    await cached.set_membership(group, user_id, True)
    assert group in (await cached.principal(user_id)).groups
    await cached.set_membership(group, user_id, False)
    assert group not in (await cached.principal(user_id)).groups


async def test_membership_changed_elsewhere_shows_once_the_entry_expires(
    settings: Settings, sessions: SessionMaker, users: UserService
) -> None:
    now = [0.0]
    cached = UserService(sessions, TokenIssuer(settings), principal_ttl=5, clock=lambda: now[0])
    group, user_id = await _outsider(users, cached)

    await users.set_membership(group, user_id, True)  # another process, as it were
    now[0] = 4.9
    assert group not in (await cached.principal(user_id)).groups  # still the kept answer
    now[0] = 5.1
    assert group in (await cached.principal(user_id)).groups


async def test_without_a_ttl_every_call_reads_the_database(
    settings: Settings, sessions: SessionMaker, users: UserService
) -> None:
    uncached = UserService(sessions, TokenIssuer(settings))
    group, user_id = await _outsider(users, uncached)
    await users.set_membership(group, user_id, True)
    assert group in (await uncached.principal(user_id)).groups
