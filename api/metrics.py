"""Prometheus metrics of the API and the worker, served at /metrics.

Each process counts what it does itself: the API its GraphQL operations, sockets,
subscriptions and deliveries; the worker its transitions, instances, actions and the task
queue's backlog; both their database pool and what they publish to Redis."""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

# Live delivery is meant to be sub-second; the tail shows polling (1 s) and worse.
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Instances last from milliseconds (straight-through processes) to weeks (human steps).
_DURATION_BUCKETS = (0.1, 1, 10, 60, 300, 1800, 3600, 4 * 3600, 86400, 7 * 86400, 30 * 86400)

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

WEBSOCKETS_OPEN = Gauge(
    "flowdesk_websockets_open", "graphql-transport-ws connections open in this process."
)
SUBSCRIPTIONS_OPEN = Gauge(
    "flowdesk_subscriptions_open",
    "Subscriptions being served (websocket or SSE), by kind: task or instance.",
    ["kind"],
)
PUBLISH_LAG = Histogram(
    "flowdesk_event_publish_lag_seconds",
    "From a change's commit to Redis accepting its notices (published right after it).",
    buckets=_LAG_BUCKETS,
)
PUBLISH_FAILURES = Counter(
    "flowdesk_event_publish_failures_total",
    "Batches of notices Redis did not take (subscribers then find the events by polling).",
)
DELIVERY_LAG = Histogram(
    "flowdesk_event_delivery_lag_seconds",
    "From a live event's time to its hand-over to a subscriber's socket, by kind.",
    ["kind"],
    buckets=_LAG_BUCKETS,
)

INSTANCES_STARTED = Counter(
    "flowdesk_instances_started_total", "Instances started, by definition key.", ["definition"]
)
INSTANCES_ENDED = Counter(
    "flowdesk_instances_ended_total",
    "Instances that ended, by definition key and status (COMPLETED, CANCELLED).",
    ["definition", "status"],
)
INSTANCE_DURATION = Histogram(
    "flowdesk_instance_duration_seconds",
    "From an instance's start to its end, by definition key and final status.",
    ["definition", "status"],
    buckets=_DURATION_BUCKETS,
)
INCIDENTS = Counter(
    "flowdesk_incidents_total",
    "Incidents raised (a service task or child failed past its retries), by definition key.",
    ["definition"],
)
ACTIVITY_RETRIES = Counter(
    "flowdesk_activity_retries_total",
    "Activity attempts after the first, by activity and (for service tasks) action.",
    ["activity", "action"],
)
TASK_QUEUE_BACKLOG = Gauge(
    "flowdesk_task_queue_backlog",
    "Tasks waiting on the Temporal task queue for a worker, as the server estimates it.",
    ["task_queue", "type"],
)
TASK_QUEUE_BACKLOG_AGE = Gauge(
    "flowdesk_task_queue_backlog_age_seconds",
    "Age of the oldest task waiting on the Temporal task queue.",
    ["task_queue", "type"],
)


class PoolCollector(Collector):
    """The connection pools of this process's engines, read when scraped (summed when a
    process has several): in use, idle, opened beyond the pool size, and the ceiling."""

    def __init__(self) -> None:
        self._engines: weakref.WeakKeyDictionary[AsyncEngine, int] = weakref.WeakKeyDictionary()

    def track(self, engine: AsyncEngine, max_overflow: int) -> None:
        self._engines[engine] = max_overflow

    def collect(self) -> Iterator[GaugeMetricFamily]:
        checked_out = idle = overflow = size = ceiling = 0
        for engine, max_overflow in list(self._engines.items()):
            # dispose() replaces the pool: read the current one.
            pool = engine.sync_engine.pool
            if not isinstance(pool, QueuePool):
                continue
            checked_out += pool.checkedout()
            idle += pool.checkedin()
            # Negative while the pool has not opened `size` connections yet.
            overflow += max(pool.overflow(), 0)
            size += pool.size()
            ceiling += pool.size() + max_overflow
        yield GaugeMetricFamily(
            "flowdesk_db_pool_checked_out", "Database connections in use.", checked_out
        )
        yield GaugeMetricFamily(
            "flowdesk_db_pool_idle", "Database connections idle in the pool.", idle
        )
        yield GaugeMetricFamily(
            "flowdesk_db_pool_overflow", "Database connections open beyond the pool size.", overflow
        )
        yield GaugeMetricFamily("flowdesk_db_pool_size", "Configured pool size.", size)
        yield GaugeMetricFamily(
            "flowdesk_db_pool_max_connections",
            "Most connections the pool opens (size plus overflow); checkouts beyond wait.",
            ceiling,
        )


POOLS = PoolCollector()
REGISTRY.register(POOLS)
