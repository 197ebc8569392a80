"""Full validation of a submitted definition, reporting every problem at once.

A problem names the JSON path into the submitted document and, when it
concerns one, the node, so an editor can point at both. pydantic checks each
field (each node type's model says which it takes); `structure_checks` the graph;
`node_checks` the expressions. A document pydantic rejects is salvaged as far as it
can be, so that the other checks still run on it.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from engine.definition import Definition
from engine.node_checks import check_expressions
from engine.problems import Problem, Report
from engine.pydantic_problems import problems_from
from engine.salvage import salvage
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
        problems = problems_from(error, raw)
        # Check the rest of the document too, so one mistake does not hide the others.
        report = salvage(raw)
        if report is not None:
            problems += _run_checks(report)
        return None, problems
    return definition, _run_checks(Report(definition))


def _run_checks(report: Report) -> list[Problem]:
    if report.graph_complete:
        check_structure(report)
    check_expressions(report)
    return report.problems


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
