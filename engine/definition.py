"""The process definition format (JSON), as pydantic models.

`definition_json_schema()` is the format's published JSON Schema, so the class
docstrings and field descriptions below are written for its readers.
Structural rules (reachability, gateways, boundaries, expressions) live in
`validation`.
"""

from collections import deque
from functools import cached_property
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from engine.durations import check_duration
from engine.enums import NodeType
from engine.expressions import is_expression
from engine.retries import Retry

# extra="forbid" so a misspelt field is reported instead of silently ignored;
# frozen because a deployed definition never changes (and the lookups below
# are built once from it).
_CONFIG = ConfigDict(extra="forbid", frozen=True)
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

# The fields each node type takes besides id, type, name and documentation.
TYPE_FIELDS: dict[NodeType, tuple[str, ...]] = {
    NodeType.USER_TASK: (
        "assignee",
        "candidateUsers",
        "candidateGroups",
        "priority",
        "due",
        "form",
        "multiInstance",
    ),
    NodeType.SERVICE_TASK: ("action", "input", "output", "retry", "timeout"),
    NodeType.TIMER: ("duration", "until", "attachedTo", "interrupting"),
    NodeType.ERROR_BOUNDARY: ("attachedTo", "errorCode"),
    NodeType.RECEIVE_TASK: ("message",),
    NodeType.CALL_ACTIVITY: ("calledElement", "version", "inputs", "outputs"),
}
# Of those, the ones a node of the type cannot do without.
REQUIRED_FIELDS: dict[NodeType, tuple[str, ...]] = {
    NodeType.SERVICE_TASK: ("action",),
    NodeType.ERROR_BOUNDARY: ("attachedTo",),
    NodeType.RECEIVE_TASK: ("message",),
    NodeType.CALL_ACTIVITY: ("calledElement",),
}
# The nodes each kind of boundary event may be attached to.
TIMER_HOSTS = frozenset(
    {NodeType.USER_TASK, NodeType.SERVICE_TASK, NodeType.RECEIVE_TASK, NodeType.CALL_ACTIVITY}
)
ERROR_HOSTS = frozenset({NodeType.SERVICE_TASK, NodeType.CALL_ACTIVITY})
GATEWAYS = frozenset(
    {NodeType.EXCLUSIVE_GATEWAY, NodeType.PARALLEL_GATEWAY, NodeType.INCLUSIVE_GATEWAY}
)


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


