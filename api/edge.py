"""The HTTP edge: what a request must be before the GraphQL server reads it.

Headers (with the URL) and bodies have a size limit (`FLOWDESK_MAX_HEADER_BYTES`,
`FLOWDESK_MAX_BODY_BYTES`); a body must be UTF-8 JSON that Python can decode without
exhausting its recursion. Whatever is refused here is answered as GraphQL answers, a
JSON object with `errors[].extensions.code`, with a 4xx status: never a 500."""

from __future__ import annotations

import json

import orjson
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.settings import Settings


def error_response(status: int, message: str, code: str = "BAD_USER_INPUT") -> Response:
    """A refusal shaped as a GraphQL response, so that clients read it as they read any."""
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def decode_json(data: str | bytes) -> object:
    """A request body or websocket message as JSON. The standard library's decoder keeps
    integers exact (api/inputs.py then refuses those past 64 bits, naming them); what it
    cannot decode is a `JSONDecodeError`, which the GraphQL server answers with 400."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not valid UTF-8", "", exc.start) from exc
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise json.JSONDecodeError("the JSON is nested too deeply", "", 0) from exc


class RequestLimits:
    """Refuses oversized headers (431) and bodies (413) before the app sees them."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_header_bytes: int) -> None:
        self._app = app
        self._max_body = max_body_bytes
        self._max_headers = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        size += sum(len(name) + len(value) for name, value in scope["headers"])
        if size > self._max_headers:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1009})
                return
            message = f"the request's headers and URL are larger than {self._max_headers} bytes"
            await error_response(431, message)(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self._app(scope, receive, send)
            return
        body = await self._read_body(scope, receive)
        if body is None:
            message = f"the request body is larger than {self._max_body} bytes"
            await error_response(413, message)(scope, receive, send)
            return
        await self._app(scope, _replay(body, receive), send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it is known to be too large (from its
        Content-Length, or while it streams in)."""
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self._max_body:
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            # After the body, what the server sends next (a disconnect).
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def edge_middleware(settings: Settings) -> list[Middleware]:
    """The app's middleware, outermost first: CORS (only for the listed origins), then
    the size limits."""
    stack: list[Middleware] = []
    if settings.cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
                max_age=600,
            )
        )
    stack.append(
        Middleware(
            RequestLimits,
            max_body_bytes=settings.max_body_bytes,
            max_header_bytes=settings.max_header_bytes,
        )
    )
    return stack
