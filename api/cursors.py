"""Opaque Relay cursors: base64 of a small JSON array of the sort key of a row."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

import orjson

from api.errors import BadUserInput
from api.inputs import check_value


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode()


def decode_cursor(cursor: str, arity: int, *, field: str = "after") -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError) as exc:
        raise BadUserInput("invalid cursor", field=field) from exc
    if not isinstance(values, list) or len(values) != arity:
        raise BadUserInput("invalid cursor", field=field)
    # Its values go into SQL: what PostgreSQL cannot take is refused here, not there.
    try:
        check_value(values, field, max_depth=1)
    except BadUserInput as exc:
        raise BadUserInput("invalid cursor", field=field) from exc
    return values


def encode_moment(at: datetime, row_id: uuid.UUID) -> str:
    """The cursor of a row in a list ordered by (a timestamp, id)."""
    return encode_cursor(at.isoformat(), str(row_id))


def decode_moment(cursor: str, *, field: str = "after") -> tuple[datetime, uuid.UUID]:
    at, row_id = decode_cursor(cursor, 2, field=field)
    try:
        return datetime.fromisoformat(at), uuid.UUID(row_id)
    except (TypeError, ValueError) as exc:
        raise BadUserInput("invalid cursor", field=field) from exc
