"""The expressions other engines write, translated to CEL: the common subset of FEEL (Zeebe),
JUEL (Camunda 7, Flowable) and Python (SpiffWorkflow).

The subset is what conditions and mappings mostly are: variables and their fields, string,
number, boolean and null literals, lists, comparisons, arithmetic, `and` / `or` / `not` in
each dialect's spelling, and parentheses. CEL written in the dialect's place passes through
unchanged (`&&`, `==`, CEL's own functions), so a model written for Flowdesk keeps working.
Anything else (function and method calls, FEEL contexts, ranges and `if`, JUEL's `empty`,
Python's `lambda`) raises `Untranslatable` naming it; nothing is guessed.
"""

import re
from enum import Enum


class Dialect(Enum):
    FEEL = "FEEL"
    JUEL = "JUEL"
    PYTHON = "Python"


class Untranslatable(ValueError):
    """The expression is outside the subset; the message says what stands out."""


_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<operator>==|!=|<=|>=|&&|\|\||[-+*/%<>=!?:()\[\].,{}])
    """,
    re.VERBOSE,
)

# The spelling of `and`, `or` and `not`, and of the literals, in each dialect.
_WORDS: dict[Dialect, dict[str, str]] = {
    Dialect.FEEL: {"and": "&&", "or": "||", "true": "true", "false": "false", "null": "null"},
    Dialect.JUEL: {
        "and": "&&",
        "or": "||",
        "not": "!",
        "eq": "==",
        "ne": "!=",
        "lt": "<",
        "gt": ">",
        "le": "<=",
        "ge": ">=",
        "div": "/",
        "mod": "%",
        "in": "in",
        "true": "true",
        "false": "false",
        "null": "null",
    },
    Dialect.PYTHON: {
        "and": "&&",
        "or": "||",
        "not": "!",
        "in": "in",
        "True": "true",
        "False": "false",
        "None": "null",
        "true": "true",
        "false": "false",
        "null": "null",
    },
}
# Words of each dialect outside the subset, and what they are.
_REFUSED_WORDS: dict[Dialect, dict[str, str]] = {
    Dialect.FEEL: dict.fromkeys(
        (
            "if",
            "then",
            "else",
            "between",
            "instance",
            "some",
            "every",
            "for",
            "return",
            "satisfies",
            "function",
            "in",
        ),
        "FEEL's {word!r}",
    ),
    Dialect.JUEL: {
        "empty": "JUEL's 'empty'",
        "instanceof": "JUEL's 'instanceof'",
        "execution": "the Java execution object",
        "task": "the Java task object",
    },
    Dialect.PYTHON: dict.fromkeys(
        ("if", "else", "lambda", "for", "is", "del", "import", "yield", "await"),
        "Python's {word!r}",
    ),
}
# Names CEL reserves: a variable so named cannot be read in CEL.
_CEL_RESERVED = frozenset(
    {
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
        "in",
    }
)
# CEL's own functions and methods: calls to them are CEL already.
_CEL_FUNCTIONS = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "exists",
        "exists_one",
        "all",
        "map",
        "filter",
        "has",
        "int",
        "uint",
        "double",
        "string",
        "bool",
        "bytes",
        "timestamp",
        "duration",
        "type",
        "dyn",
        "lowerAscii",
        "upperAscii",
        "trim",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getHours",
        "getMinutes",
        "getSeconds",
    }
)


# Flowable's variable functions (`var:equals(status, 'done')`) that are comparisons.
_VARIABLE_FUNCTION_PREFIXES = frozenset({"variables", "vars", "var"})
_VARIABLE_COMPARISONS = {
    "equals": "==",
    "eq": "==",
    "notEquals": "!=",
    "ne": "!=",
    "lowerThan": "<",
    "lt": "<",
    "lowerThanOrEquals": "<=",
    "lte": "<=",
    "le": "<=",
    "greaterThan": ">",
    "gt": ">",
    "greaterThanOrEquals": ">=",
    "gte": ">=",
    "ge": ">=",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def to_cel(text: str, dialect: Dialect) -> str:
    """`text`, an expression of `dialect` (without its `${...}` or `=` wrapper), as CEL."""
    tokens = _tokens(text)
    if dialect is Dialect.JUEL:
        tokens = _variable_functions(tokens)
    out: list[str] = []
    significant = [i for i, (kind, _) in enumerate(tokens) if kind != "space"]
    for position, index in enumerate(significant):
        kind, value = tokens[index]
        following = tokens[significant[position + 1]][1] if position + 1 < len(significant) else ""
        previous = tokens[significant[position - 1]][1] if position > 0 else ""
        out.append(_translated(kind, value, previous, following, dialect))
    # Spaces between tokens are kept as written; a word that became a symbol stays spaced.
    result: list[str] = []
    produced = iter(out)
    for kind, value in tokens:
        result.append(value if kind == "space" else next(produced))
    return "".join(result).strip()


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise Untranslatable(f"{text[position]!r} at position {position + 1}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group()))
        position = match.end()
    if not any(kind != "space" for kind, _ in tokens):
        raise Untranslatable("it is empty")
    return tokens


def _variable_functions(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Flowable's `var:get(x)` and comparison functions (`var:gt(amount, 100)`), each
    replaced by one token of the CEL it means."""
    result: list[tuple[str, str]] = []
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        if (
            kind == "name"
            and value in _VARIABLE_FUNCTION_PREFIXES
            and [v for _, v in tokens[index + 1 : index + 2]] == [":"]
            and index + 3 < len(tokens)
            and tokens[index + 2][0] == "name"
            and tokens[index + 3][1] == "("
        ):
            function = tokens[index + 2][1]
            arguments, index = _arguments(tokens, index + 4)
            result.append(("cel", _variable_function(f"{value}:{function}", function, arguments)))
            continue
        result.append((kind, value))
        index += 1
    return result


