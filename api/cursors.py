"""Opaque keyset cursors: base64 of a small JSON array, the sort key of a row.

Each list says once how its cursor reads (a `Keyset`); its service encodes each row's
cursor and reads the client's back, so that resolvers never handle one.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa

from api.errors import BadUserInput
from api.inputs import check_value

RowT = TypeVar("RowT")

# One value of a cursor as JSON gave it, typed; TypeError or ValueError when it is not one.
Read = Callable[[Any], Any]


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def whole(value: Any) -> int:
    """A bigint (not a JSON boolean, which Python takes for an int)."""
    if type(value) is not int or not -(2**63) <= value < 2**63:
        raise ValueError(value)
    return value


def version(value: Any) -> int:
    if type(value) is not int or not 0 < value < 2**31:
        raise ValueError(value)
    return value


def moment(value: Any) -> datetime:
    return datetime.fromisoformat(text(value))


def row_id(value: Any) -> uuid.UUID:
    return uuid.UUID(text(value))


def as_given(value: Any) -> Any:
    """The value as JSON gave it, for a list that reads its values itself."""
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([_plain(v) for v in values])).decode()


@dataclass(frozen=True)
class Keyset:
    """How the cursor of one list reads: a `Read` per value of its rows' sort key, in
    order. A cursor that does not read is BAD_USER_INPUT naming `field`."""

    reads: tuple[Read, ...]
    field: str = "after"

    def cursor(self, *values: Any) -> str:
        assert len(values) == len(self.reads), values
        return encode_cursor(*values)

    def paged(
        self, rows: Sequence[RowT], key_of: Callable[[RowT], tuple[Any, ...]]
    ) -> list[tuple[RowT, str]]:
        """Each row with its cursor."""
        return [(row, self.cursor(*key_of(row))) for row in rows]

    def position(self, cursor: str | None) -> tuple[Any, ...] | None:
        """The sort key the client's cursor names; None for the first page."""
        if cursor is None:
            return None
        values = self._values(cursor)
        try:
            return tuple(read(v) for read, v in zip(self.reads, values, strict=True))
        except (TypeError, ValueError) as exc:
            raise BadUserInput("invalid cursor", field=self.field) from exc

    def _values(self, cursor: str) -> list[Any]:
        try:
            values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        except (binascii.Error, orjson.JSONDecodeError, ValueError) as exc:
            raise BadUserInput("invalid cursor", field=self.field) from exc
        if not isinstance(values, list) or len(values) != len(self.reads):
            raise BadUserInput("invalid cursor", field=self.field)
        # Its values go into SQL: what PostgreSQL cannot take is refused here, not there.
        try:
            check_value(values, self.field, max_depth=1)
        except BadUserInput as exc:
            raise BadUserInput("invalid cursor", field=self.field) from exc
        return values


SelectT = TypeVar("SelectT", bound="sa.Select[Any]")


def newest_first(
    query: SelectT, moment: Any, row_id: Any, position: tuple[Any, Any] | None, limit: int
) -> SelectT:
    """`query` newest first on (moment, row id), after `position`, at most `limit` rows: a
    keyset page that an index on (moment, id) serves whatever its depth."""
    if position is not None:
        query = query.where(sa.tuple_(moment, row_id) < sa.tuple_(*position))
    return query.order_by(moment.desc(), row_id.desc()).limit(limit)
