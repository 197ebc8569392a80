"""Throttling of failed logins, per username and per client address, in Redis so that
every API replica counts the same attempts.

Each attempt is counted before its password is checked (so a thousand concurrent guesses
cannot all pass an empty count) and given back when it succeeds: only failures remain.
Past the free failures of a window each failed answer waits a little longer; past the
lock threshold the username (or address) is refused for a while, right password or not.
Unknown usernames are counted exactly like known ones, so neither the answer nor its
timing tells which usernames exist."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import NoReturn

from redis.asyncio import Redis

from api.errors import Unauthenticated
from api.settings import Settings

# However many failures: a slow answer should not hold a connection for long.
MAX_DELAY_SECONDS = 5.0


@dataclass(frozen=True)
class _Counter:
    key: str
    free: int
    lock: int


@dataclass(frozen=True)
class Attempt:
    """An attempt admitted by `LoginThrottle.admit`, to report as failed or succeeded."""

    counters: tuple[_Counter, ...]
    counts: tuple[int, ...]


class LoginThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._prefix = f"{settings.event_channel_prefix}:login"
        self._settings = settings

    async def admit(self, username: str, client: str | None) -> Attempt:
        """Count an attempt; `Unauthenticated` with `retryAfter` (seconds) when the
        username or the address is locked."""
        s = self._settings
        # Hashed: a username is client input of any length and content.
        user = hashlib.sha256(username.casefold().encode()).hexdigest()
        counters = [
            _Counter(f"{self._prefix}:user:{user}", s.login_free_failures, s.login_lock_failures)
        ]
        if client:
            counters.append(
                _Counter(
                    f"{self._prefix}:address:{client}",
                    s.login_address_free_failures,
                    s.login_address_lock_failures,
                )
            )
        locks = [f"{c.key}:locked" for c in counters]
        async with self._redis.pipeline(transaction=True) as pipe:
            for lock in locks:
                pipe.ttl(lock)
            for counter in counters:
                # The window starts with the first attempt (SET NX EX, not EXPIRE NX:
                # that needs Redis 7, and `flowdesk dev`'s embedded Redis is 6.2).
                pipe.set(counter.key, 0, ex=s.login_window_seconds, nx=True)
                pipe.incr(counter.key)
            replies = await pipe.execute()
        waits = [int(t) for t in replies[: len(locks)] if int(t) > 0]
        counts = tuple(int(n) for n in replies[len(locks) + 1 :: 2])
        attempt = Attempt(tuple(counters), counts)
        if waits:
            await self.succeeded(attempt)  # a refused attempt is not one more failure
            _refuse(max(waits))
        over = [c for c, n in zip(counters, counts, strict=True) if n > c.lock]
        if over:
            async with self._redis.pipeline(transaction=True) as pipe:
                for counter in counters:
                    if counter in over:
                        # Locked: once the lock ends, failures are counted afresh.
                        pipe.set(f"{counter.key}:locked", 1, ex=s.login_lock_seconds)
                        pipe.delete(counter.key)
                    else:
                        pipe.decr(counter.key)
                await pipe.execute()
            _refuse(s.login_lock_seconds)
        return attempt

    async def failed(self, attempt: Attempt) -> None:
        """Past the free failures, the failed answer waits longer each time."""
        beyond = max(n - c.free for c, n in zip(attempt.counters, attempt.counts, strict=True))
        if beyond > 0:
            await asyncio.sleep(min(MAX_DELAY_SECONDS, beyond * self._settings.login_delay_seconds))

    async def succeeded(self, attempt: Attempt) -> None:
        """Give the attempt back: a successful login counts as no failure."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for counter in attempt.counters:
                # Should the window have ended meanwhile, the key is new: let it expire.
                pipe.set(counter.key, 0, ex=self._settings.login_window_seconds, nx=True)
                pipe.decr(counter.key)
            await pipe.execute()


def _refuse(retry_after: int) -> NoReturn:
    raise Unauthenticated(
        f"too many failed logins: try again in {retry_after} s", retryAfter=retry_after
    )
