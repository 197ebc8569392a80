"""That every expression of a definition compiles over variables the instance can have.

Which fields each node type takes, and which it needs, is said by its model
(`engine.node_types`) and reported by pydantic."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from engine.expressions import (
    ExpressionError,
    is_expression,
    nested_expressions,
    referenced_variables,
)
from engine.node_types import CallActivity, ServiceTask, Timer, UserTask
from engine.problems import Report

# Names a multi-instance task's expressions and its completionCondition see.
_LOOP_NAMES = frozenset({"loopCounter"})
_COUNTS = frozenset({"nrOfInstances", "nrOfCompletedInstances", "nrOfActiveInstances"})


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
        match node:
            case UserTask():
                yield from _user_task_sources(path, node)
            case ServiceTask():
                for at, source in nested_expressions(node.input, f"{path}.input"):
                    yield _Source(at, node.id, source)
                yield from _cel_map(report, node.id, f"{path}.output", node.output, {"result"})
            case Timer():
                for field, value in (("duration", node.duration), ("until", node.until)):
                    if value is not None and is_expression(value):
                        yield _Source(f"{path}.{field}", node.id, value[1:])
            case CallActivity():
                for at, source in nested_expressions(node.inputs, f"{path}.inputs"):
                    yield _Source(at, node.id, source)
                yield from _cel_map(report, node.id, f"{path}.outputs", node.outputs, None)


def _user_task_sources(path: str, node: UserTask) -> Iterator[_Source]:
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
    node_id: str,
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
                node_id,
            )
        else:
            yield _Source(
                f"{path}.{name}", node_id, source, None if extra is None else frozenset(extra)
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
    for _, node in report.parsed_nodes():
        match node:
            case UserTask():
                if node.form is not None:
                    schemas.append(node.form)
                if node.multiInstance is not None and node.multiInstance.outputCollection:
                    known.add(node.multiInstance.outputCollection)
            case ServiceTask():
                known.update(node.output or {})
                if node.action == "set" and node.output is None:
                    known.update(node.input or {})
            case CallActivity():
                known.update(node.outputs or {})
    for schema in schemas:
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            known.update(properties)
    return known
