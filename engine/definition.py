"""The process definition format (JSON), as pydantic models.

`Definition.model_json_schema()` is the format's published JSON Schema, so the
class docstrings and field descriptions below are written for its readers.
Structural rules (reachability, gateways, expressions) live in `validation`.
"""

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

from engine.durations import parse_duration
from engine.enums import NodeType
from engine.expressions import is_expression

# extra="forbid" so a misspelt field is reported instead of silently ignored;
# frozen because a deployed definition never changes (and the lookups below
# are built once from it).
_CONFIG = ConfigDict(extra="forbid", frozen=True)


class Node(BaseModel):
    """A step of the process. The user task fields apply to `userTask` nodes only."""

    model_config = _CONFIG

    id: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$",
        description="Unique within the definition; flows refer to nodes by it.",
    )
    type: NodeType = Field(description="What the node does.")
    name: str | None = Field(default=None, description="Shown to people; defaults to the id.")
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
        description="Task priority (an integer, higher is more urgent), or an "
        "`=expression` returning one.",
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

    @field_validator("due")
    @classmethod
    def _due_is_duration_or_expression(cls, value: str | None) -> str | None:
        if value is not None and not is_expression(value):
            parse_duration(value)
        return value


class Flow(BaseModel):
    """A sequence flow: when the `from` node is left, the token moves to `to`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: str = Field(alias="from", description="Id of the node the flow leaves.")
    to: str = Field(description="Id of the node the flow enters.")
    condition: str | None = Field(
        default=None,
        description="CEL expression over the instance variables (no leading `=`); only "
        "on flows leaving an exclusiveGateway, which takes the first flow whose "
        "condition is true.",
    )
    default: bool = Field(
        default=False,
        description="Taken by an exclusiveGateway when no condition is true.",
    )
    id: str | None = Field(default=None, description="Optional name for the flow.")


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

    def node(self, node_id: str) -> Node:
        return self._nodes_by_id[node_id]

    def outgoing(self, node_id: str) -> list[Flow]:
        """The flows leaving a node, in definition order (gateways test them in it)."""
        return list(self._flows_from.get(node_id, ()))

    def incoming(self, node_id: str) -> list[Flow]:
        return list(self._flows_to.get(node_id, ()))

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
