"""CEL expressions over the instance variables.

A string that starts with `=` is an expression, anything else a literal; flow
conditions are always expressions and are written without the `=`.
"""

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import cel
from pydantic import TypeAdapter


class ExpressionError(Exception):
    """An expression does not compile or failed to evaluate; the message names it."""


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> cel.Program:
    """Compile once per process: definitions are small and reused by every instance."""
    try:
        return cel.compile(source)
    except ValueError as error:
        # cel's message already quotes the expression and points at the column.
        raise ExpressionError(str(error)) from None


def evaluate(source: str, variables: Mapping[str, Any]) -> Any:
    program = compile_expression(source)
    try:
        return program.execute(dict(variables))
    except Exception as error:
        # cel raises RuntimeError, TypeError, KeyError, OverflowError,
        # ZeroDivisionError... any of them is the expression's failure, not ours.
        raise ExpressionError(f"expression {source!r} failed: {error}") from None


def is_expression(value: object) -> bool:
    return isinstance(value, str) and value.startswith("=")


def resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """Evaluate an `=expression`; return any other value as the literal it is."""
    if is_expression(value):
        return evaluate(value[1:], variables)
    return value


def resolve_nested(value: Any, variables: Mapping[str, Any]) -> Any:
    """`resolve` every string inside objects and lists too, as service `input` and call
    activity `inputs` are written; the result is plain JSON."""
    if isinstance(value, Mapping):
        return {key: resolve_nested(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_nested(item, variables) for item in value]
    return plain(resolve(value, variables))


def nested_expressions(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(JSON path, CEL source) of every `=expression` inside objects and lists."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from nested_expressions(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from nested_expressions(item, f"{path}[{i}]")
    elif is_expression(value):
        yield path, value[1:]


_JSON = TypeAdapter(Any)


def plain(value: Any) -> Any:
    """An expression's result as JSON: timestamps become RFC 3339 strings, durations ISO
    8601 ones. Variables and command payloads hold only JSON, so a state saved and
    restored is the state that was saved."""
    try:
        return _JSON.dump_python(value, mode="json")
    except (ValueError, TypeError) as error:  # bytes that are not UTF-8, and the like
        raise ExpressionError(f"result {value!r} is not JSON: {error}") from None


# A string literal (skipped, so quoted text cannot bind a name) or the start of
# a comprehension macro call, capturing the name it binds.
_MACRO_BINDING = re.compile(
    r"""(?:[rRbB]{0,2}(?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))"""
    r"|\.\s*(?:all|exists_one|exists|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,"
)


def referenced_variables(source: str) -> set[str]:
    """The variables an expression reads from the instance.

    CEL also reports the names bound by comprehension macros (the `x` in
    `items.exists(x, x > 3)`) as variables, so those are taken out. A name used
    both as a variable and as a macro's binding is taken out as well.
    """
    names = set(compile_expression(source).variables())
    bound = {match.group(1) for match in _MACRO_BINDING.finditer(source) if match.group(1)}
    return names - bound
