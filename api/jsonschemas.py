"""JSON Schema checks for definitions' variable schemas and tasks' forms."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from api.errors import BadUserInput


def variables_given(variables: Any) -> dict[str, Any]:
    """Variables as a caller sent them: none is no variables, and anything but a JSON
    object is refused."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise BadUserInput("variables must be a JSON object", field="variables")
    return variables


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why `schema` is not a valid JSON Schema, or None."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return str(exc.message)
    return None


def validation_errors(
    schema: dict[str, Any] | None, document: dict[str, Any]
) -> list[dict[str, str]]:
    """Every way `document` fails `schema`, each naming its field (a JSON path)."""
    if not schema:
        return []
    validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    errors = sorted(validator.iter_errors(document), key=lambda e: e.json_path)
    return [{"field": _field(error), "message": error.message} for error in errors]


def _field(error: ValidationError) -> str:
    path = error.json_path
    # A missing required property is reported on its parent object; name the property.
    if error.validator == "required" and isinstance(error.instance, dict):
        for name in error.validator_value:
            if name not in error.instance and repr(name) in error.message:
                path = f"{path}.{name}"
                break
    return path.removeprefix("$.") if path != "$" else "$"


@lru_cache(maxsize=1024)
def _validator(schema_json: bytes) -> Draft202012Validator:
    # Formats are checked too (date-time, date, email, uri, ...): JSON Schema 2020-12 makes
    # them annotations by default, and a start variable "next tuesday" for a date-time
    # would otherwise pass here and fail later, inside a running instance.
    return Draft202012Validator(
        orjson.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
