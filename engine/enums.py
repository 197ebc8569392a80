"""Statuses and types shared by the database, the Python code and the GraphQL schema.

Values equal names (except NodeType, whose values are the definition format's
spelling) so a value read from any of the three layers means the same thing.
"""

from enum import StrEnum


class InstanceStatus(StrEnum):
    RUNNING = "RUNNING"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    TERMINATED = "TERMINATED"
    INCIDENT = "INCIDENT"


# An instance in one of these still takes events; the others are ended.
OPEN_INSTANCE_STATUSES = frozenset(
    {InstanceStatus.RUNNING, InstanceStatus.SUSPENDED, InstanceStatus.INCIDENT}
)


class TaskStatus(StrEnum):
    CREATED = "CREATED"
    CLAIMED = "CLAIMED"
    COMPLETING = "COMPLETING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class HistoryEventType(StrEnum):
    INSTANCE_STARTED = "INSTANCE_STARTED"
    NODE_ENTERED = "NODE_ENTERED"
    NODE_LEFT = "NODE_LEFT"
    TASK_CREATED = "TASK_CREATED"
    TASK_CLAIMED = "TASK_CLAIMED"
    TASK_UNCLAIMED = "TASK_UNCLAIMED"
    TASK_ASSIGNED = "TASK_ASSIGNED"
    TASK_COMPLETED = "TASK_COMPLETED"
    TASK_CANCELLED = "TASK_CANCELLED"
    TASK_DELEGATED = "TASK_DELEGATED"
    TASK_RESOLVED = "TASK_RESOLVED"
    TASK_UPDATED = "TASK_UPDATED"
    INCIDENT_RAISED = "INCIDENT_RAISED"
    INSTANCE_COMPLETED = "INSTANCE_COMPLETED"
    INSTANCE_CANCELLED = "INSTANCE_CANCELLED"
    INSTANCE_TERMINATED = "INSTANCE_TERMINATED"
    INSTANCE_SUSPENDED = "INSTANCE_SUSPENDED"
    INSTANCE_RESUMED = "INSTANCE_RESUMED"
    VARIABLES_UPDATED = "VARIABLES_UPDATED"
    TIMER_STARTED = "TIMER_STARTED"
    TIMER_FIRED = "TIMER_FIRED"
    TIMER_CANCELLED = "TIMER_CANCELLED"
    SERVICE_STARTED = "SERVICE_STARTED"
    SERVICE_COMPLETED = "SERVICE_COMPLETED"
    SERVICE_FAILED = "SERVICE_FAILED"
    SERVICE_CANCELLED = "SERVICE_CANCELLED"
    MESSAGE_RECEIVED = "MESSAGE_RECEIVED"
    CHILD_STARTED = "CHILD_STARTED"
    CHILD_COMPLETED = "CHILD_COMPLETED"
    CHILD_FAILED = "CHILD_FAILED"
    CHILD_CANCELLED = "CHILD_CANCELLED"
    INCIDENT_RESOLVED = "INCIDENT_RESOLVED"


class TaskEventType(StrEnum):
    """The task events a subscriber's inbox hears of: the TASK_* history events."""

    TASK_CREATED = HistoryEventType.TASK_CREATED.value
    TASK_CLAIMED = HistoryEventType.TASK_CLAIMED.value
    TASK_UNCLAIMED = HistoryEventType.TASK_UNCLAIMED.value
    TASK_ASSIGNED = HistoryEventType.TASK_ASSIGNED.value
    TASK_COMPLETED = HistoryEventType.TASK_COMPLETED.value
    TASK_CANCELLED = HistoryEventType.TASK_CANCELLED.value
    TASK_DELEGATED = HistoryEventType.TASK_DELEGATED.value
    TASK_RESOLVED = HistoryEventType.TASK_RESOLVED.value
    TASK_UPDATED = HistoryEventType.TASK_UPDATED.value


class NodeType(StrEnum):
    """The kinds of node a definition may use, spelled as in the JSON format."""

    START_EVENT = "startEvent"
    END_EVENT = "endEvent"
    USER_TASK = "userTask"
    SERVICE_TASK = "serviceTask"
    EXCLUSIVE_GATEWAY = "exclusiveGateway"
    PARALLEL_GATEWAY = "parallelGateway"
    INCLUSIVE_GATEWAY = "inclusiveGateway"
    TIMER = "timer"
    ERROR_BOUNDARY = "errorBoundary"
    RECEIVE_TASK = "receiveTask"
    CALL_ACTIVITY = "callActivity"
    TASK = "task"
