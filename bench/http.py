"""A lean HTTP/1.1 keep-alive client over asyncio streams.

httpx costs the client about a millisecond of CPU per request on these cores; that cost would
be added to both sides of a latency ratio and flatten it. This client does one request at a
time per connection and reads Content-Length or chunked bodies, which is all uvicorn sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Self

import orjson

_IDLE = 4.0


class HttpError(RuntimeError):
    pass


class Connection:
    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.host = host
        self.port = port
        self.token = token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used = 0.0

    async def __aenter__(self) -> Self:
        await self._connect()
        return self

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._used = time.monotonic()

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None, "not connected"
        # uvicorn closes a keep-alive connection idle for 5 s: open a new one before that.
        if self._reader.at_eof() or time.monotonic() - self._used > _IDLE:
            await self.__aexit__()
            await self._connect()
        assert self._reader is not None and self._writer is not None
        try:
            return await self._exchange(method, path, body)
        finally:
            self._used = time.monotonic()

    async def _exchange(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            "Accept: application/json",
            f"Content-Length: {len(body)}",
        ]
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await self._writer.drain()
        status_line = await self._reader.readline()
        if not status_line:
            raise HttpError("connection closed")
        status = int(status_line.split()[1])
        length: int | None = None
        chunked = False
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int((await self._reader.readline()).strip(), 16)
                if size == 0:
                    await self._reader.readline()
                    break
                parts.append(await self._reader.readexactly(size))
                await self._reader.readline()
            return status, b"".join(parts)
        return status, await self._reader.readexactly(length or 0)

    async def get_json(self, path: str) -> Any:
        status, body = await self.request("GET", path)
        if status != 200:
            raise HttpError(f"GET {path}: {status} {body[:500]!r}")
        return orjson.loads(body)

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The data of a successful operation; raises HttpError with the errors otherwise."""
        body = orjson.dumps({"query": query, "variables": variables or {}})
        status, raw = await self.request("POST", "/graphql", body)
        if status != 200:
            raise HttpError(f"POST /graphql: {status} {raw[:500]!r}")
        document = orjson.loads(raw)
        if document.get("errors"):
            raise HttpError(f"GraphQL errors: {document['errors']}")
        return document["data"]
