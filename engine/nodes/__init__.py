"""What each node type does when a token enters it, one module per kind of node.

A behaviour takes the transition in progress (`engine.run.Run`) and the token, and
returns the tokens that moved on and must be carried further; an empty list means
the token waits (or was consumed).
"""

from typing import TYPE_CHECKING

from engine.enums import NodeType
from engine.events import CompleteTask
from engine.failures import Failure
from engine.node_types import (
    CallActivity,
    EndEvent,
    Gateway,
    MultiInstance,
    Node,
    ReceiveTask,
    ServiceTask,
    Timer,
    UserTask,
)
from engine.nodes import (
    calls,
    ends,
    gateways,
    multi_instance,
    receive_tasks,
    services,
    timers,
    user_tasks,
)
from engine.state import Redo, Token

if TYPE_CHECKING:
    from engine.run import Run


# Nodes a token leaves as soon as it enters them.
_PASS_THROUGH = frozenset({NodeType.START_EVENT, NodeType.TASK})


def enter(run: "Run", token: Token) -> list[Token]:
    """Carry out the node the token has entered."""
    node = run.definition.node(token.node_id)
    if node.type in _PASS_THROUGH or node.is_boundary:
        return run.leave(token)
    if isinstance(node, EndEvent):
        ends.end(run, token, node)
        return []
    if isinstance(node, Gateway):
        return gateways.enter(run, token, node)
    if isinstance(node, Timer):
        timers.enter_intermediate(run, token, node)
        return []
    if isinstance(node, UserTask) and node.multiInstance is not None:
        # It may skip the node, which must not start (and at once stop) boundary timers.
        return multi_instance.enter(run, token, node, node.multiInstance)
    timers.attach(run, token, node)
    try:
        return start_work(run, token, node)
    except Failure as failure:
        raise failure.to_redo(Redo.WORK) from None


def start_work(run: "Run", token: Token, node: Node) -> list[Token]:
    """The task's own work, started once its boundary timers run (and again by a retry
    of an incident there)."""
    match node:
        case UserTask(multiInstance=MultiInstance() as spec):
            return multi_instance.proceed(run, token, node, spec)
        case UserTask():
            user_tasks.create(run, token, node)
        case ServiceTask():
            services.start(run, token, node)
        case ReceiveTask():
            receive_tasks.wait(run, token, node)
        case CallActivity():
            calls.start(run, token, node)
        case _:
            raise TypeError(f"{node.type} {node.id!r} is not a task")
    return []


def complete_task(run: "Run", event: CompleteTask) -> list[Token]:
    token = run.token(run.state.open_tasks[event.task_id])
    node = run.definition.node_of(token.node_id, UserTask)
    if node.multiInstance is not None:
        return multi_instance.complete(run, token, node, node.multiInstance, event)
    return user_tasks.complete(run, token, event)
