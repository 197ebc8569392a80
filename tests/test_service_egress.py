"""The `http` action reaches only what FLOWDESK_HTTP_ALLOW lists: a refused URL, redirect
or address fails the service task (an incident, at once) without a connection to it, and
answers are bounded in size and time. Against a real HTTP server on this machine."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from temporalio.client import Client

from api.db import SessionMaker
from api.embedded import free_port
from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import run_worker, serve_app
from tests.factories import deploy, process, start
from tests.kit.instances import until
from tests.kit.people import as_user, make_user
from workers.actions import ActionFailed, HttpAction, HttpLimits
from workers.egress import EgressPolicy


@dataclass
class Server:
    port: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    hosts: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """/ok answers JSON, /to?url= redirects there, /big answers 2 MiB, /slow waits 3 s,
    /nul answers a string with a NUL character."""
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            state.hits[path] += 1
            state.hosts.append(self.headers.get("host", ""))
            if path == "/to":
                self.send_response(302)
                self.send_header("location", unquote(query.removeprefix("url=")))
                self.end_headers()
                return
            if path == "/slow":
                time.sleep(3)
            body = {
                "/big": b'"' + b"x" * (2 * 1024 * 1024) + b'"',
                "/nul": b'{"secret": "a\\u0000b"}',
            }.get(path, b'{"ok": true}')
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_port
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def action(http: httpx.AsyncClient, *allow: str, **limits: Any) -> HttpAction:
    return HttpAction(http, EgressPolicy.parse(allow), HttpLimits(**limits))


async def fails(call: HttpAction, url: str) -> ActionFailed:
    with pytest.raises(ActionFailed) as failed:
        await call({"url": url})
    return failed.value


async def test_nothing_is_reached_when_nothing_is_listed(
    http: httpx.AsyncClient, server: Server
) -> None:
    before = server.hits["/ok"]
    failed = await fails(action(http), server.url("/ok"))
    assert (failed.code, failed.retryable) == ("EGRESS_REFUSED", False)
    assert "not in FLOWDESK_HTTP_ALLOW" in failed.message
    assert server.hits["/ok"] == before


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/ok",
        "http://[::ffff:127.0.0.1]:{port}/ok",
        "http://[::1]:{port}/ok",
        "http://localhost:{port}/ok",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://0.0.0.0:{port}/ok",
    ],
)
async def test_internal_addresses_are_refused_even_when_any_public_host_is_allowed(
    http: httpx.AsyncClient, server: Server, url: str
) -> None:
    before = server.hits["/ok"]
    failed = await fails(action(http, "*"), url.format(port=server.port))
    assert failed.code == "EGRESS_REFUSED", failed.message
    assert "loopback, private or link-local" in failed.message
    assert server.hits["/ok"] == before


async def test_a_listed_address_or_exact_name_is_reached_at_the_checked_address(
    http: httpx.AsyncClient, server: Server
) -> None:
    by_address = await action(http, "127.0.0.1")({"url": server.url("/ok")})
    assert by_address["body"] == {"ok": True}
    by_name = await action(http, "localhost", "::1")({"url": server.url("/ok", "localhost")})
    assert by_name["body"] == {"ok": True}
    # Connected by address, the name still in the Host header.
    assert server.hosts[-1] == f"localhost:{server.port}"
    # A wildcard is for public names only: localhost resolves to loopback.
    failed = await fails(action(http, "*.localhost", "*"), server.url("/ok", "localhost"))
    assert failed.code == "EGRESS_REFUSED"


async def test_every_redirect_is_checked_again(http: httpx.AsyncClient, server: Server) -> None:
    call = action(http, "127.0.0.1")
    followed = await call({"url": server.url("/to?url=/ok")})
    assert followed["body"] == {"ok": True}, followed

    hits = server.hits["/ok"]
    failed = await fails(call, server.url(f"/to?url=http://127.0.0.2:{server.port}/ok"))
    assert failed.code == "EGRESS_REFUSED" and "127.0.0.2" in failed.message
    failed = await fails(call, server.url("/to?url=http://169.254.169.254/"))
    assert failed.code == "EGRESS_REFUSED"
    failed = await fails(call, server.url("/to?url=file:///etc/passwd"))
    assert failed.code == "EGRESS_REFUSED"
    assert server.hits["/ok"] == hits

    loop = action(http, "127.0.0.1", max_redirects=2)
    failed = await fails(loop, server.url("/to?url=/to%3Furl=/to%3Furl=/ok"))
    assert failed.code == "HTTP_TOO_MANY_REDIRECTS"


async def test_answers_are_bounded_in_size_and_time(
    http: httpx.AsyncClient, server: Server
) -> None:
    big = await fails(action(http, "127.0.0.1", max_response_bytes=1024 * 1024), server.url("/big"))
    assert big.code == "HTTP_RESPONSE_TOO_LARGE"
    started = time.monotonic()
    slow = await fails(action(http, "127.0.0.1", max_seconds=0.3), server.url("/slow"))
    assert slow.code == "HTTP_TIMEOUT"
    assert time.monotonic() - started < 2.5, "the limit cut the exchange short"


@pytest.fixture(scope="module")
async def closed_app(
    settings: Settings, sessions: SessionMaker, temporal: Client
) -> AsyncIterator[str]:
    """An app and a worker with the production default: nothing listed."""
    closed = settings.model_copy(
        update={
            "http_allow": [],
            "port": free_port(),
            "task_queue": f"{settings.task_queue}-closed",
        }
    )
    async with run_worker(closed, sessions, temporal), serve_app(closed) as url:
        yield url


async def test_a_refused_call_is_an_incident_that_leaks_nothing(
    closed_app: str, users: UserService, server: Server
) -> None:
    async with httpx.AsyncClient(base_url=closed_app, timeout=30) as http:
        caller = await GraphQLClient(http).login((await make_user(users)).username)
        definition = process(
            "egress",
            [
                {
                    "id": "call",
                    "type": "serviceTask",
                    "action": "http",
                    "input": {"url": server.url("/ok")},
                    "output": {"leak": "result.body"},
                    "retry": {"maxAttempts": 5},
                }
            ],
            [("start", "call"), ("call", "end")],
        )
        await deploy(caller, definition)
        before = server.hits["/ok"]
        started = await start(caller, definition["key"])

        stuck = await until(caller, started["id"], lambda i: i["status"] == "INCIDENT")

        assert "EGRESS_REFUSED" in stuck["incident"] and "FLOWDESK_HTTP_ALLOW" in stuck["incident"]
        assert "leak" not in stuck["variables"]
        assert server.hits["/ok"] == before


async def test_an_answer_the_variables_cannot_store_is_an_incident_not_a_stuck_write(
    client: GraphQLClient, users: UserService, server: Server
) -> None:
    caller = await as_user(client, users)
    definition = process(
        "unstorable",
        [
            {
                "id": "call",
                "type": "serviceTask",
                "action": "http",
                "input": {"url": server.url("/nul")},
                "output": {"answer": "result.body"},
                "retry": {"maxAttempts": 5},
            }
        ],
        [("start", "call"), ("call", "end")],
    )
    await deploy(caller, definition)
    started = await start(caller, definition["key"])

    stuck = await until(caller, started["id"], lambda i: i["status"] == "INCIDENT")

    assert "BAD_RESULT" in stuck["incident"] and "NUL" in stuck["incident"]
    assert "answer" not in stuck["variables"]
    assert server.hits["/nul"] == 1, "not retried"