def _arguments(tokens: list[tuple[str, str]], start: int) -> tuple[list[str], int]:
    """The texts of the arguments of a call whose `(` is just before `start`, and the
    position after its `)`."""
    arguments: list[str] = []
    current: list[str] = []
    depth = 0
    for index in range(start, len(tokens)):
        kind, value = tokens[index]
        if kind == "operator" and value in "([{":
            depth += 1
        elif kind == "operator" and value in ")]}":
            if depth == 0:
                arguments.append("".join(current).strip())
                return [a for a in arguments if a], index + 1
            depth -= 1
        elif kind == "operator" and value == "," and depth == 0:
            arguments.append("".join(current).strip())
            current = []
            continue
        current.append(value)
    raise Untranslatable("an unclosed '('")


def _variable_function(name: str, function: str, arguments: list[str]) -> str:
    variable = arguments[0].strip("'\"") if arguments else ""
    if not _IDENTIFIER.match(variable) or variable in _CEL_RESERVED:
        raise Untranslatable(f"{name}(...) of {arguments[0] if arguments else 'nothing'!r}")
    if function == "get" and len(arguments) == 1:
        return variable
    if function in _VARIABLE_COMPARISONS and len(arguments) == 2:
        value = to_cel(arguments[1], Dialect.JUEL)
        return f"({variable} {_VARIABLE_COMPARISONS[function]} {value})"
    raise Untranslatable(f"the function {name}(...)")


def _translated(kind: str, value: str, previous: str, following: str, dialect: Dialect) -> str:
    if kind == "operator":
        return _operator(value, following, dialect)
    if kind != "name":
        return value
    if previous == ".":
        # A field, or a method when called.
        if following == "(" and value not in _CEL_FUNCTIONS:
            raise Untranslatable(f"the method call {value}(...)")
        return value
    if dialect is Dialect.FEEL and value == "not" and following == "(":
        return "!"
    if dialect is Dialect.FEEL and value == "in" and following != "(":
        return "in"  # a FEEL list test means what CEL's `in` does; `in (...)` is a range
    if dialect is Dialect.PYTHON and value == "not" and following == "in":
        raise Untranslatable("Python's 'not in': write !(x in list)")
    if value in _WORDS[dialect]:
        return _WORDS[dialect][value]
    if value in _REFUSED_WORDS[dialect]:
        raise Untranslatable(_REFUSED_WORDS[dialect][value].format(word=value))
    if following == "(" and value not in _CEL_FUNCTIONS:
        raise Untranslatable(f"the function call {value}(...)")
    if value in _CEL_RESERVED:
        raise Untranslatable(f"the variable {value!r}, a name CEL reserves: rename it")
    return value


def _operator(value: str, following: str, dialect: Dialect) -> str:
    if value == "=":
        if dialect is Dialect.FEEL:
            return "=="
        raise Untranslatable("'=' (an assignment)")
    if value == "{" and dialect is not Dialect.PYTHON:
        raise Untranslatable(f"a {dialect.value} context {{...}}")
    return value
