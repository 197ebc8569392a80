"""FEEL, JUEL and SpiffWorkflow's Python expressions translated to CEL: the common subset
exactly, CEL unchanged, and everything else refused by name."""

import pytest

from engine.expression_dialects import Dialect, Untranslatable, to_cel
from engine.expressions import compile_expression

FEEL, JUEL, PYTHON = Dialect.FEEL, Dialect.JUEL, Dialect.PYTHON


@pytest.mark.parametrize(
    ("dialect", "text", "cel"),
    [
        (FEEL, 'status = "approved"', 'status == "approved"'),
        (FEEL, "amount != 100", "amount != 100"),
        (FEEL, "amount >= 1000 and risk < 0.5", "amount >= 1000 && risk < 0.5"),
        (FEEL, "vip or total > 10", "vip || total > 10"),
        (FEEL, "not(approved)", "!(approved)"),
        (FEEL, 'order.customer.tier = "gold"', 'order.customer.tier == "gold"'),
        (FEEL, 'region in ["EU", "UK"]', 'region in ["EU", "UK"]'),
        (FEEL, "region in allowed", "region in allowed"),
        (FEEL, "x = null", "x == null"),
        (FEEL, "count + 1", "count + 1"),
        (JUEL, "approved == true", "approved == true"),
        (JUEL, "amount gt 100 and not rejected", "amount > 100 && ! rejected"),
        (JUEL, "a eq 'b' or c ne 2", "a == 'b' || c != 2"),
        (JUEL, "x le 1 && y ge 2", "x <= 1 && y >= 2"),
        (JUEL, "!done", "!done"),
        (JUEL, "total div 2 mod 3", "total / 2 % 3"),
        (JUEL, "vip ? 1 : 2", "vip ? 1 : 2"),
        (PYTHON, "approved == True", "approved == true"),
        (PYTHON, "reason == None", "reason == null"),
        (PYTHON, "a > 1 and not b", "a > 1 && ! b"),
        (PYTHON, "choice in ['yes', 'maybe']", "choice in ['yes', 'maybe']"),
        (PYTHON, "form['kind'] == 'loan'", "form['kind'] == 'loan'"),
        # CEL written where the dialect goes passes through unchanged.
        (
            FEEL,
            'size(items) > 0 && name.startsWith("A")',
            'size(items) > 0 && name.startsWith("A")',
        ),
        (JUEL, "a == 'b' || !c", "a == 'b' || !c"),
        (PYTHON, "x == 1 || y", "x == 1 || y"),
    ],
)
def test_the_common_subset_becomes_cel_that_compiles(dialect: Dialect, text: str, cel: str) -> None:
    assert to_cel(text, dialect) == cel
    compile_expression(cel)


@pytest.mark.parametrize(
    ("dialect", "text", "reason"),
    [
        (FEEL, "if a then b else c", "FEEL's 'if'"),
        (FEEL, "x between 1 and 5", "FEEL's 'between'"),
        (FEEL, "{total: a + b}", "a FEEL context {...}"),
        (FEEL, "count(items) > 2", "the function call count(...)"),
        (FEEL, "x in (1..5)", "FEEL's 'in'"),
        (JUEL, "execution.getVariable('x')", "the Java execution object"),
        (JUEL, "order.isPaid()", "the method call isPaid(...)"),
        (JUEL, "empty list", "JUEL's 'empty'"),
        (JUEL, "a = 1", "'=' (an assignment)"),
        (PYTHON, "x is None", "Python's 'is'"),
        (PYTHON, "a not in b", "Python's 'not in'"),
        (PYTHON, "len(items) > 0", "the function call len(...)"),
        (PYTHON, "lambda: 1", "Python's 'lambda'"),
        (PYTHON, "var == 1", "the variable 'var', a name CEL reserves"),
        (FEEL, "a # b", "'#' at position 3"),
        (FEEL, "   ", "it is empty"),
    ],
)
def test_what_is_outside_the_subset_is_refused_naming_it(
    dialect: Dialect, text: str, reason: str
) -> None:
    with pytest.raises(Untranslatable) as refused:
        to_cel(text, dialect)
    assert str(refused.value).startswith(reason)


def test_strings_keep_their_content_even_when_it_looks_like_an_operator() -> None:
    assert to_cel('note = "a = b and not(c)"', FEEL) == 'note == "a = b and not(c)"'
    assert to_cel("x == 'it\\'s and'", PYTHON) == "x == 'it\\'s and'"


@pytest.mark.parametrize(
    ("text", "cel"),
    [
        ("vars:equals(decision, 'goUp')", "(decision == 'goUp')"),
        ("var:lt('myVar', 10) && ready", "(myVar < 10) && ready"),
        ("variables:get(total) > 1", "total > 1"),
        ("var:greaterThanOrEquals(amount, var:get(limit))", "(amount >= limit)"),
        ('var:notEquals(state, "x") or var:gte(n, 2)', '(state != "x") || (n >= 2)'),
    ],
)
def test_flowable_variable_functions_become_comparisons(text: str, cel: str) -> None:
    assert to_cel(text, JUEL) == cel
    compile_expression(cel)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("var:exists(a)", "the function var:exists(...)"),
        ("var:equals(a)", "the function var:equals(...)"),
        ("var:eq('not a name', 1)", "var:eq(...) of \"'not a name'\""),
        ("var:eq(a, 1", "an unclosed '('"),
    ],
)
def test_other_variable_functions_are_refused(text: str, reason: str) -> None:
    with pytest.raises(Untranslatable) as refused:
        to_cel(text, JUEL)
    assert str(refused.value) == reason
