"""A graphql-transport-ws client over a real websocket, as a browser subscribes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


class Subscription:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    async def message(self) -> dict[str, Any]:
        """The next protocol message, whatever its type (within 15 seconds)."""
        async with asyncio.timeout(15):
            message: dict[str, Any] = json.loads(await self.socket.recv())
            return message

    async def next(self) -> dict[str, Any]:
        """The payload of the next `next` message; fails on any other message. Callers bound
        the wait with `asyncio.timeout`."""
        while True:
            message = json.loads(await self.socket.recv())
            if message["type"] == "next":
                payload: dict[str, Any] = message["payload"]
                return payload
            if message["type"] == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))
                continue
            raise AssertionError(f"unexpected message {message}")

    async def until(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = 15.0
    ) -> dict[str, Any]:
        """The first payload for which predicate(payload["data"]) holds, within `within` seconds."""
        async with asyncio.timeout(within):
            while True:
                payload = await self.next()
                if predicate(payload["data"]):
                    return payload


@asynccontextmanager
async def subscribe(
    url: str, query: str, token: str | None, variables: dict[str, Any] | None = None
) -> AsyncIterator[Subscription]:
    """Connect, authenticate in connection_init, subscribe; the subscription is live on entry."""
    async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )
        yield Subscription(socket)
