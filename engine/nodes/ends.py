"""End events: a path ends quietly, the whole instance ends (terminate), or an error is
thrown (error end)."""

from typing import TYPE_CHECKING, NoReturn

from engine.enums import HistoryEventType, InstanceStatus
from engine.failures import Failure
from engine.node_types import EndEvent
from engine.nodes.waits import cancel_waits
from engine.state import Token

if TYPE_CHECKING:
    from engine.run import Run


def end(run: "Run", token: Token, node: EndEvent) -> None:
    if node.errorCode is not None:
        _throw(node, node.errorCode)
    run.history(HistoryEventType.NODE_LEFT, node_id=token.node_id)
    if node.terminate:
        _terminate(run, token)
    end_path(run, token, node.id if node.terminate else None)


def end_path(run: "Run", token: Token, terminated_by: str | None = None) -> None:
    """The token's path is over (its node left); the instance completes with the last."""
    run.state.tokens.remove(token)
    if not run.state.tokens:
        run.state.status = InstanceStatus.COMPLETED
        run.history(
            HistoryEventType.INSTANCE_COMPLETED,
            data={"terminated_by": terminated_by} if terminated_by else None,
        )


def _terminate(run: "Run", token: Token) -> None:
    """Stop every other path: what each token waits for is cancelled and it leaves its
    node; incidents on those paths and reports deferred for their work go with them."""
    for other in list(run.state.tokens):
        if other.id == token.id:
            continue
        cancel_waits(run, other)
        run.history(HistoryEventType.NODE_LEFT, node_id=other.node_id)
    run.state.tokens[:] = [token]
    run.state.incidents.clear()
    run.state.deferred.clear()


def _throw(node: EndEvent, code: str) -> NoReturn:
    """Nothing encloses a top-level node, so the error is uncaught: the token stops at
    the end event in an incident, whose retry throws it again."""
    raise Failure(f"error {code!r} thrown by end event {node.id!r} is caught by no errorBoundary")
