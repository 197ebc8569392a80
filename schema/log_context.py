"""Names the GraphQL operation in every line logged while it runs (api/logs.py)."""

from __future__ import annotations

from collections.abc import Iterator

import structlog
from strawberry.extensions import SchemaExtension


class OperationLogContext(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        # Known once the document is parsed: on_execute runs after parsing and validation.
        # Left bound, so the request's own line names it too; the request clears it.
        name = self.execution_context.operation_name
        structlog.contextvars.bind_contextvars(operation=name or "anonymous")
        yield
