"""Prometheus metrics of the API and the worker, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

GRAPHQL_OPERATIONS = Histogram(
    "flowdesk_graphql_operation_seconds",
    "GraphQL operations by type and outcome, and how long they took.",
    ["operation_type", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GRAPHQL_ERRORS = Counter(
    "flowdesk_graphql_errors_total", "GraphQL errors by extensions.code.", ["code"]
)
TRANSITIONS = Counter(
    "flowdesk_transitions_total", "Instance transitions written to PostgreSQL by the worker."
)
ACTIONS = Counter(
    "flowdesk_service_actions_total",
    "Service task actions run, by action and outcome.",
    ["action", "outcome"],
)