class Node(BaseModel):
    """A step of the process. Each field past `documentation` applies to the node types
    its description names."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra=lambda schema: _type_rules(schema)
    )

    id: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$",
        description="Unique within the definition; flows refer to nodes by it.",
    )
    type: NodeType = Field(description="What the node does.")
    name: str | None = Field(default=None, description="Shown to people; defaults to the id.")
    assignee: str | None = Field(
        default=None,
        description="userTask: user the task is assigned to, or an `=expression` returning one.",
    )
    candidateUsers: list[str] = Field(
        default_factory=list,
        description="userTask: users who may claim the task; each entry may be an "
        "`=expression` returning a user or a list of users.",
    )
    candidateGroups: list[str] = Field(
        default_factory=list,
        description="userTask: groups whose members may claim the task; each entry may be "
        "an `=expression` returning a group or a list of groups.",
    )
    priority: StrictInt | str = Field(
        default=50,
        description="userTask: task priority (an integer, higher is more urgent), or an "
        "`=expression` returning one.",
    )
    due: str | None = Field(
        default=None,
        description="userTask: time from creation until the task is due, as an ISO 8601 "
        "duration (`P2D`, `PT4H`), or an `=expression` returning a duration or a timestamp.",
    )
    form: dict[str, Any] | None = Field(
        default=None,
        description="userTask: JSON Schema of the variables the task's completion submits.",
    )
    multiInstance: MultiInstance | None = Field(
        default=None, description="userTask: one task per element of a collection."
    )
    action: str | None = Field(
        default=None,
        min_length=1,
        description="serviceTask (required): the action to run: `http`, `set`, `log`, or "
        "one a deployment registered.",
    )
    input: dict[str, Any] | None = Field(
        default=None,
        description="serviceTask: the action's arguments; strings starting with `=` are "
        "evaluated, also inside nested objects and lists.",
    )
    output: dict[str, str] | None = Field(
        default=None,
        description="serviceTask: variable name -> CEL expression (no leading `=`) over "
        "`result` (the action's return value) and the variables. Without it, a `set` "
        "action's result is merged into the variables and other results are ignored.",
    )
    retry: Retry | None = Field(
        default=None,
        description="serviceTask: retry policy of the action (default: 3 attempts, 1 s, "
        "backoff 2, at most 1 min apart).",
    )
    timeout: str | None = Field(
        default=None,
        description="serviceTask: longest time one attempt may take (ISO 8601 duration).",
    )
    duration: str | None = Field(
        default=None,
        description="timer: how long to wait, as an ISO 8601 duration or an `=expression` "
        "returning one. A timer has either `duration` or `until`.",
    )
    until: str | None = Field(
        default=None,
        description="timer: an `=expression` returning the RFC 3339 timestamp to wait for.",
    )
    attachedTo: str | None = Field(
        default=None,
        description="timer, errorBoundary: id of the task the boundary event watches. A "
        "timer with it is a boundary timer (on a userTask, serviceTask, receiveTask or "
        "callActivity); an errorBoundary needs it (on a serviceTask or callActivity). "
        "Boundary events have no incoming flow and exactly one outgoing flow.",
    )
    interrupting: bool | None = Field(
        default=None,
        description="timer with attachedTo: whether firing cancels the task (default true) "
        "or leaves it open while a new path starts from the timer.",
    )
    errorCode: str | None = Field(
        default=None,
        description="errorBoundary: the error code it catches; without it, any failure.",
    )
    message: str | None = Field(
        default=None, min_length=1, description="receiveTask (required): the message awaited."
    )
    calledElement: str | None = Field(
        default=None,
        min_length=1,
        description="callActivity (required): key of the definition run as a child instance.",
    )
    version: StrictInt | None = Field(
        default=None,
        ge=1,
        description="callActivity: version of the called definition; default the latest.",
    )
    inputs: dict[str, Any] | None = Field(
        default=None,
        description="callActivity: child variable -> value, where strings starting with "
        "`=` are expressions over the parent's variables (also nested); default: all of "
        "the parent's variables.",
    )
    outputs: dict[str, str] | None = Field(
        default=None,
        description="callActivity: parent variable -> CEL expression (no leading `=`) over "
        "the child's final variables; default: nothing copied back.",
    )
    documentation: str | None = Field(default=None, description="Free text for people.")

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

    @field_validator("due", "duration")
    @classmethod
    def _is_duration_or_expression(cls, value: str | None) -> str | None:
        return check_duration(value)

    @field_validator("timeout")
    @classmethod
    def _timeout_is_positive_duration(cls, value: str | None) -> str | None:
        if is_expression(value):
            raise ValueError("timeout is a literal ISO 8601 duration")
        return check_duration(value, positive=True)

    @field_validator("until")
    @classmethod
    def _until_is_expression(cls, value: str | None) -> str | None:
        if value is not None and not is_expression(value):
            raise ValueError("until must be an '=expression' returning an RFC 3339 timestamp")
        return value

    @property
    def is_boundary(self) -> bool:
        """A boundary event: started with the node it is attached to, never by a flow."""
        return self.type is NodeType.ERROR_BOUNDARY or (
            self.type is NodeType.TIMER and self.attachedTo is not None
        )

    @property
    def interrupts(self) -> bool:
        """Whether a boundary event cancels its task (an errorBoundary always does)."""
        return self.interrupting is not False


def _type_rules(schema: dict[str, Any]) -> None:
    """Add to the published schema what each node type requires, so an editor can say
    so before validation does."""
    rules: list[dict[str, Any]] = [
        {
            "if": {"properties": {"type": {"const": str(node_type)}}},
            "then": {"required": list(fields)},
        }
        for node_type, fields in REQUIRED_FIELDS.items()
    ]
    rules.append(
        {
            "if": {"properties": {"type": {"const": str(NodeType.TIMER)}}},
            "then": {"oneOf": [{"required": ["duration"]}, {"required": ["until"]}]},
        }
    )
    schema["allOf"] = rules


class Flow(BaseModel):
    """A sequence flow: when the `from` node is left, the token moves to `to`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: str = Field(alias="from", description="Id of the node the flow leaves.")
    to: str = Field(description="Id of the node the flow enters.")
    condition: str | None = Field(
        default=None,
        description="CEL expression over the instance variables (no leading `=`); only "
        "on flows leaving an exclusiveGateway (which takes the first flow whose condition "
        "is true) or an inclusiveGateway (which takes every such flow).",
    )
    default: bool = Field(
        default=False,
        description="Taken by an exclusive or inclusive gateway when no condition is true.",
    )
    id: str | None = Field(default=None, description="Optional name for the flow.")


