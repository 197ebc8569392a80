"""Boundary events: leaving a task by its boundary event's flow instead of its own,
when a boundary timer fires or an errorBoundary catches the task's failure."""

from typing import TYPE_CHECKING

from engine.enums import HistoryEventType
from engine.failures import Failure
from engine.node_types import ErrorBoundary, Node, Timer
from engine.nodes.waits import cancel_waits
from engine.state import Redo, Token

if TYPE_CHECKING:
    from engine.run import Run


def interrupt(run: "Run", token: Token, boundary: Timer | ErrorBoundary) -> None:
    """Cancel whatever the task waits for, and move its token onto the boundary event."""
    cancel_waits(run, token)
    run.jump(token, boundary.id)


def branch_off(run: "Run", boundary: Timer) -> Token:
    """A new token on the boundary event, the task staying as it is."""
    token = run.spawn(boundary.id)
    run.history(HistoryEventType.NODE_ENTERED, node_id=boundary.id)
    return token


def catch(
    run: "Run", token: Token, host: Node, error_code: str | None, message: str
) -> list[Token]:
    """The task's work failed for good: an errorBoundary for the code (or one for any
    code) takes the token; without one, the token stays in an incident whose retry
    starts the work again."""
    boundary = _catching(run, host, error_code)
    if boundary is None:
        run.incident(token, Failure(message, Redo.WORK))
        return []
    interrupt(run, token, boundary)
    return [token]


def _catching(run: "Run", host: Node, error_code: str | None) -> ErrorBoundary | None:
    """The errorBoundary naming the code, else the first one that names none."""
    catchers = [b for b in run.definition.boundaries(host.id) if isinstance(b, ErrorBoundary)]
    if error_code is not None:
        for boundary in catchers:
            if boundary.errorCode == error_code:
                return boundary
    return next((boundary for boundary in catchers if boundary.errorCode is None), None)
