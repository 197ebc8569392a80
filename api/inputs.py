"""What a client may send in a JSON value or a string, checked once at the edge.

PostgreSQL cannot store a NUL character (text or jsonb) nor an unpaired surrogate, and
JSON cannot carry NaN or an infinity; asyncpg, orjson and CEL take integers of 64 bits
at most. A value past any of these would fail where it is written, which for a start or
a variables change is inside a workflow that then retries its write forever. So they are
refused before anything is written or sent to Temporal, naming where they were found."""

from __future__ import annotations

import math
from typing import Any

from api.errors import BadUserInput

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
# Deep enough for any definition, form or variables document; shallow enough that no
# recursive walk on the way (JSON Schema, CEL, Temporal's converter) comes near Python's
# recursion limit.
DEFAULT_MAX_DEPTH = 64


def string_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    if "\x00" in value:
        return "must not contain the NUL character (\\u0000)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain an unpaired surrogate (invalid Unicode)"
    return None


def int_problem(value: int) -> str | None:
    if not INT_MIN <= value <= INT_MAX:
        return f"integers must fit in 64 bits (between {INT_MIN} and {INT_MAX})"
    return None


def float_problem(value: float) -> str | None:
    return None if math.isfinite(value) else "numbers must be finite (no NaN or Infinity)"


def check_value(value: Any, field: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Refuse `value` (a decoded JSON value or a string) with BAD_USER_INPUT naming the
    path of the first part that cannot be stored, e.g. `variables.items[2].note`.

    Iterative, so that a deeply nested value is refused rather than crashing the walk."""
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            problem = string_problem(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            problem = int_problem(item)
        elif isinstance(item, float):
            problem = float_problem(item)
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise BadUserInput(f"{path}: nested deeper than {max_depth} levels", field=path)
            if isinstance(item, list):
                stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
                continue
            for key, v in item.items():
                if isinstance(key, str) and (why := string_problem(key)):
                    raise BadUserInput(f"{path}: a key {why}", field=path)
                stack.append((v, f"{path}.{key}", depth + 1))
            continue
        else:
            continue
        if problem is not None:
            raise BadUserInput(f"{path}: {problem}", field=path)
