"""How many subscriptions one socket and one user may hold in an API process.

Each costs memory and a share of every read's dispatch, so one client (a leaking
front-end that subscribes on every render, say) must not take what all others need."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from api.errors import FlowdeskError

K = TypeVar("K")


class TooManySubscriptions(FlowdeskError):
    code = "TOO_MANY_SUBSCRIPTIONS"


class Quota:
    def __init__(self, per_socket: int, per_user: int) -> None:
        self._per_socket = per_socket
        self._per_user = per_user
        self._sockets: Counter[int] = Counter()
        self._users: Counter[uuid.UUID] = Counter()

    @contextmanager
    def taken(self, user_id: uuid.UUID, socket: object) -> Iterator[None]:
        """One subscription of `user_id` on `socket` (any object that lives as long as
        the connection: its request context) for the duration of the block."""
        key = id(socket)
        if self._sockets[key] >= self._per_socket:
            raise TooManySubscriptions(
                f"at most {self._per_socket} subscriptions per connection", limit=self._per_socket
            )
        if self._users[user_id] >= self._per_user:
            raise TooManySubscriptions(
                f"at most {self._per_user} subscriptions per user", limit=self._per_user
            )
        self._sockets[key] += 1
        self._users[user_id] += 1
        try:
            yield
        finally:
            _release(self._sockets, key)
            _release(self._users, user_id)


def _release(counter: Counter[K], key: K) -> None:
    # Zero entries are dropped, or every socket ever seen would stay.
    if counter[key] <= 1:
        del counter[key]
    else:
        counter[key] -= 1
