"""Shared GraphQL pieces: the JSON scalar, enums from the engine, and connection building."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import RequestContext
from api.errors import BadUserInput
from engine.enums import InstanceStatus, TaskEventType, TaskStatus

__all__ = [
    "JSON",
    "Ctx",
    "InstanceStatus",
    "TaskEventType",
    "TaskStatus",
    "build_connection",
    "page_size",
]

Ctx = Info[RequestContext, None]

# The engine's enums are the GraphQL enums: registered here, once, with their descriptions.
strawberry.enum(InstanceStatus, description="Where a process instance stands.")
strawberry.enum(
    TaskStatus,
    description=(
        "Where a task stands. COMPLETING: a completion won and is recorded; the instance "
        "applies it (at once, or once Temporal and a worker answer again), and the task "
        "turns COMPLETED, announced by TASK_COMPLETED."
    ),
)
strawberry.enum(TaskEventType, description="What happened to a task.")

NodeT = TypeVar("NodeT", bound=relay.Node)
RowT = TypeVar("RowT")

MAX_PAGE = 100
DEFAULT_PAGE = 20


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 < first <= MAX_PAGE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE}", field="first")
    return first


def build_connection(
    rows: Sequence[tuple[RowT, str]],
    limit: int,
    to_node: Callable[[RowT], NodeT],
    *,
    has_previous: bool,
) -> relay.Connection[NodeT]:
    """A Relay connection from `limit + 1` fetched rows, each with its cursor: the extra
    row only says there is more."""
    edges = [relay.Edge(node=to_node(row), cursor=cursor) for row, cursor in rows[:limit]]
    return relay.Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=len(rows) > limit,
            has_previous_page=has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
