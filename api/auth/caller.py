"""The caller behind a long-lived connection, kept current while it stays open.

A websocket authenticates once, but its subscriptions run for hours: the socket's
watcher (api/live/websocket.py) replaces the principal when the user's groups or roles
change, and the subscriptions re-read it (api/live/subscriptions.py) to narrow or widen
what they deliver."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

from api.auth.principal import Principal

Wake = Callable[[], None]


class Caller:
    def __init__(self, principal: Principal, expires_at: int | None) -> None:
        self.principal = principal
        # When the token ends (seconds since the epoch), None for a caller without expiry.
        self.expires_at = expires_at
        self._wakes: set[Wake] = set()

    def update(self, principal: Principal) -> None:
        """Take the principal as it is now; whoever watches hears of a change."""
        if principal == self.principal:
            return
        self.principal = principal
        for wake in list(self._wakes):
            wake()

    @contextlib.contextmanager
    def watched(self, wake: Wake) -> Iterator[None]:
        """Call `wake` on every change of the principal while inside."""
        self._wakes.add(wake)
        try:
            yield
        finally:
            self._wakes.discard(wake)


class PrincipalChanges:
    """Who, in this process, wants to hear at once that a user's account changed
    (deactivated, groups or roles): the sockets of that user. Other processes find out
    within their principal cache time."""

    def __init__(self) -> None:
        self._wakes: dict[uuid.UUID, set[Wake]] = {}

    @contextlib.contextmanager
    def watched(self, user_id: uuid.UUID, wake: Wake) -> Iterator[None]:
        self._wakes.setdefault(user_id, set()).add(wake)
        try:
            yield
        finally:
            found = self._wakes.get(user_id)
            if found is not None:
                found.discard(wake)
                if not found:
                    del self._wakes[user_id]

    def changed(self, user_id: uuid.UUID) -> None:
        """After the commit of a change to the account of `user_id`."""
        for wake in list(self._wakes.get(user_id, ())):
            wake()
