"""Login sessions: refresh tokens that rotate, reuse detection, logout.

State lives in Redis, not PostgreSQL: every entry is short-lived and ends by itself
(Redis expires it), every API replica must see it at once, and the API already needs
Redis (login throttling, live delivery); a table would need a sweeper and a statement
on every request. Losing Redis's data logs everyone out at worst: it cannot let a
revoked token in, since a refresh token whose entry is gone is refused.

- `login` starts a session (a refresh family) and answers an access token carrying its
  id (`sid`) and a refresh token.
- `refreshToken(token)` answers a new pair and spends the one given. A refresh token
  spent twice means that it was copied: the whole family is revoked, the access tokens
  of its session included.
- `logout` revokes the caller's session and the access token's `jti` until it expires.

Keys, under FLOWDESK_EVENT_CHANNEL_PREFIX: `<prefix>:refresh:<sha256 of the token>`
(a hash: user, session, uses), `<prefix>:session:<sid>` (while the session lives),
`<prefix>:revoked:<jti>` (until the access token's expiry)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.auth.tokens import TokenClaims, TokenIssuer
from api.errors import Unauthenticated
from api.services.users import UserService
from api.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    user_id: uuid.UUID


class SessionService:
    def __init__(
        self, redis: Redis, settings: Settings, tokens: TokenIssuer, users: UserService
    ) -> None:
        self._redis = redis
        self._prefix = settings.event_channel_prefix
        self._refresh_ttl = settings.jwt_refresh_ttl_seconds
        self._tokens = tokens
        self._users = users

    async def login(self, username: str, password: str, client: str | None) -> TokenPair:
        user = await self._users.checked_password(username, password, client=client)
        session_id = uuid.uuid4().hex
        await self._redis.set(self._session_key(session_id), str(user.id), ex=self._refresh_ttl)
        return await self._pair(user.id, user.username, session_id)

    async def refresh(self, token: str) -> TokenPair:
        """A new pair for an unspent refresh token of a live session."""
        key = self._refresh_key(token)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "uses", 1)
            pipe.hmget(key, ["user", "session"])
            pipe.expire(key, self._refresh_ttl, xx=True)
            uses, (user, session), _ = await pipe.execute()
        if user is None or session is None:
            # Unknown or expired: the entry was just created by HINCRBY, drop it again.
            await self._redis.delete(key)
            raise Unauthenticated("invalid refresh token: log in again")
        session_id = session.decode()
        if int(uses) > 1:
            await self._redis.delete(self._session_key(session_id))
            raise Unauthenticated("refresh token reused: the session is revoked, log in again")
        if not await self._redis.exists(self._session_key(session_id)):
            raise Unauthenticated("the session has ended: log in again")
        principal = await self._users.principal(uuid.UUID(user.decode()))
        return await self._pair(principal.id, principal.username, session_id)

    async def logout(self, claims: TokenClaims) -> None:
        """Revoke the token's session and the token itself until it expires."""
        async with self._redis.pipeline(transaction=True) as pipe:
            if claims.session_id is not None:
                pipe.delete(self._session_key(claims.session_id))
            pipe.set(
                self._revoked_key(claims.token_id),
                b"1",
                ex=max(1, claims.expires_at - int(time.time()) + 1),
            )
            await pipe.execute()

    async def check(self, claims: TokenClaims) -> None:
        """UNAUTHENTICATED when the access token was logged out or its session revoked:
        one Redis round trip per request. Without Redis, the token is accepted."""
        keys = [self._revoked_key(claims.token_id)]
        if claims.session_id is not None:
            keys.append(self._session_key(claims.session_id))
        try:
            found = await self._redis.mget(keys)
        except (RedisError, OSError) as exc:
            # Requests keep being served while Redis is away, as they were before sessions:
            # a signed, unexpired access token is accepted (it lives minutes); logging out
            # and refreshing wait for Redis.
            log.warning("token revocation not checked (Redis unavailable): %s", exc)
            return
        if found[0] is not None:
            raise Unauthenticated("this token was logged out: log in again")
        if claims.session_id is not None and found[1] is None:
            raise Unauthenticated("the session has ended: log in again")

    async def _pair(self, user_id: uuid.UUID, username: str, session_id: str) -> TokenPair:
        refresh = secrets.token_urlsafe(32)
        key = self._refresh_key(refresh)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"user": str(user_id), "session": session_id, "uses": 0})
            pipe.expire(key, self._refresh_ttl)
            # The session lives as long as its newest refresh token.
            pipe.expire(self._session_key(session_id), self._refresh_ttl)
            await pipe.execute()
        return TokenPair(self._tokens.issue(user_id, username, session_id), refresh, user_id)

    def _refresh_key(self, token: str) -> str:
        digest = hashlib.sha256(token.encode()).hexdigest()
        return f"{self._prefix}:refresh:{digest}"

    def _session_key(self, session_id: str) -> str:
        return f"{self._prefix}:session:{session_id}"

    def _revoked_key(self, token_id: str) -> str:
        return f"{self._prefix}:revoked:{token_id}"
