"""Domain errors. Each knows the GraphQL `extensions.code` it is reported with;
anything else that escapes a resolver is masked as INTERNAL."""

from __future__ import annotations

from typing import Any, ClassVar


class FlowdeskError(Exception):
    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class BadUserInput(FlowdeskError):
    code = "BAD_USER_INPUT"


class Unauthenticated(FlowdeskError):
    code = "UNAUTHENTICATED"


class Forbidden(FlowdeskError):
    code = "FORBIDDEN"


class NotFound(FlowdeskError):
    code = "NOT_FOUND"


class Conflict(FlowdeskError):
    code = "CONFLICT"


class SlowConsumer(FlowdeskError):
    """A subscriber fell too far behind its stream: it resubscribes from its cursor."""

    code = "SLOW_CONSUMER"


class Unavailable(FlowdeskError):
    """A dependency stayed unreachable past retrying: try again later."""

    code = "UNAVAILABLE"


class Unanswered(Unavailable):
    """Temporal gave no answer in time (it is away, or no worker runs): what was sent may
    still be applied, so the caller is told neither that it was nor that it failed."""
