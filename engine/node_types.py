"""The nodes of a definition: one pydantic model per node type, each carrying exactly the
fields of its type, told apart by `type` (a discriminated union, `Node`).

The published JSON Schema is made from these models, so the class docstrings and field
descriptions are written for its readers.
"""

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from engine.durations import check_duration
from engine.enums import NodeType
from engine.expressions import is_expression
from engine.retries import Retry

# extra="forbid" so a misspelt field (or one of another node type) is reported instead
# of silently ignored; frozen because a deployed definition never changes.
_CONFIG = ConfigDict(extra="forbid", frozen=True)
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# The range of a task's priority, as the inbox sorts and setTaskPriority takes it.
PRIORITY_MIN, PRIORITY_MAX = 0, 100

# Definitions deployed while one model held every node type's fields were stored with
# these defaults spelt out on every node; the pinned specs of running instances (and
# documents exported from them) still carry them, so any node accepts them at exactly
# these values.
_SPELT_DEFAULTS: dict[str, Any] = {"priority": 50, "candidateUsers": [], "candidateGroups": []}


class _Node(BaseModel):
    """What every node has."""

    model_config = _CONFIG

    id: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$",
        description="Unique within the definition; flows refer to nodes by it.",
    )
    type: NodeType = Field(description="What the node does.")
    name: str | None = Field(default=None, description="Shown to people; defaults to the id.")
    documentation: str | None = Field(default=None, description="Free text for people.")

    @model_validator(mode="before")
    @classmethod
    def _drop_spelt_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {
            key: value
            for key, value in data.items()
            if key in cls.model_fields
            or key not in _SPELT_DEFAULTS
            or type(value) is not type(_SPELT_DEFAULTS[key])
            or value != _SPELT_DEFAULTS[key]
        }

    @property
    def host_id(self) -> str | None:
        """Id of the task a boundary event watches; None for every other node."""
        return None

    @property
    def is_boundary(self) -> bool:
        """A boundary event: started with the node it is attached to, never by a flow."""
        return False


class StartEvent(_Node):
    """Where an instance starts; a definition has exactly one."""

    type: Literal[NodeType.START_EVENT] = Field(description="What the node does.")


class EndEvent(_Node):
    """Where a path ends; the instance completes when its last path has. A terminate end
    ends the whole instance at once; an error end throws an error instead."""

    model_config = ConfigDict(json_schema_extra={"not": {"required": ["terminate", "errorCode"]}})

    type: Literal[NodeType.END_EVENT] = Field(description="What the node does.")
    terminate: bool | None = Field(
        default=None,
        description="true: reaching it completes the instance at once, stopping every "
        "other path (their tasks are cancelled, their timers, service jobs and child "
        "instances stopped).",
    )
    errorCode: str | None = Field(
        default=None,
        min_length=1,
        description="Throws an error with this code instead of ending the path quietly. "
        "No errorBoundary encloses a node of a process's top level, so there the error is "
        "uncaught: the instance goes to INCIDENT at this node. Not with terminate.",
    )

    @model_validator(mode="after")
    def _one_kind_of_end(self) -> "EndEvent":
        if self.terminate is not None and self.errorCode is not None:
            raise ValueError("an end event terminates or throws an error, not both")
        return self


class Task(_Node):
    """A step with nothing for Flowdesk to do (work done by hand, elsewhere, or a milestone
    worth naming): a token passes straight through it. BPMN's plain task, manual task and
    none intermediate throw event are one."""

    type: Literal[NodeType.TASK] = Field(description="What the node does.")


class ExclusiveGateway(_Node):
    """Takes the first outgoing flow whose condition holds, else the default flow; as a
    join, lets each arriving token through."""

    type: Literal[NodeType.EXCLUSIVE_GATEWAY] = Field(description="What the node does.")


class ParallelGateway(_Node):
    """Takes every outgoing flow; as a join, waits for a token on every incoming flow."""

    type: Literal[NodeType.PARALLEL_GATEWAY] = Field(description="What the node does.")


class InclusiveGateway(_Node):
    """Takes every outgoing flow whose condition holds, else the default flow; as a join,
    waits for every token that can still reach it."""

    type: Literal[NodeType.INCLUSIVE_GATEWAY] = Field(description="What the node does.")


class MultiInstance(BaseModel):
    """Makes a user task one task per element of a collection."""

    model_config = _CONFIG

    collection: str | list[Any] = Field(
        description="An `=expression` giving a list, or a list: one task per element, "
        "in order. An empty list skips the node."
    )
    elementVariable: str | None = Field(
        default=None,
        pattern=_NAME,
        description="Name under which each task's expressions see its element.",
    )
    sequential: bool = Field(
        default=False,
        description="Create the tasks one after the other instead of all at once.",
    )
    completionCondition: str | None = Field(
        default=None,
        description="CEL (no leading `=`) over the variables plus `nrOfInstances`, "
        "`nrOfCompletedInstances`, `nrOfActiveInstances` and the `outputCollection` so "
        "far, checked after each completion; when true the tasks still open are "
        "cancelled and the node is left.",
    )
    outputCollection: str | None = Field(
        default=None,
        pattern=_NAME,
        description="Variable set, when the node is left, to the list of each task's "
        "completion variables in collection order (null for tasks cancelled or never "
        "created).",
    )

    @field_validator("collection")
    @classmethod
    def _collection_is_list_or_expression(cls, value: str | list[Any]) -> str | list[Any]:
        if isinstance(value, str) and not is_expression(value):
            raise ValueError("collection must be a list or an '=expression' giving one")
        return value


