"""What an open instance waits for, read from its history: the timers it set and has not
fired or cancelled, the service calls under way, the messages its receive tasks await and
the incidents not yet resolved. (Its open tasks and child instances are rows of their own.)

The workflow's `liveState` query answers the same from the workflow's memory; this answer
costs no round trip to Temporal and works while Temporal is away, and a test keeps the two
equal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from api.models import HistoryEvent
from engine.definition import Definition
from engine.enums import HistoryEventType as T
from engine.node_types import ReceiveTask


@dataclass(frozen=True)
class TimerWait:
    node_id: str
    due_at: datetime


@dataclass(frozen=True)
class ServiceWait:
    node_id: str
    action: str


@dataclass(frozen=True)
class MessageWait:
    node_id: str
    name: str


@dataclass(frozen=True)
class IncidentWait:
    node_id: str | None
    message: str


@dataclass
class Waits:
    timers: list[TimerWait] = field(default_factory=list)
    services: list[ServiceWait] = field(default_factory=list)
    messages: list[MessageWait] = field(default_factory=list)
    incidents: list[IncidentWait] = field(default_factory=list)


_TIMER_ENDS = {T.TIMER_FIRED, T.TIMER_CANCELLED}
_SERVICE_ENDS = {T.SERVICE_COMPLETED, T.SERVICE_FAILED, T.SERVICE_CANCELLED}


def waits(definition: Definition, history: Sequence[HistoryEvent]) -> Waits:
    """Fold an instance's history, in order, into what it still waits for."""
    timers: dict[str, TimerWait] = {}
    services: dict[str, ServiceWait] = {}
    incidents: dict[str | None, IncidentWait] = {}
    inside: Counter[str] = Counter()  # tokens at each node: entered minus left
    for event in history:
        data = event.data
        match event.type:
            case T.TIMER_STARTED:
                due = datetime.fromisoformat(data["fire_at"])
                timers[data["timer_id"]] = TimerWait(event.node_id or "", due)
            case kind if kind in _TIMER_ENDS:
                timers.pop(data.get("timer_id", ""), None)
            case T.SERVICE_STARTED:
                services[data["job_id"]] = ServiceWait(event.node_id or "", data["action"])
            case kind if kind in _SERVICE_ENDS:
                services.pop(data.get("job_id", ""), None)
            case T.INCIDENT_RAISED:
                incidents[event.node_id] = IncidentWait(event.node_id, data.get("message", ""))
            case T.INCIDENT_RESOLVED:
                incidents.pop(event.node_id, None)
            case T.NODE_ENTERED if event.node_id:
                inside[event.node_id] += 1
            case T.NODE_LEFT if event.node_id:
                inside[event.node_id] -= 1
    messages = [
        MessageWait(node_id, node.message)
        for node_id, tokens in inside.items()
        if isinstance(node := definition.node(node_id), ReceiveTask)
        for _ in range(tokens)
    ]
    return Waits(
        timers=sorted(timers.values(), key=lambda t: t.due_at),
        services=list(services.values()),
        messages=messages,
        incidents=list(incidents.values()),
    )
