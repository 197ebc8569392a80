"""Full validation of a submitted definition, reporting every problem at once.

A problem names the JSON path into the submitted document and, when it
concerns one, the node, so an editor can point at both.
"""

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from engine.definition import Definition, Flow, Node
from engine.enums import NodeType
from engine.expressions import ExpressionError, is_expression, referenced_variables

# Fields that only mean something on a user task.
_USER_TASK_FIELDS = ("assignee", "candidateUsers", "candidateGroups", "priority", "due", "form")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    node_id: str | None = None

    def __str__(self) -> str:
        return f"{self.path or '(definition)'}: {self.message}"


class DefinitionInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("definition is invalid:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


def parse_definition(raw: Mapping[str, Any]) -> Definition:
    """Parse and fully validate a definition; raise DefinitionInvalid listing every problem."""
    definition, problems = _check(raw)
    if definition is None or problems:
        raise DefinitionInvalid(problems)
    return definition


def validate_definition(raw: Mapping[str, Any]) -> list[Problem]:
    """Every problem of a definition; an empty list means it can be deployed."""
    return _check(raw)[1]


def _check(raw: Mapping[str, Any]) -> tuple[Definition | None, list[Problem]]:
    try:
        definition = Definition.model_validate(raw)
    except ValidationError as error:
        problems = _from_pydantic(error, raw)
        # Check the rest of the document too, so one typo does not hide the others.
        salvaged = _salvage(raw)
        if salvaged is not None:
            problems += _Checks(salvaged).run()
        return None, problems
    return definition, _Checks(definition).run()


def _from_pydantic(error: ValidationError, raw: Any) -> list[Problem]:
    problems = []
    for detail in error.errors():
        loc = detail["loc"]
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
        # Our validators raise ValueError, which pydantic prefixes with "Value error, ".
        cause = detail.get("ctx", {}).get("error")
        message = str(cause) if detail["type"] == "value_error" and cause else detail["msg"]
        node_id = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            node = raw["nodes"][loc[1]]
            if isinstance(node, Mapping) and isinstance(node.get("id"), str):
                node_id = node["id"]
        problems.append(Problem(path.removeprefix("."), message, node_id))
    return problems


def _salvage(raw: Any) -> Definition | None:
    """A best-effort Definition of a document pydantic rejected, or None when its
    nodes and flows are too broken for the structural checks to mean anything.

    A node or flow that fails validation keeps only the fields the graph needs;
    its own errors are already reported.
    """
    if not isinstance(raw, Mapping):
        return None
    raw_nodes, raw_flows = raw.get("nodes"), raw.get("flows")
    if not isinstance(raw_nodes, list) or not isinstance(raw_flows, list):
        return None
    nodes = [node for node in map(_salvage_node, raw_nodes) if node is not None]
    flows = [flow for flow in map(_salvage_flow, raw_flows) if flow is not None]
    if len(nodes) < len(raw_nodes) or len(flows) < len(raw_flows):
        return None
    variables = raw.get("variables")
    # key and name are not looked at by the structural checks.
    return Definition.model_construct(
        key="",
        name="",
        variables=variables if isinstance(variables, dict) else None,
        nodes=nodes,
        flows=flows,
    )


def _salvage_node(raw: Any) -> Node | None:
    try:
        return Node.model_validate(raw)
    except ValidationError:
        pass
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        return None
    if raw.get("type") not in tuple(NodeType):
        return None
    return Node.model_construct(id=raw["id"], type=NodeType(raw["type"]))


def _salvage_flow(raw: Any) -> Flow | None:
    try:
        return Flow.model_validate(raw)
    except ValidationError:
        pass
    if not isinstance(raw, Mapping):
        return None
    source, target = raw.get("from"), raw.get("to")
    if not isinstance(source, str) or not isinstance(target, str):
        return None
    return Flow.model_construct(from_=source, to=target)


class _Checks:
    """The structural rules, each adding to one list of problems."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self.problems: list[Problem] = []
        # Position of the first node with each id: paths point at it.
        self.position: dict[str, int] = {}
        for i, node in enumerate(definition.nodes):
            self.position.setdefault(node.id, i)

    def run(self) -> list[Problem]:
        self._unique_ids()
        self._start_and_end()
        self._user_task_fields()
        self._flow_ends()
        self._outgoing_flows()
        self._flow_conditions()
        self._reachability()
        self._expressions()
        return self.problems

    def _add(self, path: str, message: str, node_id: str | None = None) -> None:
        self.problems.append(Problem(path, message, node_id))

    def _nodes(self) -> Iterator[tuple[int, Node]]:
        """Each node once: a repeated id is reported, not checked twice."""
        for i, node in enumerate(self.definition.nodes):
            if self.position[node.id] == i:
                yield i, node

    def _known(self, node_id: str) -> Node | None:
        return self.definition.node(node_id) if node_id in self.position else None

    def _unique_ids(self) -> None:
        for i, node in enumerate(self.definition.nodes):
            first = self.position[node.id]
            if first != i:
                self._add(
                    f"nodes[{i}].id", f"duplicate node id {node.id!r} (nodes[{first}])", node.id
                )
        flow_ids: dict[str, int] = {}
        for k, flow in enumerate(self.definition.flows):
            if flow.id is None:
                continue
            if flow.id in flow_ids:
                self._add(
                    f"flows[{k}].id",
                    f"duplicate flow id {flow.id!r} (flows[{flow_ids[flow.id]}])",
                    self._source_id(flow),
                )
            flow_ids.setdefault(flow.id, k)

    def _start_and_end(self) -> None:
        starts = self._positions_of(NodeType.START_EVENT)
        if not starts:
            self._add("nodes", "no startEvent: a definition needs exactly one")
        for i in starts[1:]:
            node = self.definition.nodes[i]
            first = self.definition.nodes[starts[0]].id
            self._add(f"nodes[{i}].type", f"a second startEvent (the first is {first!r})", node.id)
        if not self._positions_of(NodeType.END_EVENT):
            self._add("nodes", "no endEvent: a definition needs at least one")

    def _user_task_fields(self) -> None:
        for i, node in self._nodes():
            if node.type is NodeType.USER_TASK:
                continue
            for field in _USER_TASK_FIELDS:
                # Compared with the default, not looked up in model_fields_set: a
                # dumped definition spells every default out.
                default = Node.model_fields[field].get_default(call_default_factory=True)
                if getattr(node, field) != default:
                    self._add(
                        f"nodes[{i}].{field}", f"{field!r} applies to userTask nodes only", node.id
                    )

    def _flow_ends(self) -> None:
        for k, flow in enumerate(self.definition.flows):
            source, target = self._known(flow.from_), self._known(flow.to)
            if source is None:
                self._add(f"flows[{k}].from", f"unknown node {flow.from_!r}")
            elif source.type is NodeType.END_EVENT:
                self._add(f"flows[{k}].from", "an endEvent cannot have outgoing flows", source.id)
            if target is None:
                self._add(f"flows[{k}].to", f"unknown node {flow.to!r}", self._source_id(flow))
            elif target.type is NodeType.START_EVENT:
                self._add(f"flows[{k}].to", "a startEvent cannot have incoming flows", target.id)

    def _outgoing_flows(self) -> None:
        for i, node in self._nodes():
            count = len(self.definition.outgoing(node.id))
            if node.type is NodeType.END_EVENT:
                continue  # its outgoing flows are reported one by one
            if count == 0:
                what = "gateway" if node.type is NodeType.EXCLUSIVE_GATEWAY else node.type
                self._add(f"nodes[{i}]", f"{what} has no outgoing flow", node.id)
            elif count > 1 and node.type is not NodeType.EXCLUSIVE_GATEWAY:
                self._add(
                    f"nodes[{i}]",
                    f"{node.type} has {count} outgoing flows; only a gateway may branch",
                    node.id,
                )

    def _flow_conditions(self) -> None:
        leaving: dict[str, list[tuple[int, Flow]]] = {}
        for k, flow in enumerate(self.definition.flows):
            source = self._known(flow.from_)
            if source is None:
                continue
            if source.type is NodeType.EXCLUSIVE_GATEWAY:
                leaving.setdefault(source.id, []).append((k, flow))
                continue
            if flow.condition is not None:
                self._add(
                    f"flows[{k}].condition",
                    "only a flow leaving an exclusiveGateway takes a condition",
                    source.id,
                )
            if flow.default:
                self._add(
                    f"flows[{k}].default",
                    "only a flow leaving an exclusiveGateway can be the default",
                    source.id,
                )
        for gateway, flows in leaving.items():
            self._gateway_flows(gateway, flows)

    def _gateway_flows(self, gateway: str, flows: list[tuple[int, Flow]]) -> None:
        defaults = [k for k, flow in flows if flow.default]
        for k in defaults[1:]:
            self._add(
                f"flows[{k}].default",
                f"gateway {gateway!r} already has a default flow (flows[{defaults[0]}])",
                gateway,
            )
        for k, flow in flows:
            if flow.default and flow.condition is not None:
                self._add(f"flows[{k}].condition", "a default flow takes no condition", gateway)
            elif not flow.default and flow.condition is None and len(flows) > 1:
                self._add(
                    f"flows[{k}]",
                    f"flow to {flow.to!r} needs a condition or default: true, "
                    f"since gateway {gateway!r} has {len(flows)} outgoing flows",
                    gateway,
                )

    def _reachability(self) -> None:
        starts = self._positions_of(NodeType.START_EVENT)
        if not starts:
            return  # already reported; everything would be "unreachable"
        # From every start event: a second one is reported already, not as unreachable.
        reached = self._closure([self.definition.nodes[i].id for i in starts], forward=True)
        for i, node in self._nodes():
            if node.id not in reached:
                self._add(f"nodes[{i}]", "unreachable node: no path leads to it", node.id)
        ends = [self.definition.nodes[i].id for i in self._positions_of(NodeType.END_EVENT)]
        if not ends:
            return
        finishing = self._closure(ends, forward=False)
        for i, node in self._nodes():
            # A node without outgoing flows, or one never reached, has its own problem.
            if (
                node.id in reached
                and node.id not in finishing
                and self.definition.outgoing(node.id)
            ):
                self._add(f"nodes[{i}]", "no path to an end event", node.id)

    def _closure(self, roots: Iterable[str], *, forward: bool) -> set[str]:
        """Node ids reachable from roots along the flows (or against them)."""
        seen = set(roots)
        queue = deque(seen)
        while queue:
            node_id = queue.popleft()
            if forward:
                nexts = [flow.to for flow in self.definition.outgoing(node_id)]
            else:
                nexts = [flow.from_ for flow in self.definition.incoming(node_id)]
            for next_id in nexts:
                if next_id in self.position and next_id not in seen:
                    seen.add(next_id)
                    queue.append(next_id)
        return seen

    def _expressions(self) -> None:
        known = self._known_variables()
        for path, node_id, source in self._expression_sources():
            try:
                names = referenced_variables(source)
            except ExpressionError as error:
                self._add(path, str(error), node_id)
                continue
            if known is None:
                continue
            for name in sorted(names - known):
                self._add(path, f"unknown variable {name!r}", node_id)

    def _expression_sources(self) -> Iterator[tuple[str, str | None, str]]:
        """(path, node id, CEL source) of every expression in the definition."""
        for k, flow in enumerate(self.definition.flows):
            if flow.condition is not None:
                yield f"flows[{k}].condition", self._source_id(flow), flow.condition
        for i, node in self._nodes():
            fields: list[tuple[str, object]] = [
                ("assignee", node.assignee),
                ("priority", node.priority),
                ("due", node.due),
            ]
            fields += [(f"candidateUsers[{j}]", v) for j, v in enumerate(node.candidateUsers)]
            fields += [(f"candidateGroups[{j}]", v) for j, v in enumerate(node.candidateGroups)]
            for field, value in fields:
                if isinstance(value, str) and is_expression(value):
                    yield f"nodes[{i}].{field}", node.id, value[1:]

    def _known_variables(self) -> set[str] | None:
        """Names an expression may read, or None when any name may be supplied.

        Only a `variables` schema that closes its properties (additionalProperties:
        false) declares them all: an open one lets an instance start with names it
        does not list, as DESIGN.md's leave_request does with `manager`.
        """
        variables = self.definition.variables
        if variables is None or variables.get("additionalProperties") is not False:
            return None
        schemas = [variables]
        schemas += [node.form for node in self.definition.nodes if node.form is not None]
        known = {"initiator"}  # the engine adds it to every evaluation
        for schema in schemas:
            properties = schema.get("properties")
            if isinstance(properties, Mapping):
                known.update(properties)
        return known

    def _positions_of(self, node_type: NodeType) -> list[int]:
        return [i for i, node in self._nodes() if node.type is node_type]

    def _source_id(self, flow: Flow) -> str | None:
        return flow.from_ if flow.from_ in self.position else None
