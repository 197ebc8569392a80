"""Multi-instance user tasks: one task per element of a collection, all at once or one
after the other, until all are done or the completion condition holds."""

import copy
from functools import partial
from typing import TYPE_CHECKING, Any

from engine.events import CompleteTask
from engine.expressions import ExpressionError, plain
from engine.failures import Failure
from engine.node_types import MultiInstance, UserTask
from engine.nodes import timers, user_tasks
from engine.nodes.waits import cancel_task
from engine.state import Loop, Redo, Token

if TYPE_CHECKING:
    from engine.run import Run


def enter(run: "Run", token: Token, node: UserTask, spec: MultiInstance) -> list[Token]:
    """Evaluate the collection; an empty one skips the node, before any boundary timer
    starts."""
    items = _collection(run, spec)
    if not items:
        if spec.outputCollection is not None:
            run.state.variables[spec.outputCollection] = []
        return run.leave(token)
    timers.attach(run, token, node)
    run.state.loops[token.id] = Loop(items=items, outputs=[None] * len(items))
    try:
        return proceed(run, token, node, spec)
    except Failure as failure:
        raise failure.to_redo(Redo.WORK) from None


def complete(
    run: "Run", token: Token, node: UserTask, spec: MultiInstance, event: CompleteTask
) -> list[Token]:
    """Collect a task's variables (they are not merged into the instance's)."""
    user_tasks.close(run, token, event)
    loop = run.state.loops[token.id]
    loop.outputs[loop.open.pop(event.task_id)] = copy.deepcopy(event.variables)
    loop.completed += 1
    return run.attempt(token, partial(proceed, run, token, node, spec), redo=Redo.WORK)


def proceed(run: "Run", token: Token, node: UserTask, spec: MultiInstance) -> list[Token]:
    """Finish the loop if it is done, else create the tasks due: every one not created
    yet, or in sequence the next one once none is open. Safe to call again (a retry)."""
    loop = run.state.loops[token.id]
    condition = spec.completionCondition
    if loop.completed and condition is not None:
        try:
            done = run.condition_holds(condition, _condition_context(run, spec, loop))
        except Failure as failure:
            raise Failure(f"completionCondition: {failure.message}") from None
        if done:
            return _finish(run, token, spec, loop)
    if loop.created == len(loop.items) and not loop.open:
        return _finish(run, token, spec, loop)
    while loop.created < len(loop.items) and not (spec.sequential and loop.open):
        position = loop.created
        local: dict[str, Any] = {"loopCounter": position}
        if spec.elementVariable is not None:
            local[spec.elementVariable] = loop.items[position]
        task_id = user_tasks.create(run, token, node, local)
        loop.open[task_id] = position
        loop.created += 1
    return []


def _finish(run: "Run", token: Token, spec: MultiInstance, loop: Loop) -> list[Token]:
    """Cancel the tasks still open and leave with the collected outputs."""
    for task_id in loop.open:
        cancel_task(run, task_id)
    if spec.outputCollection is not None:
        run.state.variables[spec.outputCollection] = copy.deepcopy(loop.outputs)
    del run.state.loops[token.id]
    return run.leave(token)


def _collection(run: "Run", spec: MultiInstance) -> list[Any]:
    items = run.resolve("multiInstance.collection", spec.collection)
    if not isinstance(items, list):
        raise Failure(f"multiInstance.collection gave {items!r}, not a list")
    try:
        # Kept in the state, which holds JSON only.
        result: list[Any] = plain(items)
    except ExpressionError as error:
        raise Failure(f"multiInstance.collection: {error}") from None
    return result


def _condition_context(run: "Run", spec: MultiInstance, loop: Loop) -> dict[str, Any]:
    context = run.context()
    context.update(
        nrOfInstances=len(loop.items),
        nrOfCompletedInstances=loop.completed,
        nrOfActiveInstances=len(loop.open),
    )
    if spec.outputCollection is not None:
        context[spec.outputCollection] = loop.outputs
    return context
