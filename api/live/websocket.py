"""graphql-transport-ws as Flowdesk speaks it, beyond what Strawberry's handler does.

- Keep-alive: the server sends `ping` every `ws_ping_seconds` and closes the socket
  with 4504 when no `pong` came back within as long again. A client that vanished
  without a close frame (its machine gone, a proxy that dropped the connection) would
  otherwise hold its subscriptions until TCP gives up, which takes many minutes; its
  subscriptions end as soon as the socket is closed, before the close handshake ends.
- A subscription sent over HTTP is answered BAD_USER_INPUT, saying where to send it.
- A refused `connection_init` closes with 4403, as the protocol prescribes, and with a
  reason that says why (no token, an invalid one, an expired one).
- The caller is re-checked while the socket is open: when the token expires, is logged
  out (or its session revoked), or the account is deactivated, the socket closes with
  4403 and a reason; a change of groups or
  roles replaces the caller that the subscriptions read (api/live/subscriptions.py).
  The check runs at once when this process changed the account, else every principal
  cache period.

Close codes of the API (RFC 6455 reason strings say more):

| code | when |
| --- | --- |
| 4403 | connection_init refused, token expired, account deactivated: the reason says why |
| 4408 | no connection_init within 10 s (the protocol's own) |
| 4504 | no pong within the keep-alive interval: the client is gone |
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from graphql import ExecutionResult, GraphQLError, OperationType, get_operation_ast, parse
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    PongMessage,
)

from api.errors import BadUserInput, FlowdeskError, Unauthenticated
from api.metrics import WEBSOCKETS_OPEN

log = logging.getLogger(__name__)

# How uvicorn serves websockets (api/cli.py, bench/serve.py). No per-message deflate: live
# messages are a few hundred bytes, and a compression context per socket costs ~100 KiB of
# RSS and CPU on every message, which thousands of idle subscribers multiply.
UVICORN_OPTIONS: dict[str, Any] = {"ws_per_message_deflate": False}

NO_PONG = 4504
REFUSED = 4403


class ConnectionRefused(FlowdeskError):
    """Raised by on_ws_connect: the socket closes with 4403 and this message as reason."""


class FlowdeskTransportWS(BaseGraphQLTransportWSHandler[Any, None]):
    """Expects its view to have `ws_ping_seconds`."""

    async def handle(self) -> None:
        self._ponged = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        keep_alive = asyncio.create_task(self._keep_alive())
        try:
            with WEBSOCKETS_OPEN.track_inprogress():
                await super().handle()
        finally:
            for task in (keep_alive, self._watcher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except ConnectionRefused as exc:
            await self._close(REFUSED, exc.message)
            return
        if self.connection_acknowledged and self._watcher is None:
            self._watcher = asyncio.create_task(self._watch_caller())

    async def _close(self, code: int, reason: str) -> None:
        """End the subscriptions now, then close with `code` (RFC 6455 close reasons hold
        123 bytes)."""
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):
            await self.websocket.close(
                code=code, reason=reason.encode()[:123].decode(errors="ignore")
            )

    async def _watch_caller(self) -> None:
        """Re-check the caller until the socket closes: at its token's expiry, when this
        process changed the account, and every principal cache period."""
        view: Any = self.view  # FlowdeskGraphQL
        services = view.services
        context = self.context
        caller = context.caller
        user_id = caller.principal.id
        period = max(services.settings.principal_cache_seconds, 1.0)
        woken = asyncio.Event()
        with services.changes.watched(user_id, woken.set):
            while True:
                wait = period
                if caller.expires_at is not None:
                    wait = min(wait, caller.expires_at - time.time())
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await woken.wait()
                woken.clear()
                if caller.expires_at is not None and time.time() >= caller.expires_at:
                    await self._close(REFUSED, "token expired: log in again")
                    return
                users = services.users
                try:
                    principal = await users.principal(user_id)
                    if context.claims is not None:
                        await services.login_sessions.check(context.claims)
                except Unauthenticated as exc:
                    await self._close(REFUSED, exc.message)
                    return
                except Exception:
                    # The database is away: keep the caller as it was, look again later.
                    log.warning("socket caller not re-checked", exc_info=True)
                    continue
                context.principal = principal
                caller.update(principal)

    async def handle_pong(self, message: PongMessage) -> None:
        self._ponged.set()

    async def _keep_alive(self) -> None:
        view: Any = self.view  # FlowdeskGraphQL
        interval: float = view.ws_ping_seconds
        while True:
            await asyncio.sleep(interval)
            self._ponged.clear()
            try:
                await self.send_message({"type": "ping"})
                async with asyncio.timeout(interval):
                    await self._ponged.wait()
            except TimeoutError:
                # Free the subscriptions now: with the peer gone, the close handshake
                # (and the disconnect that ends the handler) can take a while.
                await self._close(NO_PONG, "no pong: the client is gone")
                return
            except Exception:
                return  # the socket is closing anyway


def subscription_over_http(
    data: GraphQLRequestData | list[GraphQLRequestData],
) -> ExecutionResult | None:
    """The answer to a subscription sent as a plain HTTP request (which would otherwise run
    as a query and fail as INTERNAL), else None. Parsed only when the text may hold one."""
    for each in data if isinstance(data, list) else [data]:
        if each.protocol != "http" or not each.query or "subscription" not in each.query:
            continue
        try:
            operation = get_operation_ast(parse(each.query), each.operation_name)
        except GraphQLError:
            continue  # the normal path reports it
        if operation is not None and operation.operation == OperationType.SUBSCRIPTION:
            error = GraphQLError(
                "subscriptions are served at /graphql over a websocket (graphql-transport-ws) or"
                " server-sent events (graphql-sse: POST with Accept: text/event-stream)",
                extensions={"code": BadUserInput.code},
            )
            return ExecutionResult(data=None, errors=[error])
    return None