class UserTask(_Node):
    """A task in people's inbox; the instance goes on when someone completes it."""

    type: Literal[NodeType.USER_TASK] = Field(description="What the node does.")
    assignee: str | None = Field(
        default=None,
        description="User the task is assigned to, or an `=expression` returning one.",
    )
    candidateUsers: list[str] = Field(
        default_factory=list,
        description="Users who may claim the task; each entry may be an `=expression` "
        "returning a user or a list of users.",
    )
    candidateGroups: list[str] = Field(
        default_factory=list,
        description="Groups whose members may claim the task; each entry may be an "
        "`=expression` returning a group or a list of groups.",
    )
    priority: StrictInt | str = Field(
        default=50,
        description=f"Task priority (an integer from {PRIORITY_MIN} to {PRIORITY_MAX}, "
        "higher is more urgent), or an `=expression` returning an integer, which is "
        "clamped to that range.",
    )
    due: str | None = Field(
        default=None,
        description="Time from creation until the task is due, as an ISO 8601 duration "
        "(`P2D`, `PT4H`), or an `=expression` returning a duration or a timestamp.",
    )
    form: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema of the variables the task's completion submits.",
    )
    multiInstance: MultiInstance | None = Field(
        default=None, description="One task per element of a collection."
    )

    @field_validator("priority", mode="wrap")
    @classmethod
    def _priority_is_int_or_expression(
        cls, value: Any, handler: ValidatorFunctionWrapHandler
    ) -> int | str:
        # One clear message instead of pydantic's one-per-union-member errors.
        message = "priority must be an integer or an '=expression'"
        try:
            priority: int | str = handler(value)
        except ValidationError:
            raise ValueError(message) from None
        if isinstance(priority, str) and not is_expression(priority):
            raise ValueError(message)
        return priority

    @field_validator("due")
    @classmethod
    def _due_is_duration_or_expression(cls, value: str | None) -> str | None:
        return check_duration(value)


class ServiceTask(_Node):
    """Automatic work: an action the worker runs with the node's retry policy."""

    type: Literal[NodeType.SERVICE_TASK] = Field(description="What the node does.")
    action: str = Field(
        min_length=1,
        description="The action to run: `http`, `set`, `log`, or one a deployment registered.",
    )
    input: dict[str, Any] | None = Field(
        default=None,
        description="The action's arguments; strings starting with `=` are evaluated, "
        "also inside nested objects and lists.",
    )
    output: dict[str, str] | None = Field(
        default=None,
        description="Variable name -> CEL expression (no leading `=`) over `result` (the "
        "action's return value) and the variables. Without it, a `set` action's result is "
        "merged into the variables and other results are ignored.",
    )
    retry: Retry | None = Field(
        default=None,
        description="Retry policy of the action (default: 3 attempts, 1 s, backoff 2, at "
        "most 1 min apart).",
    )
    timeout: str | None = Field(
        default=None,
        description="Longest time one attempt may take (ISO 8601 duration).",
    )

    @field_validator("timeout")
    @classmethod
    def _timeout_is_positive_duration(cls, value: str | None) -> str | None:
        if is_expression(value):
            raise ValueError("timeout is a literal ISO 8601 duration")
        return check_duration(value, positive=True)


def _timer_rules(schema: dict[str, Any]) -> None:
    """Say in the published schema what the validators of `Timer` check."""
    schema["oneOf"] = [{"required": ["duration"]}, {"required": ["until"]}]
    schema["dependentRequired"] = {"interrupting": ["attachedTo"]}


