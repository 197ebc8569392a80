"""Log lines are JSON with the request and the workflow they concern, and an expected
failure of a service task is one warning line, not a chain of tracebacks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from strawberry.relay import GlobalID

from api.logs import configure_logging
from api.services.users import UserService
from tests.client import GraphQLClient
from tests.factories import deploy, process, start
from tests.kit.instances import until
from tests.kit.people import as_user

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """Every line logged during the test, parsed; the logging set-up is restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


async def test_a_request_line_names_its_request_id_user_and_operation(
    log_lines: Lines, client: GraphQLClient, users: UserService
) -> None:
    me = await as_user(client, users)
    response = await client.http.post(
        "/graphql",
        json={"query": "query WhoAmI { me { username } }"},
        headers={"Authorization": f"Bearer {me.token}", "X-Request-ID": "req-42"},
    )
    assert response.headers["x-request-id"] == "req-42"
    [line] = [
        line
        for line in log_lines()
        if line["event"] == "request" and line["request_id"] == "req-42"
    ]
    assert line["level"] == "info" and line["status"] == 200 and line["path"] == "/graphql"
    assert line["operation"] == "WhoAmI"
    assert line["user"] == response.json()["data"]["me"]["username"]


async def test_a_request_without_an_id_gets_one(log_lines: Lines, client: GraphQLClient) -> None:
    response = await client.http.get("/healthz")
    given = response.headers["x-request-id"]
    assert [line["path"] for line in log_lines() if line.get("request_id") == given] == ["/healthz"]


async def test_an_expected_service_failure_is_one_warning_line_with_its_instance(
    log_lines: Lines, client: GraphQLClient, users: UserService
) -> None:
    me = await as_user(client, users)
    call = {
        "id": "call",
        "type": "serviceTask",
        "action": "http",
        # Nothing listens on port 1: the call fails at once, every time.
        "input": {"method": "GET", "url": "http://127.0.0.1:1/nothing"},
        "retry": {"maxAttempts": 1},
    }
    definition = process("log_failure", [call], [("start", "call"), ("call", "end")])
    await deploy(me, definition)
    started = await start(me, definition["key"])
    await until(me, started["id"], lambda i: i["status"] == "INCIDENT")
    instance_id = GlobalID.from_id(started["id"]).node_id
    [line] = [
        line
        for line in log_lines()
        if line.get("instance_id") == instance_id and line["logger"] == "temporalio.activity"
    ]
    assert line["level"] == "warning"
    assert line["event"].startswith("Completing activity as failed: HTTP_UNREACHABLE: ")
    assert line["workflow_id"] == f"instance-{instance_id}" and line["activity"]
    # Its type and message, and no traceback.
    assert "127.0.0.1:1" in line["event"] and "exception" not in line
