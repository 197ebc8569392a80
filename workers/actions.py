"""Service task actions: the built-in `http`, `set` and `log`, and any a deployment adds
as a Python entry point in the `flowdesk.actions` group (name -> async callable taking
the evaluated input and returning a JSON value).

An action fails with `ActionFailed(code)`; the code is what an errorBoundary's
`errorCode` and a retry policy's `nonRetryable` list name."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

import httpx

Action = Callable[[dict[str, Any]], Awaitable[Any]]

log = logging.getLogger("flowdesk.actions")


class ActionFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class HttpAction:
    """`http`: method, url, headers, params, json, timeout (seconds). Returns
    {status, headers, body}; 4xx fails with HTTP_4XX, 5xx with HTTP_5XX, no answer with
    HTTP_UNREACHABLE."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def __call__(self, input: dict[str, Any]) -> Any:
        if not isinstance(input.get("url"), str):
            raise ActionFailed("BAD_INPUT", "http needs a url")
        try:
            response = await self._client.request(
                str(input.get("method", "GET")).upper(),
                input["url"],
                headers=input.get("headers"),
                params=input.get("params"),
                json=input.get("json"),
                timeout=float(input.get("timeout", 30)),
            )
        except httpx.HTTPError as exc:
            raise ActionFailed("HTTP_UNREACHABLE", f"{input['url']}: {exc}") from exc
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            code = "HTTP_4XX" if response.status_code < 500 else "HTTP_5XX"
            raise ActionFailed(code, f"{input['url']} answered {response.status_code}")
        return {"status": response.status_code, "headers": dict(response.headers), "body": body}


async def set_action(input: dict[str, Any]) -> Any:
    """`set`: its input is the variables to set."""
    return input


async def log_action(input: dict[str, Any]) -> Any:
    """`log`: message, level (info by default)."""
    level = logging.getLevelName(str(input.get("level", "INFO")).upper())
    log.log(level if isinstance(level, int) else logging.INFO, "%s", input.get("message"))
    return None


def load_actions(http: httpx.AsyncClient) -> Mapping[str, Action]:
    """The built-ins, then what installed packages register (which may not replace them)."""
    actions: dict[str, Action] = {"http": HttpAction(http), "set": set_action, "log": log_action}
    for entry in entry_points(group="flowdesk.actions"):
        if entry.name in actions:
            log.warning("action %r from %s ignored: the name is taken", entry.name, entry.value)
            continue
        actions[entry.name] = entry.load()
    return actions
