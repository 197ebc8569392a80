"""Service task actions: the built-in `http`, `set` and `log`, and any a deployment adds
as a Python entry point in the `flowdesk.actions` group (name -> async callable taking
the evaluated input and returning a JSON value).

An action fails with `ActionFailed(code)`; the code is what an errorBoundary's
`errorCode` and a retry policy's `nonRetryable` list name."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import httpx

from api.settings import Settings
from workers.egress import EgressPolicy, EgressRefused, Unresolved

Action = Callable[[dict[str, Any]], Awaitable[Any]]

log = logging.getLogger("flowdesk.actions")


class ActionFailed(Exception):
    """`retryable=False` when trying again cannot help (the policy refuses the URL): the
    task becomes an incident at once instead of after its retries."""

    def __init__(self, code: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class HttpLimits:
    max_seconds: float = 30.0
    max_response_bytes: int = 1024 * 1024
    max_redirects: int = 5

    @classmethod
    def of(cls, settings: Settings) -> HttpLimits:
        return cls(
            settings.http_max_seconds, settings.http_max_response_bytes, settings.http_max_redirects
        )


class HttpAction:
    """`http`: method, url, headers, params, json, timeout (seconds, at most
    FLOWDESK_HTTP_MAX_SECONDS for the whole exchange, redirects included). Returns
    {status, headers, body}; 4xx fails with HTTP_4XX, 5xx with HTTP_5XX, no answer with
    HTTP_UNREACHABLE, no answer in time with HTTP_TIMEOUT, a body past
    FLOWDESK_HTTP_MAX_RESPONSE_BYTES with HTTP_RESPONSE_TOO_LARGE; a URL (or a redirect) the egress
    policy refuses fails with EGRESS_REFUSED, without retries."""

    def __init__(self, client: httpx.AsyncClient, policy: EgressPolicy, limits: HttpLimits) -> None:
        self._client = client
        self._policy = policy
        self._limits = limits

    async def __call__(self, input: dict[str, Any]) -> Any:
        url = input.get("url")
        if not isinstance(url, str):
            raise ActionFailed("BAD_INPUT", "http needs a url", retryable=False)
        seconds = min(
            float(input.get("timeout", self._limits.max_seconds)), self._limits.max_seconds
        )
        try:
            async with asyncio.timeout(seconds):
                return await self._exchange(url, input, seconds)
        except TimeoutError as exc:
            raise ActionFailed("HTTP_TIMEOUT", f"{url}: no answer within {seconds} s") from exc

    async def _exchange(self, url: str, input: dict[str, Any], seconds: float) -> Any:
        method = str(input.get("method", "GET")).upper()
        headers = dict(input.get("headers") or {})
        payload = input.get("json")
        target = httpx.URL(url)
        if input.get("params") is not None:
            # Merged into the URL's own query (httpx.URL(url, params=...) would replace it).
            target = target.copy_merge_params(input["params"])
        for _ in range(self._limits.max_redirects + 1):
            response = await self._send(method, target, headers, payload, seconds)
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                return self._answer(url, response)
            following = target.join(location)
            if (following.scheme, following.host, following.port) != (
                target.scheme,
                target.host,
                target.port,
            ):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, payload = "GET", None
            target = following
        raise ActionFailed(
            "HTTP_TOO_MANY_REDIRECTS", f"{url}: more than {self._limits.max_redirects} redirects"
        )

    async def _send(
        self, method: str, target: httpx.URL, headers: dict[str, Any], payload: Any, seconds: float
    ) -> _Response:
        """One request, to the address the policy checked (not a name resolved again)."""
        if target.scheme not in ("http", "https"):
            raise ActionFailed(
                "EGRESS_REFUSED", f"{target}: only http and https are allowed", retryable=False
            )
        port = target.port or (443 if target.scheme == "https" else 80)
        try:
            address = await self._policy.address(target.host, port)
        except EgressRefused as exc:
            raise ActionFailed("EGRESS_REFUSED", f"{target}: {exc}", retryable=False) from exc
        except Unresolved as exc:
            raise ActionFailed("HTTP_UNREACHABLE", f"{target}: {exc}") from exc
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            async with self._client.stream(
                method,
                target.copy_with(host=address),
                headers={**headers, "host": target.netloc.decode("ascii")},
                json=payload,
                timeout=seconds,
                extensions=extensions,
                follow_redirects=False,
            ) as response:
                content = await self._read(target, response)
        except httpx.HTTPError as exc:
            raise ActionFailed("HTTP_UNREACHABLE", f"{target}: {exc}") from exc
        return _Response(response.status_code, response.headers, content, response.encoding)

    async def _read(self, target: httpx.URL, response: httpx.Response) -> bytes:
        limit = self._limits.max_response_bytes
        length = response.headers.get("content-length", "")
        chunks: list[bytes] = []
        size = 0
        if not (length.isdigit() and int(length) > limit):
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    break
                chunks.append(chunk)
            else:
                return b"".join(chunks)
        raise ActionFailed(
            "HTTP_RESPONSE_TOO_LARGE", f"{target}: the answer is larger than {limit} bytes"
        )

    def _answer(self, url: str, response: _Response) -> Any:
        if response.status_code >= 400:
            code = "HTTP_4XX" if response.status_code < 500 else "HTTP_5XX"
            raise ActionFailed(code, f"{url} answered {response.status_code}")
        text = response.content.decode(response.encoding or "utf-8", errors="replace")
        body: Any
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            body = text
        return {"status": response.status_code, "headers": dict(response.headers), "body": body}


@dataclass(frozen=True)
class _Response:
    status_code: int
    headers: httpx.Headers
    content: bytes
    encoding: str | None

    @property
    def is_redirect(self) -> bool:
        return self.status_code in (301, 302, 303, 307, 308)


async def set_action(input: dict[str, Any]) -> Any:
    """`set`: its input is the variables to set."""
    return input


async def log_action(input: dict[str, Any]) -> Any:
    """`log`: message, level (info by default)."""
    level = logging.getLevelName(str(input.get("level", "INFO")).upper())
    log.log(level if isinstance(level, int) else logging.INFO, "%s", input.get("message"))
    return None


def load_actions(http: httpx.AsyncClient, settings: Settings) -> Mapping[str, Action]:
    """The built-ins, then what installed packages register (which may not replace them)."""
    http_action = HttpAction(http, EgressPolicy.parse(settings.http_allow), HttpLimits.of(settings))
    actions: dict[str, Action] = {"http": http_action, "set": set_action, "log": log_action}
    for entry in entry_points(group="flowdesk.actions"):
        if entry.name in actions:
            log.warning("action %r from %s ignored: the name is taken", entry.name, entry.value)
            continue
        actions[entry.name] = entry.load()
    return actions
