"""The rules of each node's own fields: which types take them, which types need them,
and that every expression compiles over variables the instance can have."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from engine.definition import REQUIRED_FIELDS, TYPE_FIELDS, Node
from engine.enums import NodeType
from engine.expressions import (
    ExpressionError,
    is_expression,
    nested_expressions,
    referenced_variables,
)
from engine.problems import Report

# Every type-specific field, with the types that take it.
_FIELD_TYPES: dict[str, list[NodeType]] = {}
for _type, _fields in TYPE_FIELDS.items():
    for _field in _fields:
        _FIELD_TYPES.setdefault(_field, []).append(_type)

# Names a multi-instance task's expressions and its completionCondition see.
_LOOP_NAMES = frozenset({"loopCounter"})
_COUNTS = frozenset({"nrOfInstances", "nrOfCompletedInstances", "nrOfActiveInstances"})


def check_fields(report: Report) -> None:
    for i, node in report.parsed_nodes():
        _foreign_fields(report, i, node)
        for field in REQUIRED_FIELDS.get(node.type, ()):
            if getattr(node, field) is None:
                report.add(f"nodes[{i}].{field}", f"{node.type} needs {field!r}", node.id)
        if node.type is NodeType.TIMER:
            _timer_fields(report, i, node)


def _foreign_fields(report: Report, i: int, node: Node) -> None:
    for field, types in _FIELD_TYPES.items():
        if node.type in types:
            continue
        # Compared with the default, not looked up in model_fields_set: a dumped
        # definition spells every default out.
        default = Node.model_fields[field].get_default(call_default_factory=True)
        if getattr(node, field) != default:
            names = " and ".join(types)
            report.add(f"nodes[{i}].{field}", f"{field!r} applies to {names} nodes only", node.id)


def _timer_fields(report: Report, i: int, node: Node) -> None:
    if node.duration is None and node.until is None:
        report.add(f"nodes[{i}]", "a timer needs 'duration' or 'until'", node.id)
    elif node.duration is not None and node.until is not None:
        report.add(f"nodes[{i}].until", "a timer takes 'duration' or 'until', not both", node.id)
    if node.interrupting is not None and node.attachedTo is None:
        report.add(
            f"nodes[{i}].interrupting",
            "'interrupting' applies to boundary timers (with attachedTo) only",
            node.id,
        )


@dataclass(frozen=True)
class _Source:
    path: str
    node_id: str | None
    source: str
    # Names the expression sees besides the instance variables; None when its names are
    # not the instance's at all (a call activity's outputs read the child's variables).
    extra: frozenset[str] | None = frozenset()


def check_expressions(report: Report) -> None:
    known = _known_variables(report)
    for found in _sources(report):
        try:
            names = referenced_variables(found.source)
        except ExpressionError as error:
            report.add(found.path, str(error), found.node_id)
            continue
        if known is None or found.extra is None:
            continue
        for name in sorted(names - known - found.extra):
            report.add(found.path, f"unknown variable {name!r}", found.node_id)


def _sources(report: Report) -> Iterator[_Source]:
    """Every expression in the definition."""
    for k, flow in enumerate(report.definition.flows):
        if flow.condition is not None:
            yield _Source(f"flows[{k}].condition", report.source_id(flow), flow.condition)
    for i, node in report.parsed_nodes():
        path = f"nodes[{i}]"
        match node.type:
            case NodeType.USER_TASK:
                yield from _user_task_sources(path, node)
            case NodeType.SERVICE_TASK:
                for at, source in nested_expressions(node.input, f"{path}.input"):
                    yield _Source(at, node.id, source)
                yield from _cel_map(report, node, f"{path}.output", node.output, {"result"})
            case NodeType.TIMER:
                for field in ("duration", "until"):
                    value = getattr(node, field)
                    if is_expression(value):
                        yield _Source(f"{path}.{field}", node.id, value[1:])
            case NodeType.CALL_ACTIVITY:
                for at, source in nested_expressions(node.inputs, f"{path}.inputs"):
                    yield _Source(at, node.id, source)
                yield from _cel_map(report, node, f"{path}.outputs", node.outputs, None)


def _user_task_sources(path: str, node: Node) -> Iterator[_Source]:
    loop = node.multiInstance
    extra: set[str] = set()
    if loop is not None:
        extra = set(_LOOP_NAMES) | ({loop.elementVariable} if loop.elementVariable else set())
    fields: list[tuple[str, object]] = [
        ("assignee", node.assignee),
        ("priority", node.priority),
        ("due", node.due),
    ]
    fields += [(f"candidateUsers[{j}]", v) for j, v in enumerate(node.candidateUsers)]
    fields += [(f"candidateGroups[{j}]", v) for j, v in enumerate(node.candidateGroups)]
    for field, value in fields:
        if isinstance(value, str) and is_expression(value):
            yield _Source(f"{path}.{field}", node.id, value[1:], frozenset(extra))
    if loop is None:
        return
    if isinstance(loop.collection, str):
        yield _Source(f"{path}.multiInstance.collection", node.id, loop.collection[1:])
    if loop.completionCondition is not None:
        counts = set(_COUNTS) | ({loop.outputCollection} if loop.outputCollection else set())
        yield _Source(
            f"{path}.multiInstance.completionCondition",
            node.id,
            loop.completionCondition,
            frozenset(counts),
        )


def _cel_map(
    report: Report,
    node: Node,
    path: str,
    mapping: Mapping[str, str] | None,
    extra: set[str] | None,
) -> Iterator[_Source]:
    """The values of an output mapping: always CEL, so a leading `=` is a mistake worth
    naming rather than CEL's syntax error."""
    for name, source in (mapping or {}).items():
        if source.startswith("="):
            report.add(
                f"{path}.{name}",
                "an output mapping is CEL without a leading '='",
                node.id,
            )
        else:
            yield _Source(
                f"{path}.{name}", node.id, source, None if extra is None else frozenset(extra)
            )


def _known_variables(report: Report) -> set[str] | None:
    """Names an expression may read, or None when any name may be supplied.

    Only a `variables` schema that closes its properties (additionalProperties:
    false) declares them all: an open one lets an instance start with names it
    does not list, as DESIGN.md's leave_request does with `manager`. Besides those,
    an instance gets the variables its nodes set: form fields, service outputs (a
    `set` action's input keys), call activity outputs and output collections. A
    message's variables are not known in advance, so a closed schema lists them.
    """
    variables = report.definition.variables
    if variables is None or variables.get("additionalProperties") is not False:
        return None
    known = {"initiator"}  # the engine adds it to every evaluation
    schemas = [variables]
    for node in report.definition.nodes:
        if node.form is not None:
            schemas.append(node.form)
        known.update(node.output or {})
        known.update(node.outputs or {})
        if node.action == "set" and node.output is None:
            known.update(node.input or {})
        if node.multiInstance is not None and node.multiInstance.outputCollection:
            known.add(node.multiInstance.outputCollection)
    for schema in schemas:
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            known.update(properties)
    return known