class Timer(_Node):
    """Waits for a duration or until a time. Without `attachedTo` it holds the token
    that entered it; with it, it is a boundary timer on a task."""

    model_config = ConfigDict(json_schema_extra=_timer_rules)

    type: Literal[NodeType.TIMER] = Field(description="What the node does.")
    duration: str | None = Field(
        default=None,
        description="How long to wait, as an ISO 8601 duration or an `=expression` "
        "returning one. A timer has either `duration` or `until`.",
    )
    until: str | None = Field(
        default=None,
        description="An `=expression` returning the RFC 3339 timestamp to wait for.",
    )
    attachedTo: str | None = Field(
        default=None,
        description="Id of the task the boundary timer watches (a userTask, serviceTask, "
        "receiveTask or callActivity). A boundary timer has no incoming flow.",
    )
    interrupting: bool | None = Field(
        default=None,
        description="With attachedTo: whether firing cancels the task (default true) or "
        "leaves it open while a new path starts from the timer.",
    )

    @field_validator("duration")
    @classmethod
    def _duration_is_duration_or_expression(cls, value: str | None) -> str | None:
        return check_duration(value)

    @field_validator("until")
    @classmethod
    def _until_is_expression(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if not is_expression(value):
            raise ValueError("until must be an '=expression' returning an RFC 3339 timestamp")
        if info.data.get("duration") is not None:
            raise ValueError("a timer takes 'duration' or 'until', not both")
        return value

    @field_validator("interrupting")
    @classmethod
    def _interrupting_is_for_boundaries(
        cls, value: bool | None, info: ValidationInfo
    ) -> bool | None:
        if value is not None and info.data.get("attachedTo") is None:
            raise ValueError("'interrupting' applies to boundary timers (with attachedTo) only")
        return value

    @model_validator(mode="after")
    def _waits_for_something(self) -> "Timer":
        if self.duration is None and self.until is None:
            raise ValueError("a timer needs 'duration' or 'until'")
        return self

    @property
    def host_id(self) -> str | None:
        return self.attachedTo

    @property
    def is_boundary(self) -> bool:
        return self.attachedTo is not None

    @property
    def interrupts(self) -> bool:
        """Whether the boundary timer cancels its task when it fires."""
        return self.interrupting is not False


class ErrorBoundary(_Node):
    """Catches the failure of the task it is attached to: the token leaves the task by
    the boundary event's flow instead of stopping in an incident."""

    type: Literal[NodeType.ERROR_BOUNDARY] = Field(description="What the node does.")
    attachedTo: str = Field(
        description="Id of the task watched (a serviceTask or callActivity). A boundary "
        "event has no incoming flow.",
    )
    errorCode: str | None = Field(
        default=None, description="The error code it catches; without it, any failure."
    )

    @property
    def host_id(self) -> str | None:
        return self.attachedTo

    @property
    def is_boundary(self) -> bool:
        return True


class ReceiveTask(_Node):
    """Waits for a message sent to the instance by name."""

    type: Literal[NodeType.RECEIVE_TASK] = Field(description="What the node does.")
    message: str = Field(min_length=1, description="The message awaited.")


class CallActivity(_Node):
    """Runs another deployed definition as a child instance and waits for it."""

    type: Literal[NodeType.CALL_ACTIVITY] = Field(description="What the node does.")
    calledElement: str = Field(
        min_length=1, description="Key of the definition run as a child instance."
    )
    version: StrictInt | None = Field(
        default=None, ge=1, description="Version of the called definition; default the latest."
    )
    inputs: dict[str, Any] | None = Field(
        default=None,
        description="Child variable -> value, where strings starting with `=` are "
        "expressions over the parent's variables (also nested); default: all of the "
        "parent's variables.",
    )
    outputs: dict[str, str] | None = Field(
        default=None,
        description="Parent variable -> CEL expression (no leading `=`) over the child's "
        "final variables; default: nothing copied back.",
    )


AnyNode = (
    StartEvent
    | EndEvent
    | UserTask
    | ServiceTask
    | ExclusiveGateway
    | ParallelGateway
    | InclusiveGateway
    | Timer
    | ErrorBoundary
    | ReceiveTask
    | CallActivity
    | Task
)
Node = Annotated[AnyNode, Field(discriminator="type")]
"""A step of the process, of the model its `type` names."""

Gateway = ExclusiveGateway | ParallelGateway | InclusiveGateway

# The model of each node type.
NODE_MODELS: dict[NodeType, type[AnyNode]] = {
    NodeType.START_EVENT: StartEvent,
    NodeType.END_EVENT: EndEvent,
    NodeType.USER_TASK: UserTask,
    NodeType.SERVICE_TASK: ServiceTask,
    NodeType.EXCLUSIVE_GATEWAY: ExclusiveGateway,
    NodeType.PARALLEL_GATEWAY: ParallelGateway,
    NodeType.INCLUSIVE_GATEWAY: InclusiveGateway,
    NodeType.TIMER: Timer,
    NodeType.ERROR_BOUNDARY: ErrorBoundary,
    NodeType.RECEIVE_TASK: ReceiveTask,
    NodeType.CALL_ACTIVITY: CallActivity,
    NodeType.TASK: Task,
}
# The nodes each kind of boundary event may be attached to.
TIMER_HOSTS = frozenset(
    {NodeType.USER_TASK, NodeType.SERVICE_TASK, NodeType.RECEIVE_TASK, NodeType.CALL_ACTIVITY}
)
ERROR_HOSTS = frozenset({NodeType.SERVICE_TASK, NodeType.CALL_ACTIVITY})
GATEWAYS = frozenset(
    {NodeType.EXCLUSIVE_GATEWAY, NodeType.PARALLEL_GATEWAY, NodeType.INCLUSIVE_GATEWAY}
)
