"""Logs: one structured line per event, from our code and the libraries alike.

Every log record, whether from structlog or a standard-library logger (uvicorn, temporalio,
SQLAlchemy), goes through one structlog formatter on the root handler: JSON lines for log
collectors or coloured console lines for a person (`FLOWDESK_LOG_FORMAT`). A request's lines
carry its `request_id` (the caller's `X-Request-ID`, else a new one, echoed back), and once
known its `user` and GraphQL `operation`; an activity's lines carry its `workflow_id`,
`instance_id` and `activity`."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
import temporalio.activity
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.exceptions import ApplicationError

from engine.workflow_contract import workflow_id

_INSTANCE_PREFIX = workflow_id("")
request_log = structlog.get_logger("flowdesk.request")


def _activity_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The workflow an activity's line concerns, whichever logger wrote it."""
    if temporalio.activity.in_activity():
        info = temporalio.activity.info()
        event.setdefault("activity", info.activity_type)
        if (workflow := info.workflow_id) is not None:
            event.setdefault("workflow_id", workflow)
            if workflow.startswith(_INSTANCE_PREFIX):
                event.setdefault("instance_id", workflow.removeprefix(_INSTANCE_PREFIX))
    return event


class _ExpectedFailures(logging.Filter):
    """An activity that fails the way it may (an ApplicationError: an HTTP 500 of a service,
    a refused input) is one warning line with its type and message: its chained traceback
    says nothing the message does not. Anything else keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ApplicationError):
            record.msg = f"{record.getMessage()}: {error.type}: {error.message}"
            record.args = None
            record.exc_info = None
        return True


def configure_logging(level: str, format: str, stream: TextIO | None = None) -> None:
    """Route every logger through structlog, as JSON (`json`) or for a console."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _activity_context,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if format == "json"
        else structlog.dev.ConsoleRenderer(colors=(stream or sys.stderr).isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([structlog.processors.format_exc_info] if format == "json" else []),
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The activity's details go in their own field (`temporal_activity`), not in the text.
    temporalio.activity.logger.activity_info_on_message = False
    activity_logger = logging.getLogger(temporalio.activity.logger.logger.name)
    if not any(isinstance(f, _ExpectedFailures) for f in activity_logger.filters):
        activity_logger.addFilter(_ExpectedFailures())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class RequestLogContext:
    """ASGI middleware: binds a request id to everything logged while a request (or a
    websocket) is served, echoes it as `X-Request-ID`, and writes one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")[:100]
        request_id = given or uuid.uuid4().hex
        status: list[int] = []

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        began = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                request_log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status[0] if status else None,
                    duration_ms=round((time.perf_counter() - began) * 1000, 1),
                )
            structlog.contextvars.clear_contextvars()
