"""CEL expressions: compiled once, failures named, literals left alone."""

from datetime import timedelta

import pytest

from engine.durations import parse_duration
from engine.expressions import (
    ExpressionError,
    compile_expression,
    evaluate,
    is_expression,
    referenced_variables,
    resolve,
)


def test_each_expression_compiles_once() -> None:
    assert compile_expression("days > 3 && approved") is compile_expression("days > 3 && approved")


def test_evaluates_over_the_variables() -> None:
    assert evaluate("days > 3 && approved", {"days": 5, "approved": True}) is True


def test_compile_error_names_the_expression() -> None:
    with pytest.raises(ExpressionError, match="days >"):
        evaluate("days >", {"days": 5})


@pytest.mark.parametrize(
    ("source", "variables"),
    [("missing + 1", {}), ("a + 'x'", {"a": 1}), ("1 / a", {"a": 0}), ("m.b", {"m": {}})],
)
def test_evaluation_error_names_the_expression(source: str, variables: dict[str, object]) -> None:
    with pytest.raises(ExpressionError, match=source.split()[0]):
        evaluate(source, variables)


def test_only_strings_starting_with_equals_are_expressions() -> None:
    assert is_expression("=manager")
    assert not is_expression("manager")
    assert not is_expression(50)
    assert not is_expression(None)


def test_resolve_evaluates_expressions_and_keeps_literals() -> None:
    variables = {"manager": "bob"}
    assert resolve("=manager", variables) == "bob"
    assert resolve("manager", variables) == "manager"
    assert resolve(50, variables) == 50


def test_comprehension_names_are_not_referenced_variables() -> None:
    source = (
        "items.exists(x, x > limit) && a.all(y, y) && b.exists_one(z, z)"
        " && c.map(m, m + 1).size() > 0 && d.filter(f, f).size() > 0"
    )
    assert referenced_variables(source) == {"items", "limit", "a", "b", "c", "d"}


def test_macro_text_inside_a_string_binds_nothing() -> None:
    assert referenced_variables("note == '.exists(x, ' || x") == {"note", "x"}


def test_durations_are_iso_8601() -> None:
    assert parse_duration("P2D") == timedelta(days=2)
    assert parse_duration("PT30S") == timedelta(seconds=30)
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration("00:30:00")
