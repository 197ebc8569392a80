"""Every GraphQL error leaves with `extensions.code`; only domain errors keep their message."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from api.errors import FlowdeskError

log = logging.getLogger("flowdesk.errors")

# The codes GraphQL clients (Apollo's among them) know for a document the server could
# not parse, and for one that does not fit the schema or its limits.
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
# graphql-core ends a message about an unknown field, argument, type or enum value with
# the names it resembles: with introspection off, that would hand out the schema anyway.
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class ErrorCodes(MaskErrors):
    """Domain errors are reported with their code and details. Errors GraphQL itself
    raises are the client's: GRAPHQL_PARSE_FAILED while parsing (a syntax error, too many
    tokens), GRAPHQL_VALIDATION_FAILED while validating (an unknown field, depth, aliases,
    introspection when it is off), BAD_USER_INPUT while executing (a variable that does
    not coerce to its type, or is missing). Anything else is a bug or an outage, logged
    here and masked as INTERNAL.

    With `hide_suggestions`, messages leave without graphql-core's "Did you mean" names."""

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        super().__init__(should_mask_error=lambda _: True, error_message="internal error")
        self._client_code = "BAD_USER_INPUT"
        self._hide_suggestions = hide_suggestions

    def on_parse(self) -> Iterator[None]:
        self._client_code = PARSE_FAILED
        yield

    def on_validate(self) -> Iterator[None]:
        self._client_code = VALIDATION_FAILED
        yield

    def on_execute(self) -> Iterator[None]:
        self._client_code = "BAD_USER_INPUT"
        yield

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, FlowdeskError):
            return self._coded(
                error, original.message, {"code": original.code, **original.extensions}
            )
        # graphql-core wraps the error of a variable's coercion in another GraphQLError.
        if original is None or isinstance(original, GraphQLError):
            code = (error.extensions or {}).get("code", self._client_code)
            message = (
                _SUGGESTION.sub("", error.message) if self._hide_suggestions else error.message
            )
            return self._coded(error, message, {**(error.extensions or {}), "code": code})
        log.error("unexpected error at %s", error.path, exc_info=original)
        return self._coded(error, self.error_message, {"code": "INTERNAL"})

    @staticmethod
    def _coded(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=extensions,
        )
