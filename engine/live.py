"""What an instance is doing right now, as JSON: the answer to the workflow's
`liveState` query."""

from typing import Any

from engine.definition import Definition
from engine.enums import InstanceStatus
from engine.node_types import CallActivity, ServiceTask, Timer
from engine.state import InstanceState


def live_state(definition: Definition, state: InstanceState) -> dict[str, Any]:
    """The active nodes with their tokens, and everything the instance waits for."""
    active: dict[str, list[str]] = {}
    for token in state.tokens:
        active.setdefault(token.node_id, []).append(token.id)
    return {
        "status": state.status.value,
        "active_nodes": [
            {"node_id": node_id, "type": definition.node(node_id).type.value, "tokens": tokens}
            for node_id, tokens in active.items()
        ],
        "tasks": [
            {
                "task_id": task_id,
                "node_id": _node_of(state, token_id),
                "token_id": token_id,
                "local": state.task_locals.get(task_id, {}),
            }
            for task_id, token_id in state.open_tasks.items()
        ],
        "timers": [
            {
                "timer_id": timer_id,
                "node_id": timer.node_id,
                "attached_to": definition.node_of(timer.node_id, Timer).attachedTo,
                "fire_at": timer.fire_at.isoformat(),
            }
            for timer_id, timer in state.timers.items()
        ],
        "services": [
            {
                "job_id": job_id,
                "node_id": job.node_id,
                "action": definition.node_of(job.node_id, ServiceTask).action,
            }
            for job_id, job in state.jobs.items()
        ],
        "children": [
            {
                "child_id": child_id,
                "node_id": child.node_id,
                "key": definition.node_of(child.node_id, CallActivity).calledElement,
            }
            for child_id, child in state.children.items()
        ],
        "messages": [
            {"name": name, "node_id": _node_of(state, token_id), "token_id": token_id}
            for token_id, name in state.messages.items()
        ],
        "incidents": [
            {"node_id": incident.node_id, "token_id": token_id, "message": incident.message}
            for token_id, incident in state.incidents.items()
        ],
        "deferred": [event.model_dump(mode="json") for event in state.deferred],
    }


def ended_live_state(status: InstanceStatus) -> dict[str, Any]:
    """The live state of an instance that has ended: the same shape, with nothing in it."""
    return {
        "status": status.value,
        "active_nodes": [],
        "tasks": [],
        "timers": [],
        "services": [],
        "children": [],
        "messages": [],
        "incidents": [],
        "deferred": [],
    }


def _node_of(state: InstanceState, token_id: str) -> str:
    return next(token.node_id for token in state.tokens if token.id == token_id)
