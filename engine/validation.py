"""Full validation of a submitted definition, reporting every problem at once.

A problem names the JSON path into the submitted document and, when it
concerns one, the node, so an editor can point at both. pydantic checks each
field; `structure_checks` the graph; `node_checks` each node's fields and
expressions.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from engine.definition import Definition, Flow, Node
from engine.enums import NodeType
from engine.node_checks import check_expressions, check_fields
from engine.problems import Problem, Report
from engine.structure_checks import check_structure

__all__ = [
    "DefinitionInvalid",
    "Problem",
    "deployed_definition",
    "parse_definition",
    "validate_definition",
]


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
            problems += _run_checks(Report(*salvaged))
        return None, problems
    return definition, _run_checks(Report(definition))


def _run_checks(report: Report) -> list[Problem]:
    check_structure(report)
    check_fields(report)
    check_expressions(report)
    return report.problems


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
            if loc[2:] == ("type",) and detail["type"] == "enum":
                known = ", ".join(NodeType)
                message = f"unknown node type {detail['input']!r}; the types are {known}"
        problems.append(Problem(path.removeprefix("."), message, node_id))
    return problems


def _salvage(raw: Any) -> tuple[Definition, frozenset[int]] | None:
    """A best-effort Definition of a document pydantic rejected, with the positions of
    the nodes that were patched up, or None when its nodes and flows are too broken for
    the structural checks to mean anything.

    A node or flow that fails validation keeps only the fields the graph needs;
    its own errors are already reported.
    """
    if not isinstance(raw, Mapping):
        return None
    raw_nodes, raw_flows = raw.get("nodes"), raw.get("flows")
    if not isinstance(raw_nodes, list) or not isinstance(raw_flows, list):
        return None
    nodes: list[Node] = []
    patched: set[int] = set()
    for i, raw_node in enumerate(raw_nodes):
        node, whole = _salvage_node(raw_node)
        if node is None:
            return None
        nodes.append(node)
        if not whole:
            patched.add(i)
    flows = [flow for flow in map(_salvage_flow, raw_flows) if flow is not None]
    if len(flows) < len(raw_flows):
        return None
    variables = raw.get("variables")
    # key and name are not looked at by the structural checks.
    definition = Definition.model_construct(
        key="",
        name="",
        variables=variables if isinstance(variables, dict) else None,
        nodes=nodes,
        flows=flows,
    )
    return definition, frozenset(patched)


def _salvage_node(raw: Any) -> tuple[Node | None, bool]:
    """The node, and whether it is whole (valid) rather than patched up."""
    try:
        return Node.model_validate(raw), True
    except ValidationError:
        pass
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        return None, False
    if raw.get("type") not in tuple(NodeType):
        return None, False
    attached = raw.get("attachedTo")
    # attachedTo joins a boundary event to the graph.
    return Node.model_construct(
        id=raw["id"],
        type=NodeType(raw["type"]),
        attachedTo=attached if isinstance(attached, str) else None,
    ), False


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


_DEPLOYED: dict[str, Definition] = {}
_DEPLOYED_LIMIT = 1024


def deployed_definition(definition_id: str, spec: Mapping[str, Any]) -> Definition:
    """The model of a deployed definition, parsed once per process and kept by its id.

    A deployed version never changes, and parsing a large one costs milliseconds that a
    worker would otherwise pay for every workflow it builds or replays. Definitions are
    frozen, so one model serves every instance; parsing is deterministic, so a cache hit
    and a fresh parse give the workflow the same thing."""
    found = _DEPLOYED.get(definition_id)
    if found is None:
        found = parse_definition(spec)
        if len(_DEPLOYED) >= _DEPLOYED_LIMIT:
            _DEPLOYED.pop(next(iter(_DEPLOYED)))
        _DEPLOYED[definition_id] = found
    return found
