"""A list's keyset cursor reads back the sort key it was made from, typed; anything else a
client sends is BAD_USER_INPUT naming the argument, before it reaches SQL."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from api.cursors import Keyset, moment, row_id, text, version, whole
from api.errors import BadUserInput

BY_START = Keyset((moment, row_id))


def forged(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode()


def test_a_cursor_reads_back_the_key_it_was_made_from() -> None:
    at, key = datetime(2030, 1, 31, 17, 0, tzinfo=UTC), uuid.uuid4()
    assert BY_START.position(BY_START.cursor(at, key)) == (at, key)
    by_key = Keyset((text, version))
    assert by_key.position(by_key.cursor("leave_request", 3)) == ("leave_request", 3)


def test_no_cursor_is_the_first_page() -> None:
    assert BY_START.position(None) is None


def test_each_row_comes_with_its_own_cursor() -> None:
    by_id = Keyset((whole,))
    paged = by_id.paged([7, 5], lambda n: (n,))
    assert [(row, by_id.position(cursor)) for row, cursor in paged] == [(7, (7,)), (5, (5,))]


@pytest.mark.parametrize(
    ("keyset", "cursor"),
    [
        (BY_START, "not base64 at all!"),
        (BY_START, forged("2030-01-31T17:00:00+00:00")),  # too few values
        (BY_START, forged("yesterday", str(uuid.uuid4()))),
        (BY_START, forged("2030-01-31T17:00:00+00:00", "not-a-uuid")),
        (BY_START, forged(20300131, str(uuid.uuid4()))),
        (Keyset((text, version)), forged("k", 0)),
        (Keyset((text, version)), forged("k", 2**31)),
        (Keyset((text, version)), forged(["k"], 1)),
        (Keyset((whole,)), forged(True)),  # JSON true is no id
        (Keyset((whole,)), forged(2**63)),
        (Keyset((text,)), forged("a\u0000b")),
    ],
)
def test_a_cursor_that_does_not_read_is_bad_user_input(keyset: Keyset, cursor: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        keyset.position(cursor)
    assert refused.value.extensions["field"] == "after"


def test_the_refusal_names_the_argument_the_cursor_came_in() -> None:
    since = Keyset((whole, whole), field="since")
    with pytest.raises(BadUserInput) as refused:
        since.position(forged(1))
    assert refused.value.extensions["field"] == "since"
