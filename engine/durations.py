"""ISO 8601 durations, as the definition format writes them (`P2D`, `PT30S`)."""

from datetime import timedelta

from pydantic import TypeAdapter, ValidationError

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