class Audience(BaseModel):
    """People named by username and groups by key."""

    model_config = _CONFIG

    users: list[str] = Field(default=[], description="Usernames.")
    groups: list[str] = Field(default=[], description="Group keys.")


class Definition(BaseModel):
    """A Flowdesk process definition: nodes joined by flows."""

    model_config = _CONFIG

    key: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_-]*$",
        description="Stable identifier; deploying the same key again makes a new version.",
    )
    name: str = Field(description="Shown to people.")
    description: str | None = Field(default=None, description="Free text for people.")
    variables: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema of the variables an instance is started with.",
    )
    nodes: list[Node] = Field(description="The steps; exactly one is a startEvent.")
    flows: list[Flow] = Field(description="The sequence flows between the nodes.")
    startableBy: Audience | None = Field(
        default=None,
        description="Who may start it (with instance:start), besides the key's owners and "
        "admins; absent: whoever may read it.",
    )
    visibleTo: Audience | None = Field(
        default=None,
        description="Who may see every instance of it, whoever started them. With "
        "startableBy or visibleTo set, only the people they name (and the key's owners "
        "and admins) may read the definition at all.",
    )

    def node(self, node_id: str) -> Node:
        return self._nodes_by_id[node_id]

    def outgoing(self, node_id: str) -> list[Flow]:
        """The flows leaving a node, in definition order (gateways test them in it)."""
        return list(self._flows_from.get(node_id, ()))

    def incoming(self, node_id: str) -> list[Flow]:
        return list(self._flows_to.get(node_id, ()))

    def boundaries(self, host_id: str) -> list[Node]:
        """The boundary events attached to a node, in definition order."""
        return list(self._boundaries.get(host_id, ()))

    def flow_index(self, flow: Flow) -> int:
        """Position of a flow in `flows`: how a token remembers the flow it came by."""
        return self._flow_positions[id(flow)]

    def successors(self, node_id: str) -> list[str]:
        """Where a token can go next: along the node's flows, or to a boundary event."""
        after = [flow.to for flow in self.outgoing(node_id)]
        return after + [boundary.id for boundary in self.boundaries(node_id)]

    def reachable(self, node_id: str) -> frozenset[str]:
        """Every node a token on `node_id` may still enter (itself only if on a cycle)."""
        found = self._reachable.get(node_id)
        if found is None:
            seen: set[str] = set()
            queue = deque(self.successors(node_id))
            while queue:
                next_id = queue.popleft()
                if next_id in self._nodes_by_id and next_id not in seen:
                    seen.add(next_id)
                    queue.extend(self.successors(next_id))
            found = self._reachable[node_id] = frozenset(seen)
        return found

    @property
    def start_node(self) -> Node:
        return next(node for node in self.nodes if node.type is NodeType.START_EVENT)

    # Built on first use rather than in model_post_init so that definitions made
    # with model_construct (validation's best-effort copy) get them too. The
    # interpreter asks on every step.
    @cached_property
    def _nodes_by_id(self) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        for node in self.nodes:
            nodes.setdefault(node.id, node)  # the first wins if ids repeat
        return nodes

    @cached_property
    def _flows_from(self) -> dict[str, list[Flow]]:
        flows: dict[str, list[Flow]] = {}
        for flow in self.flows:
            flows.setdefault(flow.from_, []).append(flow)
        return flows

    @cached_property
    def _flows_to(self) -> dict[str, list[Flow]]:
        flows: dict[str, list[Flow]] = {}
        for flow in self.flows:
            flows.setdefault(flow.to, []).append(flow)
        return flows

    @cached_property
    def _boundaries(self) -> dict[str, list[Node]]:
        boundaries: dict[str, list[Node]] = {}
        for node in self._nodes_by_id.values():
            if node.is_boundary and node.attachedTo is not None:
                boundaries.setdefault(node.attachedTo, []).append(node)
        return boundaries

    @cached_property
    def _flow_positions(self) -> dict[int, int]:
        # By identity: two flows may be equal (same ends) and still be two flows.
        return {id(flow): i for i, flow in enumerate(self.flows)}

    @cached_property
    def _reachable(self) -> dict[str, frozenset[str]]:
        return {}


def called_keys(definition: Definition) -> set[str]:
    """Keys of the definitions the call activities start; the deployer checks they exist."""
    return {
        node.calledElement
        for node in definition.nodes
        if node.type is NodeType.CALL_ACTIVITY and node.calledElement is not None
    }


def definition_json_schema() -> dict[str, Any]:
    """The published JSON Schema of the definition format."""
    schema = Definition.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
