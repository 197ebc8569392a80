"""The process definition format (JSON), as pydantic models.

`definition_json_schema()` is the format's published JSON Schema, so the class
docstrings and field descriptions below (and those of the node models, in
`node_types`) are written for its readers. Structural rules (reachability,
gateways, boundaries, expressions) live in `validation`.
"""

from collections import deque
from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from engine.enums import NodeType
from engine.node_types import Node

N = TypeVar("N", bound=BaseModel)

# extra="forbid" so a misspelt field is reported instead of silently ignored;
# frozen because a deployed definition never changes (and the lookups below
# are built once from it).
_CONFIG = ConfigDict(extra="forbid", frozen=True)


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

    def node_of(self, node_id: str, model: type[N]) -> N:
        """The node with that id, which the caller knows to be of that model (it holds a
        token or a wait made by that node)."""
        node = self._nodes_by_id[node_id]
        if not isinstance(node, model):
            raise TypeError(f"node {node_id!r} is a {node.type}, not a {model.__name__}")
        return node

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
            if node.host_id is not None:
                boundaries.setdefault(node.host_id, []).append(node)
        return boundaries

    @cached_property
    def _flow_positions(self) -> dict[int, int]:
        # By identity: two flows may be equal (same ends) and still be two flows.
        return {id(flow): i for i, flow in enumerate(self.flows)}

    @cached_property
    def _reachable(self) -> dict[str, frozenset[str]]:
        return {}


def definition_json_schema() -> dict[str, Any]:
    """The published JSON Schema of the definition format."""
    schema = Definition.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
