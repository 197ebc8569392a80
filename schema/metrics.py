"""Records every GraphQL operation's duration, outcome and error codes."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from api.metrics import GRAPHQL_ERRORS, GRAPHQL_OPERATIONS


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        errors = getattr(context.result, "errors", None) or []
        for error in errors:
            GRAPHQL_ERRORS.labels((error.extensions or {}).get("code", "INTERNAL")).inc()
        kind = context.operation_type.value if context.operation_type else "unknown"
        GRAPHQL_OPERATIONS.labels(kind, "error" if errors else "ok").observe(
            time.perf_counter() - started
        )
