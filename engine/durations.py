"""Time values as the definition format writes them: ISO 8601 durations (`P2D`,
`PT30S`) and RFC 3339 timestamps (`2025-03-10T17:00:00Z`)."""

from datetime import datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from engine.expressions import is_expression

_TIMEDELTA = TypeAdapter(timedelta)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration; a month counts as 30 days and a year as 365.

    Raises ValueError for anything else, including the `HH:MM:SS` form that
    pydantic would also accept: the format promises ISO 8601 only.
    """
    try:
        if text.startswith("P"):
            return _TIMEDELTA.validate_python(text)
    except ValidationError:
        pass
    raise ValueError(f"{text!r} is not an ISO 8601 duration such as 'P2D' or 'PT30M'")


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; it must say its offset, since the engine has no
    local time zone to assume."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in text.upper():
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp such as '2025-03-10T17:00:00Z'")
    return moment


def check_duration(value: str | None, *, positive: bool = False) -> str | None:
    """A definition's duration field: a literal must parse (and be above zero when
    `positive`); an `=expression` is checked when it is evaluated."""
    if value is None or is_expression(value):
        return value
    if parse_duration(value) <= timedelta(0) and positive:
        raise ValueError(f"{value!r} is not a positive duration")
    return value
