"""Every GraphQL error leaves with `extensions.code`; only domain errors keep their message."""

from __future__ import annotations

import logging

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from api.errors import FlowdeskError

log = logging.getLogger("flowdesk.errors")


class ErrorCodes(MaskErrors):
    """Domain errors are reported with their code and details; errors GraphQL itself
    raises (syntax, validation, limits) are the client's: BAD_USER_INPUT; anything
    else is a bug or an outage, logged here and masked as INTERNAL."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda _: True, error_message="internal error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, FlowdeskError):
            return self._coded(
                error, original.message, {"code": original.code, **original.extensions}
            )
        if original is None:
            code = (error.extensions or {}).get("code", "BAD_USER_INPUT")
            return self._coded(error, error.message, {**(error.extensions or {}), "code": code})
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
