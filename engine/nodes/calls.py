"""Call activities: another definition run as a child instance, with variables mapped
in when it starts and out when it completes."""

import copy
from functools import partial
from typing import TYPE_CHECKING, Any

from engine.commands import StartChild
from engine.enums import HistoryEventType
from engine.events import ChildCompleted, ChildFailed
from engine.node_types import CallActivity
from engine.nodes import boundaries
from engine.state import Redo, Token, Wait

if TYPE_CHECKING:
    from engine.run import Run


def start(run: "Run", token: Token, node: CallActivity) -> None:
    """Ask for the child to start, with `inputs` evaluated now (default: a copy of all
    the variables); a new child id each time, as a retry starts a new child."""
    if node.inputs is not None:
        variables = run.resolve_nested("inputs", node.inputs)
    else:
        variables = copy.deepcopy(run.state.variables)
    child_id = run.new_id("child")
    run.state.children[child_id] = Wait(node_id=node.id, token_id=token.id)
    run.emit(
        StartChild(
            child_id=child_id,
            node_id=node.id,
            key=node.calledElement,
            version=node.version,
            variables=variables,
        )
    )
    run.history(
        HistoryEventType.CHILD_STARTED,
        node_id=node.id,
        data={"child_id": child_id, "key": node.calledElement, "version": node.version},
    )


def completed(run: "Run", event: ChildCompleted) -> list[Token]:
    """Copy the outputs back and move on; the caller has checked the child is running."""
    child = run.state.children.pop(event.child_id)
    token = run.token(child.token_id)
    run.history(
        HistoryEventType.CHILD_COMPLETED,
        node_id=child.node_id,
        data={"child_id": event.child_id, "variables": copy.deepcopy(event.variables)},
    )
    return run.attempt(
        token, partial(apply_result, run, token, event.variables), Redo.RESULT, event.variables
    )


def apply_result(run: "Run", token: Token, variables: dict[str, Any]) -> list[Token]:
    """Set the parent variables `outputs` maps from the child's (all or none), then
    leave the call activity."""
    node = run.definition.node_of(token.node_id, CallActivity)
    run.state.variables.update(run.mapped("outputs", node.outputs or {}, variables))
    return run.leave(token)


def failed(run: "Run", event: ChildFailed) -> list[Token]:
    child = run.state.children.pop(event.child_id)
    token = run.token(child.token_id)
    node = run.definition.node_of(child.node_id, CallActivity)
    run.history(
        HistoryEventType.CHILD_FAILED,
        node_id=node.id,
        data={
            "child_id": event.child_id,
            "error_code": event.error_code,
            "message": event.message,
        },
    )
    code = f" ({event.error_code})" if event.error_code else ""
    message = f"called {node.calledElement!r} failed{code}: {event.message}"
    return boundaries.catch(run, token, node, event.error_code, message)
