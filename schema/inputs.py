"""Every argument of an operation is checked before any resolver runs (api/inputs.py says
what is refused and why): the variables as the client sent them and the literals in the
document. One refused value refuses the whole operation, so a document with several
mutations never applies some of them.

A subscription does not stop at a result set before execution; its arguments (global
ids and cursors) are refused where they are decoded (schema/ids.py, api/cursors.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cachetools import LRUCache
from graphql import (
    ArgumentNode,
    ExecutionResult,
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension

from api.errors import BadUserInput
from api.inputs import DEFAULT_MAX_DEPTH, check_value, float_problem, int_problem, string_problem


class InputHygiene(SchemaExtension):
    def __init__(self, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self._max_depth = max_depth

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.result is None:
            try:
                self._check(context.query, context.graphql_document, context.variables or {})
            except BadUserInput as refused:
                # A result set before execution is the answer: no resolver runs.
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            refused.message,
                            extensions={"code": refused.code, **refused.extensions},
                        )
                    ],
                )
        yield

    def _check(self, query: str | None, document: Any, variables: dict[str, Any]) -> None:
        arguments = _ANALYSED.get(query) if query is not None else None
        if arguments is None:
            arguments = _Arguments()
            visit(document, arguments)
            if query is not None:
                _ANALYSED[query] = arguments
        if arguments.problems:
            path, message = arguments.problems[0]
            raise BadUserInput(message, field=path)
        for name, value in variables.items():
            check_value(value, arguments.used_as.get(name, f"${name}"), max_depth=self._max_depth)


# What a document's arguments are depends on its text alone: walking it costs ~0.3 ms for
# an inbox page, every time, where the variables' check costs microseconds.
_ANALYSED: LRUCache[str, _Arguments] = LRUCache(maxsize=512)


class _Arguments(Visitor):
    """Where each variable is used (the argument path that names it in an error), and
    what is wrong with the literal values."""

    def __init__(self) -> None:
        super().__init__()
        self.used_as: dict[str, str] = {}
        self.problems: list[tuple[str, str]] = []

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        stack: list[tuple[ValueNode, str]] = [(node.value, node.name.value)]
        while stack:
            value, path = stack.pop()
            problem: str | None = None
            if isinstance(value, VariableNode):
                self.used_as.setdefault(value.name.value, path)
            elif isinstance(value, StringValueNode):
                problem = string_problem(value.value)
            elif isinstance(value, IntValueNode):
                problem = int_problem(int(value.value))
            elif isinstance(value, FloatValueNode):
                problem = float_problem(float(value.value))
            elif isinstance(value, ListValueNode):
                stack.extend((v, f"{path}[{i}]") for i, v in enumerate(value.values))
            elif isinstance(value, ObjectValueNode):
                stack.extend((f.value, f"{path}.{f.name.value}") for f in value.fields)
            if problem is not None:
                self.problems.append((path, f"{path}: {problem}"))
